/**
 * Ed25519 signature checks moved off the main thread when it is busy.
 *
 * Every node verifies every message once, and the checks are the largest single cost of a delivery
 * (BENCHMARKS.md has the profile). A
 * Deno process runs its JavaScript on one thread, so a busy node (or many nodes in one process) hits that
 * thread's ceiling while the machine's other cores idle. {@link ParallelVerifier} sends checks to helper
 * threads in batches when that thread is behind (a probe timer runs late), and does them inline when it
 * keeps up: handing a check to a thread costs more CPU in all (two wake-ups) than doing it, alone several
 * times its own cost and in a batch still more (BENCHMARKS.md), so it pays only when the
 * calling thread is the bottleneck and another core is free.
 *
 * The threads run node:crypto's native check only; kith's encoding rules (canonical points, no small
 * order, S < L; see ed25519.ts) run first on the calling thread, so both paths accept exactly the same
 * signatures. The helpers start on the first batch that needs them (an idle or lightly loaded node never
 * starts one) and are shared by every verifier in the process, released when the last one closes.
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { defaultBackend, nativeBackend, passesEncodingRules, verifySignature } from "./ed25519.ts";
import { defaultLogSink, errorFields, type LogSink } from "./log.ts";

/** A signature check whose answer may come later. */
export interface SignatureVerifier {
  /**
   * Checks `signature` over `message` by `publicKey` under kith's rule; calls `done` with the answer,
   * during this call or later (never both). `done` must not throw.
   */
  check(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, done: (valid: boolean) => void): void;
  /** Releases this verifier's share of any helper threads. Checks still pending are answered. */
  close(): void;
}

/** Checks on the calling thread, answered at once: deterministic, for tests and simulations. */
export const inlineVerifier: SignatureVerifier = {
  check(signature, message, publicKey, done) {
    done(verifySignature(signature, message, publicKey));
  },
  close() {},
};

/**
 * Settings of {@link ParallelVerifier}. The helpers and the probe are shared by the process. Each
 * verifier's `busyLagMs` and `busyCpuShare` decide whether its checks wait for a batch; when verifiers
 * with different `minBatch`, `maxInFlight` or `helperIdleMs` share a turn or the helpers, the lowest wins.
 */
export interface ParallelVerifierConfig {
  /**
   * Helper threads shared by the process (the largest asked for by any verifier wins). Default 1: on a
   * two-core machine the main thread and one helper. 0 verifies inline always.
   */
  threads: number;
  /**
   * How late, smoothed, a probe timer that should fire every 20 ms must run before the calling thread
   * counts as busy, ms; only then do checks go to helpers. Default 10. A thread that keeps up runs its
   * timers within a few milliseconds; one that is behind runs them late by about its backlog. Handing
   * checks over while the thread keeps up only costs more CPU per delivery and a longer tail; lower, short
   * bursts start a helper for a few checks; higher, a node behind its load offloads less and waits longer
   * (BENCHMARKS.md). 0: hand over whenever a batch reaches `minBatch`.
   */
  busyLagMs: number;
  /**
   * CPU the process must be using, smoothed, in cores (all its threads), before checks go to helpers.
   * Default 0.75. A thread can run late because it has much to do, or because other processes hold the
   * cores; only the first is helped by a helper, and the second is made worse (many processes on few
   * cores, each starting a helper, used more CPU per delivery and delivered less: BENCHMARKS.md). A
   * process using three quarters of a core while running late is its own bottleneck.
   * 0: judge by lateness alone.
   */
  busyCpuShare: number;
  /**
   * Checks gathered in one turn of the event loop below which they are done inline even when busy.
   * Default 2: one check handed over alone costs several times its own CPU in wake-ups, a batch much less
   * (BENCHMARKS.md).
   */
  minBatch: number;
  /**
   * A helper that has had no batch for this long is stopped, ms; it is started again when needed.
   * Default 30,000: a node that was busy for a burst gives the helper's 25 MB back.
   */
  helperIdleMs: number;
  /**
   * Checks with the helpers at once; past it, checks are done inline (the main thread slows down, which
   * is the back-pressure). Bounds the memory held by pending checks. Default 4,096.
   */
  maxInFlight: number;
}

/** The defaults. */
export const DEFAULT_PARALLEL_VERIFIER_CONFIG: Readonly<ParallelVerifierConfig> = Object.freeze({
  threads: 1,
  busyLagMs: 10,
  busyCpuShare: 0.75,
  minBatch: 2,
  maxInFlight: 4096,
  helperIdleMs: 30_000,
});

/** Counters of a {@link ParallelVerifier}. */
export interface ParallelVerifierStats {
  /** Checks done on the calling thread. */
  inline: number;
  /** Checks done by a helper thread. */
  offloaded: number;
  /** Batches handed to helpers. */
  batches: number;
}

// The helper: reads batches of [u32 message length | 32-byte key | 64-byte signature | message] and
// answers one byte per check. A Blob URL, not a file: no read permission and nothing to bundle into a
// compiled binary.
const HELPER_SOURCE = `
import { createPublicKey, verify } from "node:crypto";
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const keys = new Map();
function keyOf(publicKey) {
  let hex = "";
  for (let i = 0; i < 32; i++) hex += String.fromCharCode(publicKey[i]);
  let key = keys.get(hex);
  if (key === undefined) {
    try {
      const der = new Uint8Array(44);
      der.set(SPKI_PREFIX);
      der.set(publicKey, 12);
      key = createPublicKey({ key: der, format: "der", type: "spki" });
    } catch {
      key = null;
    }
    if (keys.size >= 8192) keys.delete(keys.keys().next().value);
    keys.set(hex, key);
  }
  return key;
}
self.onmessage = (event) => {
  const { seq, count, buffer } = event.data;
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const answers = new Uint8Array(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(offset);
    const publicKey = bytes.subarray(offset + 4, offset + 36);
    const signature = bytes.subarray(offset + 36, offset + 100);
    const message = bytes.subarray(offset + 100, offset + 100 + length);
    offset += 100 + length;
    const key = keyOf(publicKey);
    let valid = false;
    if (key !== null) {
      try {
        valid = verify(null, message, key, signature);
      } catch {
        valid = false;
      }
    }
    answers[i] = valid ? 1 : 0;
  }
  self.postMessage({ seq, answers }, [answers.buffer]);
};
`;

type Done = (valid: boolean) => void;

interface PendingCheck {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
  done: Done;
  owner: ParallelVerifier;
}

interface Helper {
  worker: Worker;
  /** Batches handed over and not answered, by sequence number. */
  batches: Map<number, PendingCheck[]>;
}

/** The process's helper threads, shared by all verifiers (threads are costly: about 25 MB of RSS each). */
class HelperPool {
  #users = 0;
  #threads = 0;
  readonly #helpers: Helper[] = [];
  #next = 0;
  #seq = 0;
  inFlight = 0;
  /** Set when a helper failed: everything is inline from then on. */
  broken = false;
  #url: string | undefined;
  /** Smoothed lateness of the probe timer, ms: how far behind the calling thread runs. */
  lagMs = 0;
  /** Smoothed CPU the process used per second of wall time between probes (all its threads; 1 = a core). */
  cpuShare = 0;
  #probeArmedAt = 0;
  #probeCpuUs = 0;
  #probe: ReturnType<typeof setTimeout> | undefined;
  #probeDueAt = 0;
  #checkedSinceProbe = false;
  /** When the latest check was noted (performance.now()). */
  #lastCheckAt = -Infinity;
  #idleMs = Infinity;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lastSubmitAt = 0;

  /** Helper threads running now. */
  get threadsRunning(): number {
    return this.#helpers.length;
  }

  /** Retires the helpers once none has had a batch for `#idleMs`: a burst should not cost 25 MB for good. */
  #armIdle(): void {
    if (this.#idleTimer !== undefined || !Number.isFinite(this.#idleMs)) return;
    const wait = Math.max(1, this.#lastSubmitAt + this.#idleMs - performance.now());
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#helpers.length === 0) return;
      if (this.inFlight > 0 || performance.now() - this.#lastSubmitAt < this.#idleMs) {
        this.#armIdle();
        return;
      }
      for (const helper of this.#helpers.splice(0)) helper.worker.terminate();
    }, wait);
  }

  /** Whether the lag probe is running. */
  get probing(): boolean {
    return this.#probe !== undefined;
  }

  /**
   * Notes a check; starts the lag probe, which runs while checks keep coming, at the second check within a
   * probe interval. A lone check starts none (unless batches of one are handed over, `minBatch` 1): checks
   * that come singly never make a batch of `minBatch` in a turn, so they are inline whatever the probe says,
   * and a node whose messages come one at a time would pay a timer and two readings of its CPU time for each.
   */
  noteChecks(minBatch: number): void {
    this.#checkedSinceProbe = true;
    const now = performance.now();
    const previous = this.#lastCheckAt;
    this.#lastCheckAt = now;
    if (this.#probe !== undefined || this.#users === 0) return;
    if (minBatch <= 1 || now - previous < PROBE_INTERVAL_MS) this.#armProbe();
  }

  /** Arms the probe; `from` is the last probe's reading, reused (reading process CPU time is a system call). */
  #armProbe(from?: { at: number; cpuUs: number }): void {
    if (from === undefined) {
      const cpu = cpuUsage();
      from = { at: performance.now(), cpuUs: cpu.user + cpu.system };
    }
    this.#probeArmedAt = from.at;
    this.#probeCpuUs = from.cpuUs;
    this.#probeDueAt = performance.now() + PROBE_INTERVAL_MS;
    this.#probe = setTimeout(() => {
      const now = performance.now();
      const late = Math.max(0, now - this.#probeDueAt);
      this.lagMs += (late - this.lagMs) * PROBE_SMOOTHING;
      const cpu = cpuUsage();
      const cpuUs = cpu.user + cpu.system;
      const share = (cpuUs - this.#probeCpuUs) / 1000 / Math.max(1, now - this.#probeArmedAt);
      this.cpuShare += (share - this.cpuShare) * PROBE_SMOOTHING;
      this.#probe = undefined;
      // A probe period without checks ends probing (an idle node wakes for nothing); the next check starts it.
      if (this.#checkedSinceProbe) {
        this.#checkedSinceProbe = false;
        this.#armProbe({ at: now, cpuUs });
      } else {
        this.lagMs = 0;
        this.cpuShare = 0;
      }
    }, PROBE_INTERVAL_MS);
  }

  #stopProbe(): void {
    if (this.#probe !== undefined) clearTimeout(this.#probe);
    this.#probe = undefined;
    this.lagMs = 0;
    this.cpuShare = 0;
  }

  acquire(threads: number, idleMs: number): void {
    this.#users++;
    this.#threads = Math.max(this.#threads, threads);
    this.#idleMs = Math.min(this.#idleMs, idleMs);
  }

  release(): void {
    if (--this.#users > 0) return;
    this.#threads = 0;
    this.#idleMs = Infinity;
    this.#lastCheckAt = -Infinity;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#stopProbe();
    for (const helper of this.#helpers.splice(0)) {
      helper.worker.terminate();
      for (const batch of helper.batches.values()) answerInline(batch);
    }
    this.inFlight = 0;
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#url = undefined;
  }

  /** Hands `checks` to a helper (starting one if there are fewer than asked for). */
  submit(checks: PendingCheck[]): void {
    let size = 0;
    for (const check of checks) size += 100 + check.message.length;
    const buffer = new ArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    const view = new DataView(buffer);
    let offset = 0;
    for (const check of checks) {
      view.setUint32(offset, check.message.length);
      bytes.set(check.publicKey, offset + 4);
      bytes.set(check.signature, offset + 36);
      bytes.set(check.message, offset + 100);
      offset += 100 + check.message.length;
    }
    const helper = this.#helper();
    const seq = this.#seq++;
    // Posted before it is recorded: if posting throws, the caller answers the batch inline, once.
    helper.worker.postMessage({ seq, count: checks.length, buffer }, [buffer]);
    helper.batches.set(seq, checks);
    this.inFlight += checks.length;
    this.#lastSubmitAt = performance.now();
    this.#armIdle();
  }

  #helper(): Helper {
    if (this.#helpers.length < this.#threads) {
      this.#url ??= URL.createObjectURL(new Blob([HELPER_SOURCE], { type: "application/javascript" }));
      const helper: Helper = { worker: new Worker(this.#url, { type: "module" }), batches: new Map() };
      helper.worker.onmessage = (event: MessageEvent<{ seq: number; answers: Uint8Array }>) => {
        const batch = helper.batches.get(event.data.seq);
        if (batch === undefined) return;
        helper.batches.delete(event.data.seq);
        this.inFlight -= batch.length;
        const answers = event.data.answers;
        for (let i = 0; i < batch.length; i++) answer(batch[i], answers[i] === 1, "offloaded");
      };
      helper.worker.onerror = (event) => {
        event.preventDefault();
        this.#fail(helper, event.message);
      };
      this.#helpers.push(helper);
      return helper;
    }
    return this.#helpers[this.#next++ % this.#helpers.length];
  }

  /** A helper failed (it should not): answer its checks inline and stop using helpers. */
  #fail(helper: Helper, reason: string): void {
    if (!this.broken) reportToVerifiers("signature helper thread failed; checking inline from now on", { reason });
    this.broken = true;
    helper.worker.terminate();
    const index = this.#helpers.indexOf(helper);
    if (index >= 0) this.#helpers.splice(index, 1);
    for (const batch of helper.batches.values()) {
      this.inFlight -= batch.length;
      answerInline(batch);
    }
    helper.batches.clear();
  }
}

/** The lag probe's period, ms. */
const PROBE_INTERVAL_MS = 20;
/** Weight of each probe in the smoothed lag: about the last four probes (80 ms). */
const PROBE_SMOOTHING = 0.25;

const pool = new HelperPool();

/** Verifiers open now, whose logs hear of the shared helpers' failures. */
const openVerifiers = new Set<ParallelVerifier>();

/** Logs a failure of the shared helpers to every open verifier's sink (once per distinct sink). */
function reportToVerifiers(message: string, fields: Record<string, unknown>): void {
  const sinks = new Set([...openVerifiers].map((v) => v.log));
  if (sinks.size === 0) sinks.add(defaultLogSink);
  for (const sink of sinks) sink("error", message, fields);
}

function answer(check: PendingCheck, valid: boolean, how: "inline" | "offloaded"): void {
  check.owner.stats[how]++;
  try {
    check.done(valid);
  } catch (error) {
    // Answers run from a microtask or the helper's message event: an exception would end the process and
    // leave the rest of the batch unanswered.
    check.owner.log("error", "signature check callback failed", errorFields(error));
  }
}

function answerInline(checks: PendingCheck[]): void {
  for (const check of checks) {
    answer(check, nativeBackend.verify(check.signature, check.message, check.publicKey), "inline");
  }
}

/** The checks gathered in this turn of the event loop, from every verifier. */
let gathered: PendingCheck[] = [];
let flushQueued = false;

function flush(): void {
  flushQueued = false;
  // Checks of a verifier closed since they were gathered are answered inline: its share of the
  // helpers is gone (and with the last one, the helpers).
  const checks: PendingCheck[] = [];
  const late: PendingCheck[] = [];
  let minBatch = Infinity, maxInFlight = Infinity;
  for (const check of gathered) {
    if (check.owner.closed) {
      late.push(check);
      continue;
    }
    checks.push(check);
    minBatch = Math.min(minBatch, check.owner.config.minBatch);
    maxInFlight = Math.min(maxInFlight, check.owner.config.maxInFlight);
  }
  gathered = [];
  answerInline(late);
  if (checks.length === 0) return;
  // Gathered only while the thread was behind (see check): hand over unless too few or too many are out.
  if (pool.broken || checks.length < minBatch || pool.inFlight + checks.length > maxInFlight) {
    answerInline(checks);
    return;
  }
  try {
    pool.submit(checks);
  } catch (error) {
    // No helper could be started (a runtime without Workers, or out of resources): inline from now on.
    if (!pool.broken) reportToVerifiers("signature helper thread unavailable; checking inline", errorFields(error));
    pool.broken = true;
    answerInline(checks);
    return;
  }
  for (const owner of new Set(checks.map((c) => c.owner))) owner.stats.batches++;
}

/**
 * A {@link SignatureVerifier} that checks inline, answering at once, while the calling thread keeps up,
 * and on helper threads while it is behind. Those answers come later (after the current turn of the
 * event loop at the earliest), so callers must cope with other input arriving in between.
 *
 * @example
 * ```ts
 * import { Identity } from "./identity.ts";
 * import { ParallelVerifier } from "./verifier.ts";
 * const me = Identity.generate();
 * const message = new TextEncoder().encode("hello");
 * const verifier = new ParallelVerifier();
 * const valid = await new Promise<boolean>((resolve) =>
 *   verifier.check(me.sign(message), message, me.publicKey, resolve)
 * );
 * verifier.close();
 * console.log(valid); // true
 * ```
 */
export class ParallelVerifier implements SignatureVerifier {
  /** The settings in force. */
  readonly config: Readonly<ParallelVerifierConfig>;
  /** Counters since creation. */
  readonly stats: ParallelVerifierStats = { inline: 0, offloaded: 0, batches: 0 };
  /** Set by {@link ParallelVerifier.close}. */
  closed = false;
  /** Where failures are logged. */
  readonly log: LogSink;
  readonly #inlineCheck: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

  /** Helper threads running now in this process (shared by every verifier). */
  get helperThreads(): number {
    return pool.threadsRunning;
  }

  /** Whether the process's lag probe (a timer every 20 ms while checks keep coming) is running now. */
  get lagProbeRunning(): boolean {
    return pool.probing;
  }

  /**
   * Creates a verifier. Threads start only when a batch first needs one.
   * @throws {RangeError} on a setting out of range
   */
  constructor(
    config: Partial<ParallelVerifierConfig> = {},
    log: LogSink = defaultLogSink,
    /** The inline check (a simulation shares a memo of answers between its nodes). */
    inlineCheck: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean = verifySignature,
  ) {
    this.#inlineCheck = inlineCheck;
    const merged = { ...DEFAULT_PARALLEL_VERIFIER_CONFIG, ...config };
    if (!Number.isInteger(merged.threads) || merged.threads < 0 || merged.threads > 64) {
      throw new RangeError(`threads must be an integer in 0..64, got ${merged.threads}`);
    }
    if (!Number.isFinite(merged.busyLagMs) || merged.busyLagMs < 0) {
      throw new RangeError(`busyLagMs must be a non-negative number, got ${merged.busyLagMs}`);
    }
    if (!Number.isFinite(merged.helperIdleMs) || merged.helperIdleMs < 1) {
      throw new RangeError(`helperIdleMs must be a positive number, got ${merged.helperIdleMs}`);
    }
    if (!Number.isFinite(merged.busyCpuShare) || merged.busyCpuShare < 0) {
      throw new RangeError(`busyCpuShare must be a non-negative number, got ${merged.busyCpuShare}`);
    }
    if (!Number.isInteger(merged.minBatch) || merged.minBatch < 1) {
      throw new RangeError(`minBatch must be a positive integer, got ${merged.minBatch}`);
    }
    if (!Number.isInteger(merged.maxInFlight) || merged.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${merged.maxInFlight}`);
    }
    this.config = Object.freeze(merged);
    this.log = log;
    openVerifiers.add(this);
    if (this.#threaded) pool.acquire(merged.threads, merged.helperIdleMs);
  }

  /** Whether checks can go to threads at all: asked for, and node:crypto has Ed25519. */
  get #threaded(): boolean {
    return this.config.threads > 0 && nativeAvailable();
  }

  check(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, done: (valid: boolean) => void): void {
    if (this.closed || !this.#threaded) {
      this.stats.inline++;
      done(this.#inlineCheck(signature, message, publicKey));
      return;
    }
    pool.noteChecks(this.config.minBatch);
    // While the thread keeps up (the common case), the check runs now: no batch, no microtask.
    if (pool.broken || pool.lagMs < this.config.busyLagMs || pool.cpuShare < this.config.busyCpuShare) {
      this.stats.inline++;
      done(this.#inlineCheck(signature, message, publicKey));
      return;
    }
    // kith's encoding rules here, so the helper's plain node:crypto check accepts exactly what inline would.
    if (!passesEncodingRules(signature, publicKey)) {
      this.stats.inline++;
      done(false);
      return;
    }
    gathered.push({ signature, message, publicKey, done, owner: this });
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    openVerifiers.delete(this);
    if (this.#threaded) pool.release();
  }
}

/** Whether node:crypto verifies Ed25519 here (the helpers use it; without it there is nothing to share). */
function nativeAvailable(): boolean {
  return defaultBackend === nativeBackend;
}
