/** The DHT's signed records and its store: signatures, keys, expiry, the sequence rule, and every bound. */
import assert from "node:assert/strict";
import {
  DhtStore,
  MAX_RECORD_LIFETIME_MS,
  RecordError,
  recordKey,
  signRecord,
  topicKey,
  verifyRecord,
} from "../lib/dht/mod.ts";
import { Identity } from "../lib/identity.ts";

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const owner = Identity.generate();
const bytes = (text: string) => new TextEncoder().encode(text);

function code(fn: () => void): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof RecordError) return error.code;
    throw error;
  }
  return undefined;
}

Deno.test("a signed record verifies under its key; a changed byte, another key, expiry or a far expiry refuse it", () => {
  const record = signRecord(owner, "profile", bytes("hello"), 1, NOW, HOUR);
  const key = recordKey(owner.publicKey, "profile");
  assert.equal(code(() => verifyRecord(record, key, NOW)), undefined);
  assert.equal(code(() => verifyRecord({ ...record, value: bytes("hellp") }, key, NOW)), "BAD_SIGNATURE");
  assert.equal(code(() => verifyRecord({ ...record, seq: 2 }, key, NOW)), "BAD_SIGNATURE");
  assert.equal(code(() => verifyRecord(record, recordKey(owner.publicKey, "other"), NOW)), "WRONG_KEY");
  const stranger = Identity.generate();
  // Another key's signature over the same fields, presented as the owner's: the key still names the owner.
  const forged = signRecord(stranger, "profile", bytes("hello"), 1, NOW, HOUR);
  assert.equal(code(() => verifyRecord({ ...forged, publicKey: owner.publicKey }, key, NOW)), "BAD_SIGNATURE");
  assert.equal(code(() => verifyRecord(record, key, NOW + HOUR)), "EXPIRED");
  assert.equal(code(() => signRecord(owner, "profile", bytes("x"), 1, NOW, MAX_RECORD_LIFETIME_MS + 1)), "BAD_RECORD");
  assert.equal(code(() => signRecord(owner, "", bytes("x"), 1, NOW, HOUR)), "BAD_RECORD");
  assert.equal(code(() => signRecord(owner, "n", new Uint8Array(1025), 1, NOW, HOUR)), "BAD_RECORD");
  assert.equal(code(() => signRecord(owner, "n".repeat(65), bytes("x"), 1, NOW, HOUR)), "BAD_RECORD");
  // A record claiming to live far longer than a day from now is refused even with a valid signature.
  const far = { ...record, expiresAt: NOW + 2 * MAX_RECORD_LIFETIME_MS };
  assert.equal(code(() => verifyRecord(far, key, NOW)), "BAD_RECORD");
  assert.notDeepEqual(topicKey("chat"), topicKey("chat2"));
  assert.equal(topicKey("chat").length, 32);
});

Deno.test("the sequence rule: a higher number replaces, a lower one or a conflicting equal one is refused", () => {
  const store = new DhtStore();
  const key = recordKey(owner.publicKey, "n");
  const v1 = signRecord(owner, "n", bytes("one"), 1, NOW, HOUR);
  const v2 = signRecord(owner, "n", bytes("two"), 2, NOW, HOUR);
  const v2b = signRecord(owner, "n", bytes("two, again"), 2, NOW, HOUR);
  assert.equal(store.put(key, v1, "v4:127.0.0", NOW), "stored");
  assert.equal(store.put(key, v1, "v4:127.0.0", NOW), "unchanged");
  assert.equal(store.put(key, v2, "v4:127.0.0", NOW), "replaced");
  assert.equal(store.put(key, v1, "v4:127.0.0", NOW), "STALE_SEQ");
  assert.equal(store.put(key, v2b, "v4:127.0.0", NOW), "CONFLICT");
  assert.equal(new TextDecoder().decode(store.get(key, NOW)!.value), "two");
  assert.equal(store.get(key, NOW + HOUR), undefined, "expired records are gone");
  assert.deepEqual(store.sizes, { records: 0, recordBytes: 0, providers: 0 });
});

Deno.test("store bounds: per owner, per source subnet, in total and in bytes; a full store evicts nothing", () => {
  const store = new DhtStore({ maxRecords: 5, maxRecordsPerOwner: 2, maxPerSourceSubnet: 3, maxRecordBytes: 100 });
  const put = (identity: Identity, name: string, subnet: string, size = 1) =>
    store.put(
      recordKey(identity.publicKey, name),
      signRecord(identity, name, new Uint8Array(size), 0, NOW, HOUR),
      subnet,
      NOW,
    );
  assert.deepEqual(["a", "b", "c"].map((n) => put(owner, n, "s1")), ["stored", "stored", "FULL"], "two per owner");
  const others = Array.from({ length: 6 }, () => Identity.generate());
  assert.equal(put(others[0], "a", "s1"), "stored");
  assert.equal(put(others[1], "a", "s1"), "FULL", "three per source subnet");
  assert.equal(put(others[1], "a", "s2"), "stored");
  assert.equal(put(others[2], "a", "s3", 200), "FULL", "over the bytes bound");
  assert.equal(put(others[2], "a", "s3"), "stored");
  assert.equal(put(others[3], "a", "s4"), "FULL", "five in total");
  assert.equal(store.sizes.records, 5);
  store.prune(NOW + HOUR);
  assert.equal(store.sizes.records, 0);
  assert.equal(put(others[3], "a", "s4"), "stored", "room again once expired");
});

Deno.test("provider records: refreshed in place, bounded per key, per provider and per source, expired on prune", () => {
  const store = new DhtStore({ maxProvidersPerKey: 2, maxKeysPerProvider: 2, maxPerSourceSubnet: 10 });
  const chat = topicKey("chat");
  const provider = (n: number, expiresAt = NOW + HOUR) => ({
    nodeId: `${n}`.padStart(64, "0"),
    address: `127.0.0.${n}:7400`,
    expiresAt,
  });
  assert.ok(store.addProvider(chat, provider(1), "s1", NOW));
  assert.ok(store.addProvider(chat, provider(2), "s2", NOW));
  assert.ok(!store.addProvider(chat, provider(3), "s3", NOW), "two per key");
  assert.ok(store.addProvider(chat, provider(1, NOW + 2 * HOUR), "s1", NOW), "a refresh is no new entry");
  assert.deepEqual(store.providers(chat, NOW, 10).map((p) => p.address), ["127.0.0.1:7400", "127.0.0.2:7400"]);
  assert.ok(store.addProvider(topicKey("a"), provider(1), "s1", NOW));
  assert.ok(!store.addProvider(topicKey("b"), provider(1), "s1", NOW), "two keys per provider");
  assert.deepEqual(store.providers(chat, NOW + HOUR, 10).map((p) => p.address), ["127.0.0.1:7400"]);
  store.prune(NOW + 3 * HOUR);
  assert.equal(store.sizes.providers, 0);
});
