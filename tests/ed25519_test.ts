import assert from "node:assert/strict";
import * as ed from "@noble/ed25519";
import { fromHex, sha512, toHex } from "../lib/bytes.ts";
import {
  defaultBackend,
  type Ed25519Backend,
  isAcceptablePointEncoding,
  nativeBackend,
  nobleBackend,
  publicKeyFromSecret,
} from "../lib/ed25519.ts";
import { randomBytes, seededRandom } from "../lib/random.ts";

const hex = (s: string) => fromHex(s)!;
const backends: Ed25519Backend[] = [nativeBackend, nobleBackend];

/** RFC 8032 section 7.1, tests 1-3 and SHA(abc). */
const RFC8032 = [
  {
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
  {
    secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    public: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    message:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    signature:
      "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
  },
];

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const numberLE = (b: Uint8Array) => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
const bytesLE = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n));

Deno.test("RFC 8032 vectors: both backends derive the key, sign identically and verify", () => {
  for (const v of RFC8032) {
    assert.equal(toHex(publicKeyFromSecret(hex(v.secret))), v.public);
    for (const backend of backends) {
      assert.equal(toHex(backend.sign(hex(v.secret), hex(v.message))), v.signature, backend.name);
      assert.equal(backend.verify(hex(v.signature), hex(v.message), hex(v.public)), true, backend.name);
    }
  }
});

Deno.test("the fast path is node:crypto on Deno", () => {
  assert.equal(defaultBackend.name, "node:crypto");
});

/** Cases where Ed25519 implementations are known to disagree, each refused by both kith backends. */
function edgeCases(): { name: string; signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array }[] {
  const v = RFC8032[1];
  const secret = hex(v.secret);
  const message = hex(v.message);
  const signature = hex(v.signature);
  const publicKey = hex(v.public);
  const cases = [];
  // S + L: the same signature with a non-reduced scalar (malleability).
  const sPlusL = signature.slice();
  sPlusL.set(bytesLE(numberLE(signature.subarray(32)) + L), 32);
  cases.push({ name: "S >= L", signature: sPlusL, message, publicKey });
  // Small-order public keys with a signature made of R = identity, S = 0,
  // which a cofactored or lax verifier accepts for any message.
  const identity = hex("0100000000000000000000000000000000000000000000000000000000000000");
  for (
    const small of [
      "0100000000000000000000000000000000000000000000000000000000000000",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
      "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ]
  ) {
    const sig = new Uint8Array(64);
    sig.set(identity);
    cases.push({ name: `small-order key ${small.slice(0, 8)}`, signature: sig, message, publicKey: hex(small) });
  }
  // Non-canonical public key: y = p + 1 encodes the same point as y = 1.
  cases.push({
    name: "non-canonical key (y >= p)",
    signature,
    message,
    publicKey: hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
  });
  // Mixed-order key A' = A + T (T of order 8) and a signature that satisfies
  // the cofactored equation but not the cofactorless one.
  const T = ed.Point.fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
  const { scalar } = ed.utils.getExtendedPublicKey(secret);
  const mixedKey = ed.Point.BASE.multiply(scalar).add(T).toBytes();
  for (let r = 1n;; r++) {
    const R = ed.Point.BASE.multiply(r).toBytes();
    const k = numberLE(sha512(R, mixedKey, message)) % L;
    if (k % 8n === 0n) continue;
    const sig = new Uint8Array(64);
    sig.set(R);
    sig.set(bytesLE((r + k * scalar) % L), 32);
    cases.push({ name: "mixed-order key, cofactored-only signature", signature: sig, message, publicKey: mixedKey });
    break;
  }
  // Small-order R: R = identity with S chosen for the cofactored equation
  // fails cofactorless; refused by encoding rule regardless.
  const sigSmallR = new Uint8Array(64);
  sigSmallR.set(identity);
  cases.push({ name: "small-order R", signature: sigSmallR, message, publicKey });
  // Non-canonical R.
  const sigBadR = signature.slice();
  sigBadR.set(hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), 0);
  cases.push({ name: "non-canonical R", signature: sigBadR, message, publicKey });
  // Wrong lengths.
  cases.push({ name: "short signature", signature: signature.subarray(0, 63), message, publicKey });
  cases.push({ name: "short key", signature, message, publicKey: publicKey.subarray(0, 31) });
  // A key that is not a point on the curve (y = 2 has no x).
  cases.push({
    name: "key off the curve",
    signature,
    message,
    publicKey: hex("0200000000000000000000000000000000000000000000000000000000000000"),
  });
  return cases;
}

Deno.test("edge cases where Ed25519 libraries disagree are refused by both backends", () => {
  for (const c of edgeCases()) {
    for (const backend of backends) {
      assert.equal(backend.verify(c.signature, c.message, c.publicKey), false, `${backend.name}: ${c.name}`);
    }
  }
});

Deno.test("the mixed-order case is real: noble's own cofactored verify accepts what kith refuses", () => {
  const mixed = edgeCases().find((c) => c.name.startsWith("mixed-order"))!;
  assert.equal(ed.verify(mixed.signature, mixed.message, mixed.publicKey, { zip215: false }), true);
  assert.equal(nativeBackend.verify(mixed.signature, mixed.message, mixed.publicKey), false);
});

Deno.test("small-order and non-canonical encodings are not acceptable points", () => {
  assert.equal(isAcceptablePointEncoding(hex(RFC8032[0].public)), true);
  for (
    const c of edgeCases().filter((c) => c.name.startsWith("small-order key") || c.name.startsWith("non-canonical"))
  ) {
    const point = c.name === "non-canonical R" ? c.signature.subarray(0, 32) : c.publicKey;
    assert.equal(isAcceptablePointEncoding(point), false, c.name);
  }
});

Deno.test("both backends agree on thousands of mutated signatures, keys and messages", () => {
  const random = seededRandom(8032);
  let accepted = 0;
  for (let i = 0; i < 1500; i++) {
    const secret = randomBytes(random, 32);
    const publicKey = publicKeyFromSecret(secret);
    const message = randomBytes(random, Math.floor(random() * 64));
    const signature = nativeBackend.sign(secret, message);
    const mutate = (b: Uint8Array) => {
      const c = b.slice();
      if (c.length > 0) c[Math.floor(random() * c.length)] ^= 1 << Math.floor(random() * 8);
      return c;
    };
    const choice = Math.floor(random() * 4);
    const sig = choice === 1 ? mutate(signature) : signature;
    const key = choice === 2 ? mutate(publicKey) : publicKey;
    const msg = choice === 3 ? mutate(message) : message;
    const native = nativeBackend.verify(sig, msg, key);
    assert.equal(nobleBackend.verify(sig, msg, key), native, `case ${i}`);
    if (native) accepted++;
  }
  // About a quarter are unmutated; a mutation of an empty message is none.
  assert.ok(accepted > 300 && accepted < 500, `accepted ${accepted}`);
});
