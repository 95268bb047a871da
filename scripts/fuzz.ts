/**
 * Property fuzzer for every decoder that takes bytes from the network: the
 * frame decoder and the envelope/payload decoder. Random bytes, mutated valid
 * messages and random MessagePack structures go in; the only acceptable
 * outcomes are a decoded message or a ProtocolError. Anything else (another
 * exception, a hang, a frame larger than the limit) is a bug.
 *
 * CI runs a few thousand cases through tests/fuzz_test.ts; the long mode is
 *   deno task fuzz -- --iterations 1000000 --seed 7
 *
 * @module
 */
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { parseArgs } from "node:util";
import { sha256 } from "../lib/bytes.ts";
import { ProtocolError } from "../lib/errors.ts";
import { encodeFrame, FrameDecoder } from "../lib/framing.ts";
import { Identity } from "../lib/identity.ts";
import {
  computeMessageId,
  createLinkMessage,
  createMessage,
  LINK_AUTHENTICATED_TYPES,
  MessageCodec,
  type MessageType,
  type PayloadByType,
} from "../lib/protocol/mod.ts";
import { randomBytes, type RandomSource, seededRandom } from "../lib/random.ts";

/** What a fuzz run saw. */
export interface FuzzReport {
  /** Inputs fed to the decoders. */
  cases: number;
  /** Inputs that decoded into a message (unmutated or harmlessly mutated). */
  decoded: number;
  /** Refusals, by ProtocolError code. */
  refusedByCode: Record<string, number>;
}

const NOW = 1_700_000_000_000;

function sampleMessages(identity: Identity): Uint8Array[] {
  const codec = new MessageCodec();
  const b32 = (n: number) => new Uint8Array(32).fill(n);
  const samples: { [T in MessageType]: PayloadByType[T] } = {
    1: { networkId: "kith", nonce: b32(1), ephemeralKey: b32(2), listenAddress: "127.0.0.1:7400", agent: "kith/0" },
    2: {
      networkId: "kith",
      nonce: b32(1),
      ephemeralKey: b32(2),
      listenAddress: "",
      agent: "kith/0",
      handshakeId: b32(3),
      peers: [{ nodeId: b32(4), address: "[::1]:1", lastSeen: 5 }],
    },
    3: { reason: 2, detail: "bye" },
    4: { limit: 8, topic: "blocks" },
    5: { peers: [{ nodeId: b32(4), address: "a.example:9", lastSeen: 0 }] },
    6: { seq: 7, reply: false },
    7: { have: [b32(8), b32(9)], want: [b32(10)], topic: "chat" },
    8: { topic: "t", data: new Uint8Array(256).fill(9) },
    9: { subject: b32(5), trust: 0.75 },
    10: { limit: 3 },
    11: { peers: [{ nodeId: b32(6), trust: 0.5 }] },
    12: { ackId: b32(7) },
    13: { data: new Uint8Array(64).fill(3) },
    14: { requestId: 9, protocol: "kv.get/1", data: new Uint8Array(16).fill(4) },
    15: { requestId: 9, status: 0, data: new Uint8Array(16).fill(5), detail: "" },
    16: { full: false, all: false, join: ["chat"], leave: ["blocks"] },
    17: {
      requestId: 1,
      op: 2,
      key: b32(11),
      records: [{
        publicKey: b32(12),
        name: "n",
        value: b32(13),
        seq: 1,
        expiresAt: NOW,
        signature: new Uint8Array(64),
      }],
    },
    18: {
      requestId: 1,
      status: 0,
      nodes: [{ nodeId: b32(4), address: "127.0.0.1:9", lastSeen: 0 }],
      providers: [{ nodeId: b32(5), address: "127.0.0.2:9", expiresAt: NOW }],
      records: [],
    },
    19: {
      topic: "chat",
      session: 3,
      reply: false,
      since: NOW - 60_000,
      ranges: [
        { timestamp: NOW + 1, id: b32(14).slice(0, 2), mode: 1, value: new Uint8Array(16).fill(6) },
        { timestamp: 0, id: new Uint8Array(0), mode: 2, value: [b32(15)] },
      ],
      have: [b32(16)],
    },
    20: { topic: "chat", requestId: 4, ids: [b32(17), b32(18)] },
    21: { topic: "chat", requestId: 4, bodies: [new Uint8Array(40).fill(7)], missing: [b32(19)] },
    25: { requestId: 2 },
    26: { requestId: 2, status: 0, expiresAt: NOW, observedAddress: "127.0.0.3:9" },
    27: { requestId: 3, target: b32(14) },
    28: {
      requestId: 3,
      status: 0,
      role: 1,
      peer: b32(15),
      token: new Uint8Array(16).fill(6),
      observedAddress: "",
      maxBytes: 1024,
      maxDurationMs: 1000,
    },
    29: { kind: 0, attempt: 1, addresses: ["127.0.0.4:9", "[::1]:9"] },
    22: { address: "127.0.0.1:49152" },
    23: { requestId: 1, address: "127.0.0.1:7400" },
    24: { requestId: 1, status: 0, detail: "" },
  };
  const signed = Object.entries(samples).map(([type, payload]) =>
    codec.encode(createMessage(identity, Number(type) as MessageType, payload as never, { timestamp: NOW }))
  );
  // Unsigned link messages too, so mutations reach the link-authentication rules.
  const unsigned = [...LINK_AUTHENTICATED_TYPES].map((type) =>
    codec.encode(createLinkMessage(identity, type, samples[type] as never, { timestamp: NOW }))
  );
  return [...signed, ...unsigned];
}

function mutate(random: RandomSource, input: Uint8Array): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  let bytes = input.slice();
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    switch (pick(6)) {
      case 0: // flip a bit
        if (bytes.length) bytes[pick(bytes.length)] ^= 1 << pick(8);
        break;
      case 1: // set a byte to an interesting value
        if (bytes.length) {
          bytes[pick(bytes.length)] = [0x00, 0xff, 0x7f, 0x80, 0xc0, 0xc1, 0xdc, 0xdd, 0xdf, 0xc6][pick(10)];
        }
        break;
      case 2: // truncate
        bytes = bytes.slice(0, pick(bytes.length + 1));
        break;
      case 3: { // insert random bytes
        const at = pick(bytes.length + 1);
        const extra = randomBytes(random, 1 + pick(8));
        const out = new Uint8Array(bytes.length + extra.length);
        out.set(bytes.subarray(0, at));
        out.set(extra, at);
        out.set(bytes.subarray(at), at + extra.length);
        bytes = out;
        break;
      }
      case 4: { // delete a range
        const at = pick(bytes.length + 1);
        const n = pick(16);
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + n)]);
        break;
      }
      case 5: // a large length in a MessagePack header
        if (bytes.length > 5) {
          const at = pick(bytes.length - 5);
          bytes[at] = [0xc6, 0xdd, 0xdf, 0xdb][pick(4)];
          bytes[at + 1] = 0xff;
          bytes[at + 2] = 0xff;
        }
        break;
    }
  }
  return bytes;
}

function randomValue(random: RandomSource, depth = 0): unknown {
  const pick = (n: number) => Math.floor(random() * n);
  switch (pick(depth > 2 ? 7 : 9)) {
    case 0:
      return pick(2 ** 31) - 2 ** 30;
    case 1:
      return random() * 2 - 0.5;
    case 2:
      return "x".repeat(pick(70));
    case 3:
      return randomBytes(random, [0, 31, 32, 33, 64][pick(5)]);
    case 4:
      return pick(2) === 0;
    case 5:
      return null;
    case 6:
      return Number.MAX_SAFE_INTEGER + pick(1000);
    case 7:
      return Array.from({ length: pick(12) }, () => randomValue(random, depth + 1));
    default:
      return { a: randomValue(random, depth + 1) };
  }
}

/** Runs `iterations` fuzz cases from `seed`; throws on the first input that gets anything but a ProtocolError. */
export function fuzzDecoders(iterations: number, seed: number): FuzzReport {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const identity = Identity.fromSecretKey(new Uint8Array(32).fill(seed & 0xff));
  const samples = sampleMessages(identity);
  const codec = new MessageCodec({ maxPayloadBytes: 4096 });
  const linkPeer = identity.nodeId;
  const report: FuzzReport = { cases: 0, decoded: 0, refusedByCode: {} };

  const feed = (bytes: Uint8Array) => {
    report.cases++;
    try {
      // Half the inputs as if they came over a session with the sample identity (unsigned link messages
      // accepted), half as if from elsewhere.
      codec.decode(bytes, NOW, random() < 0.5 ? { linkPeer } : {});
      report.decoded++;
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        throw new Error(
          `decoder threw ${error} on input ${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`,
        );
      }
      report.refusedByCode[error.code] = (report.refusedByCode[error.code] ?? 0) + 1;
    }
  };

  for (let i = 0; i < iterations; i++) {
    const kind = pick(12);
    if (kind < 5) {
      feed(mutate(random, samples[pick(samples.length)]));
    } else if (kind < 7) {
      // Mutate one field, then recompute the id the receiver will compute (and
      // usually re-sign it), so the input gets past the signature to the
      // timestamp, key and schema checks.
      const env = codec.parse(samples[pick(samples.length)]);
      switch (pick(5)) {
        case 0:
          env.timestamp = [0, NOW - 10 * 60_000, NOW + 60_000, Number.MAX_SAFE_INTEGER, NOW][pick(5)];
          break;
        case 1:
          env.publicKey = pick(3) === 0 ? new Uint8Array(32).fill(pick(2)) : mutate(random, env.publicKey).slice(0, 32);
          break;
        case 2:
          env.ttl = pick(300);
          break;
        case 3:
          env.payloadBytes = mutate(random, env.payloadBytes);
          break;
        default:
          env.type = (1 + pick(12)) as MessageType;
      }
      if (env.publicKey.length !== 32) env.publicKey = randomBytes(random, 32);
      env.origin = sha256(env.publicKey);
      env.id = computeMessageId(env.version, env.type, env.origin, env.publicKey, env.timestamp, env.payloadBytes);
      if (pick(4) !== 0) env.signature = identity.sign(env.id);
      feed(codec.encode(env));
    } else if (kind < 9) {
      feed(randomBytes(random, pick(600)));
    } else if (kind < 11) {
      // A structure shaped like an envelope with random fields.
      const fields = Array.from({ length: pick(3) === 0 ? pick(12) : 9 }, () => randomValue(random));
      if (fields.length === 9 && pick(2) === 0) fields[0] = 1;
      feed(msgpackEncode(fields));
    } else {
      // A stream of framed inputs, cut at random points, through the frame decoder.
      const frames = new FrameDecoder(2048);
      const parts: Uint8Array[] = [];
      for (let f = 0; f < 1 + pick(4); f++) {
        const body = pick(3) === 0 ? randomBytes(random, pick(64)) : mutate(random, samples[pick(samples.length)]);
        const framed = encodeFrame(body);
        if (pick(8) === 0) framed[pick(4)] = 0xff; // corrupt a length prefix
        parts.push(framed);
      }
      const stream = Uint8Array.from(parts.flatMap((p) => [...p]));
      let offset = 0;
      try {
        while (offset < stream.length) {
          const cut = offset + 1 + pick(stream.length - offset);
          for (const body of frames.push(stream.subarray(offset, cut))) {
            if (body.length > frames.maxFrameBytes) throw new Error("frame decoder returned a frame above its limit");
            feed(body);
          }
          if (frames.bufferedBytes > frames.maxFrameBytes + 4) throw new Error("frame decoder buffered past its bound");
          offset = cut;
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        report.cases++;
        report.refusedByCode[error.code] = (report.refusedByCode[error.code] ?? 0) + 1;
      }
    }
  }
  return report;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args, // `deno task fuzz -- ...` passes the "--" on
    options: { iterations: { type: "string", default: "1000000" }, seed: { type: "string", default: "1" } },
  });
  const iterations = Number(values.iterations), seed = Number(values.seed);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || !Number.isSafeInteger(seed)) {
    console.error("fuzz: --iterations must be a positive integer and --seed an integer");
    Deno.exit(2);
  }
  const started = performance.now();
  const report = fuzzDecoders(iterations, seed);
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ ...report, seed, seconds: Number(seconds.toFixed(1)) }));
}
