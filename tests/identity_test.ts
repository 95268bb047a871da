import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fromHex, toHex } from "../lib/bytes.ts";
import { IdentityError } from "../lib/errors.ts";
import {
  Identity,
  KEY_FILE_NAME,
  loadIdentity,
  loadOrCreateIdentity,
  nodeIdFromPublicKey,
  saveIdentity,
} from "../lib/identity.ts";

const RFC_SECRET = fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!;

function assertIdentityError(error: unknown, code: string, mentions: string) {
  assert.ok(error instanceof IdentityError, `expected IdentityError, got ${error}`);
  assert.equal(error.code, code, error.message);
  assert.ok(error.message.includes(mentions), `message should name ${mentions}: ${error.message}`);
  assert.ok(!error.message.includes("\n"), "one line");
}

Deno.test("the node id is the lowercase hex SHA-256 of the public key, deterministically", () => {
  const identity = Identity.fromSecretKey(RFC_SECRET);
  const expected = createHash("sha256").update(identity.publicKey).digest("hex");
  assert.equal(identity.nodeId, expected);
  assert.equal(nodeIdFromPublicKey(identity.publicKey), expected);
  assert.equal(Identity.fromSecretKey(RFC_SECRET).nodeId, identity.nodeId);
  assert.match(identity.nodeId, /^[0-9a-f]{64}$/);
  assert.equal(toHex(identity.publicKey), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
});

Deno.test("generated identities differ, sign, and verify only their own signatures", () => {
  const a = Identity.generate(), b = Identity.generate();
  assert.notEqual(a.nodeId, b.nodeId);
  const message = new TextEncoder().encode("hello");
  const signature = a.sign(message);
  assert.equal(Identity.verify(signature, message, a.publicKey), true);
  assert.equal(Identity.verify(signature, message, b.publicKey), false);
  assert.equal(Identity.verify(signature, new TextEncoder().encode("hellp"), a.publicKey), false);
});

Deno.test("a secret key that is not 32 bytes is refused", () => {
  assert.throws(() => Identity.fromSecretKey(new Uint8Array(31)), IdentityError);
});

Deno.test("a saved identity loads back identical, from a file of mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${KEY_FILE_NAME}`;
    const identity = Identity.generate();
    await saveIdentity(identity, path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const loaded = await loadIdentity(path);
    assert.equal(loaded.nodeId, identity.nodeId);
    assert.deepEqual(loaded.exportSecretKey(), identity.exportSecretKey());
    // No temporary files are left behind.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [KEY_FILE_NAME]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an existing key file is never replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${KEY_FILE_NAME}`;
    const first = Identity.generate();
    await saveIdentity(first, path);
    await saveIdentity(Identity.generate(), path).then(
      () => assert.fail("saveIdentity replaced an existing key"),
      (error) => assertIdentityError(error, "KEY_EXISTS", path),
    );
    assert.equal((await loadIdentity(path)).nodeId, first.nodeId);
    const again = await loadOrCreateIdentity(dir);
    assert.equal(again.created, false);
    assert.equal(again.identity.nodeId, first.nodeId);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity creates the directory (0700) and key on first use, then reuses them", async () => {
  const parent = await Deno.makeTempDir();
  try {
    const dir = `${parent}/data`;
    const created = await loadOrCreateIdentity(dir);
    assert.equal(created.created, true);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    const reloaded = await loadOrCreateIdentity(dir);
    assert.equal(reloaded.created, false);
    assert.equal(reloaded.identity.nodeId, created.identity.nodeId);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a group- or world-readable key file is refused with a line naming the file and the fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${KEY_FILE_NAME}`;
    await saveIdentity(Identity.generate(), path);
    for (const mode of [0o640, 0o604, 0o644]) {
      await Deno.chmod(path, mode);
      await loadIdentity(path).then(
        () => assert.fail(`mode ${mode.toString(8)} was accepted`),
        (error) => {
          assertIdentityError(error, "KEY_PERMISSIONS", path);
          assert.ok(error.message.includes("chmod 600"));
        },
      );
      // A bad key is an error, not a reason to make a new identity.
      await loadOrCreateIdentity(dir).then(() => assert.fail("loadOrCreateIdentity ignored a bad key"), () => {});
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("truncated or malformed key files are refused with a line naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${KEY_FILE_NAME}`;
    await saveIdentity(Identity.generate(), path);
    const good = await Deno.readTextFile(path);
    const parsed = JSON.parse(good);
    const variants = [
      good.slice(0, good.length / 2), // truncated
      "",
      "not json",
      JSON.stringify({ ...parsed, kith: "something-else" }),
      JSON.stringify({ ...parsed, version: 2 }),
      JSON.stringify({ ...parsed, secretKey: parsed.secretKey.slice(2) }),
      JSON.stringify({ ...parsed, secretKey: "zz" + parsed.secretKey.slice(2) }),
      JSON.stringify({ ...parsed, publicKey: "00".repeat(32) }),
      JSON.stringify({ ...parsed, nodeId: "00".repeat(32) }),
    ];
    for (const text of variants) {
      await Deno.writeTextFile(path, text, { mode: 0o600 });
      await loadIdentity(path).then(
        () => assert.fail(`accepted: ${text.slice(0, 40)}`),
        (error) => assertIdentityError(error, "KEY_MALFORMED", path),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
