/**
 * Known-answer vector of the handshake, the key schedule and the first sealed records (docs/protocol.md,
 * "Test vectors"): fixed identities, ephemeral keys, nonces and timestamps through the same pure functions
 * both roles of TcpTransport use. Any change to a derivation step changes a pinned hex string.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../lib/bytes.ts";
import { encodeFrame, FrameDecoder } from "../lib/framing.ts";
import { Identity } from "../lib/identity.ts";
import { createMessage, MessageCodec, MessageType } from "../lib/protocol/mod.ts";
import {
  buildAck,
  buildConfirm,
  buildHello,
  checkAck,
  checkConfirm,
  checkHello,
  type HandshakeContext,
  HandshakeFailure,
} from "../lib/transport/handshake.ts";
import { ephemeralKeyPairFromSecret } from "../lib/transport/session.ts";
import { announces, DHT_CAPABILITY, TRANSIENT_AGENT, TRANSIENT_TOKEN, VERSION } from "../lib/version.ts";

const hex = (s: string) => fromHex(s)!;
const range = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => from + i);
const codec = new MessageCodec();

// Inputs (repeated in docs/protocol.md).
const INITIATOR_SEED = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"); // RFC 8032 test 1
const RESPONDER_SEED = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"); // RFC 8032 test 2
const INITIATOR_EPHEMERAL = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"); // RFC 7748 6.1 Alice
const RESPONDER_EPHEMERAL = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"); // RFC 7748 6.1 Bob
const T = 1_700_000_000_000;
const PEER = { nodeId: new Uint8Array(32).fill(0xaa), address: "127.0.0.2:7400", lastSeen: T - 60_000 };

function run() {
  const initiator = Identity.fromSecretKey(INITIATOR_SEED), responder = Identity.fromSecretKey(RESPONDER_SEED);
  const context = (identity: Identity, listenAddress: string): HandshakeContext => ({
    identity,
    networkId: "kith-main",
    listenAddress,
    agent: "kith/test",
    codec,
  });
  const ctxI = context(initiator, ""), ctxR = context(responder, "127.0.0.1:7400");
  const freshI = { ephemeral: ephemeralKeyPairFromSecret(INITIATOR_EPHEMERAL), nonce: range(0x00, 32) };
  const freshR = { ephemeral: ephemeralKeyPairFromSecret(RESPONDER_EPHEMERAL), nonce: range(0x20, 32) };
  const body = (frame: Uint8Array) => new FrameDecoder(1 << 20).push(frame)[0];

  const hello = buildHello(ctxI, freshI, T);
  const helloAtR = checkHello(ctxR, body(hello.frame), T + 1, { closing: false, seen: () => false });
  assert.ok(!(helloAtR instanceof HandshakeFailure), String(helloAtR));
  const ack = buildAck(ctxR, helloAtR, freshR, [PEER], T + 1);
  assert.ok(!(ack instanceof HandshakeFailure), String(ack));
  const ackAtI = checkAck(ctxI, body(ack.frame), T + 2, hello.message, {
    closing: false,
    expectedNodeId: responder.nodeId,
  });
  assert.ok(!(ackAtI instanceof HandshakeFailure), String(ackAtI));
  const confirm = buildConfirm(ctxI, freshI.ephemeral, ackAtI, T + 2);
  assert.ok(!(confirm instanceof HandshakeFailure), String(confirm));
  const confirmAtR = checkConfirm(ctxR, body(confirm.frame), T + 2, helloAtR, ack.message, ack.opener, 1 << 20);
  assert.ok(!(confirmAtR instanceof HandshakeFailure), String(confirmAtR));
  assert.deepEqual(confirmAtR.pipelined, []);

  // The first application envelope each way: I -> R is record 1 (CONFIRM was 0), R -> I is record 0.
  const data = (identity: Identity, timestamp: number) =>
    codec.encode(
      createMessage(identity, MessageType.CUSTOM_DATA, { topic: "chat", data: range(0, 16) }, { timestamp }),
    );
  const envelopeI = data(initiator, T + 3), envelopeR = data(responder, T + 3);
  const recordIR = confirm.sealer.sealFrame(encodeFrame(envelopeI));
  const recordRI = ack.sealer.sealFrame(encodeFrame(envelopeR));
  assert.deepEqual(new FrameDecoder().push(ack.opener.open(body(recordIR))), [envelopeI]);
  assert.deepEqual(new FrameDecoder().push(confirm.opener.open(body(recordRI))), [envelopeR]);
  assert.deepEqual(confirm.keys, { sendKey: ack.keys.receiveKey, receiveKey: ack.keys.sendKey });

  return {
    ephemeralI: toHex(freshI.ephemeral.publicKey),
    ephemeralR: toHex(freshR.ephemeral.publicKey),
    helloId: toHex(hello.message.id),
    ackId: toHex(ack.message.id),
    hello: toHex(hello.frame),
    ack: toHex(ack.frame),
    confirm: toHex(confirm.frame),
    kIR: toHex(confirm.keys.sendKey),
    kRI: toHex(confirm.keys.receiveKey),
    envelopeI: toHex(envelopeI),
    envelopeR: toHex(envelopeR),
    recordIR: toHex(recordIR),
    recordRI: toHex(recordRI),
  };
}

/** The expected values, lowercase hex. */
const EXPECTED = {
  ephemeralI: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  ephemeralR: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  helloId: "4269b73ec367dad21546f9596b29440ef394f37777cf56b9c4baf23383fd97cc",
  ackId: "ad69c9950749bed779c3687104610fa71545d2309a86c0b2e0da068ff38d4afb",
  hello: "000000cd970201c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5" +
    "680000c45a95a96b6974682d6d61696ec420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d" +
    "1e1fc4208520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6aa0a96b6974682f74657374c4" +
    "40616300008b192632eb7c2d7e6a8dba510203309eb1aa7c31f60d2497c66135ac443539bb9cfcffc8347b669a3dd2a7" +
    "f6912542c6afb419c504117acac0657501",
  ack: "00000139970202c4203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660ccf0000018bcfe5" +
    "680100c4c697a96b6974682d6d61696ec420202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d" +
    "3e3fc420de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4fae3132372e302e302e313a37" +
    "343030a96b6974682f74657374c4204269b73ec367dad21546f9596b29440ef394f37777cf56b9c4baf23383fd97cc91" +
    "93c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaae3132372e302e302e323a3734" +
    "3030cf0000018bcfe47da0c44014ccb487a3008daf06c5953669dc1da09264131329d79a274625511340205b5538fc6b" +
    "e05273b4695dcf7c8d3d020a1873a41d28e43e531b914a3f6420fbf40e",
  confirm: "000000aa712b0a8759436eb848c48fdef4534aa46e1d60285f7a722c27f517222ec2fcbc279c9ff5bbd7ed3ee6a7d65f" +
    "50a2657650e6504e72ef3c1dd8f670821c5980bd2e017f0dd06a6ae0bf8f607298f4da9a1e8f9ad0eaa7d93a9e1dd1fb" +
    "42d5be9e058a5f32dd139e7e619c6820857a621485704055c9fca98f5d7ffb93f1f6b9d6e9abd5a2bd678e7ea5deef8d" +
    "b7b9b50d299fa27aefb53ecc478df32ae4fd5391857669d4d20f8119df3a",
  kIR: "5c092773c9fb3f5ad3f2fcd573ed2f0eed8a6ebf4a1d5e6c83be83965244d254",
  kRI: "9b6aa8a17e448c92ecc31dbb088802f950ba3090912bb5a9234d63ace4595085",
  envelopeI: "970208c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5680308c4" +
    "1892a463686174c410000102030405060708090a0b0c0d0e0fc440e8cd183c8730b3c398756f74b41cf72266d35ea1ce" +
    "835e513009ba00f67250d7c9a33fc9a492d2186c2eb00f6bc388c31d24aeae203ca079d7e333596247fc04",
  envelopeR: "970208c4203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660ccf0000018bcfe5680308c4" +
    "1892a463686174c410000102030405060708090a0b0c0d0e0fc440d9ec45434d10e0ff44b55de30cd70c23295fe98727" +
    "0a81d5e71e7706c3015f73a15cec948359532faa96d5a862014ad17e218a57d09e2f8202fa70a7df375305",
  recordIR: "0000009f31be4c01d66fcac25458b01d84a98a20f9325da058aaad0322f09ba3043e6c1beaa0df00d71110a5c891b190" +
    "6b810e2e1c0ece93190f7cd4fc459eddf470b98ed657f543a832561b06f5fb1bc4811bf535cf883e61bb890fa9bb9307" +
    "4276b262340146dd1de26058522ad3e134383f4bcb5fafa5aad4c1734a9a601a95d7be9bd45bcaca69814ebbfe67016d" +
    "379edb4c187e941d96e7ef187465ea854becba",
  recordRI: "0000009f64845a33cb012411d5489fe168ec75e827686a5e8e4e66878146fb907aac0d885949b995c800dbb4f707dabd" +
    "5c36a3a631ac7315591b0d9e0b8fa9d225868fb454150aa07d411918d35fdb1dab1719123a0ab429157ce380b6ba8e74" +
    "330bfebe9bffdcf3bcfd2fee4d2eb2c8f0bb6d92ca86671e39fe99ecd05b0bddbbe6a7a8bd8d29c8b89108c85dddee78" +
    "2ab13c2627892f14d43dd5a39c30934f135a46",
};

Deno.test("the handshake, key schedule and first sealed records match the known-answer vector", () => {
  const actual: Record<string, string> = run();
  for (const [name, expected] of Object.entries(EXPECTED)) assert.equal(actual[name], expected, name);
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(EXPECTED).sort());
});

/** A transient link's HANDSHAKE: I's of the vector above, with the transient agent of version 0.1.0. */
function transientHello() {
  const initiator = Identity.fromSecretKey(INITIATOR_SEED);
  const context: HandshakeContext = {
    identity: initiator,
    networkId: "kith-main",
    listenAddress: "",
    agent: "kith/0.1.0 dht/1 transient/1",
    codec,
  };
  const fresh = { ephemeral: ephemeralKeyPairFromSecret(INITIATOR_EPHEMERAL), nonce: range(0x00, 32) };
  return buildHello(context, fresh, T);
}

const TRANSIENT_HELLO =
  "000000e0970201c420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511acf0000018bcfe5" +
  "680000c46d95a96b6974682d6d61696ec420000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d" +
  "1e1fc4208520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6aa0bc6b6974682f302e312e30" +
  "206468742f31207472616e7369656e742f31c440e9d2f48971fc19bbd60898375582b2208818c5b8caf499c7c0c0d373" +
  "884b2e9149003082d569802f78a56178b060373ca44891532bcad670fd59d6f29194570f";

Deno.test("a transient link's HANDSHAKE carries the transient agent, matches its vector, and its responder reads it so", () => {
  assert.equal(TRANSIENT_AGENT, `kith/${VERSION} ${DHT_CAPABILITY} ${TRANSIENT_TOKEN}`);
  const hello = transientHello();
  assert.equal(toHex(hello.frame), TRANSIENT_HELLO);
  const responder = Identity.fromSecretKey(RESPONDER_SEED);
  const context: HandshakeContext = {
    identity: responder,
    networkId: "kith-main",
    listenAddress: "127.0.0.1:7400",
    agent: "kith/test",
    codec,
  };
  const body = new FrameDecoder(1 << 20).push(hello.frame)[0];
  const atR = checkHello(context, body, T + 1, { closing: false, seen: () => false });
  assert.ok(!(atR instanceof HandshakeFailure), String(atR));
  assert.ok(announces(atR.payload.agent, TRANSIENT_TOKEN) && announces(atR.payload.agent, DHT_CAPABILITY));
});

// `deno run tests/handshake_vector_test.ts` prints the values, to regenerate the vector after a deliberate change.
if (import.meta.main) console.log(JSON.stringify({ ...run(), transientHello: toHex(transientHello().frame) }, null, 2));
