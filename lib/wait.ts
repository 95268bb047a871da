/**
 * Waiting with cancellation: the typed errors a wait ends with ({@link AbortedError},
 * {@link WaitTimeoutError}) and {@link waitUntil}, which every waiting call of the application API uses,
 * so each one takes an `AbortSignal` and an optional timeout on the node's clock and leaves no timer or
 * listener behind however it ends.
 *
 * @module
 */
import type { Clock, TimerId } from "./clock.ts";
import { KithError } from "./errors.ts";

/** A wait was cancelled through its `AbortSignal`. Its `name` is `"AbortError"`, as the platform's. */
export class AbortedError extends KithError {
  /**
   * Creates the error.
   *
   * @param what the call that was waiting
   * @param reason the signal's reason
   */
  constructor(what: string, reason?: unknown) {
    super("ABORTED", `${what} was aborted`, { cause: reason });
    this.name = "AbortError";
  }
}

/** A wait ran past its timeout. Its `name` is `"TimeoutError"`, as the platform's. */
export class WaitTimeoutError extends KithError {
  /**
   * Creates the error.
   *
   * @param what the call that was waiting
   * @param timeoutMs the timeout that passed
   */
  constructor(what: string, timeoutMs: number) {
    super("TIMEOUT", `${what} timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
  }
}

/** Options of a waiting call. */
export interface WaitOptions {
  /** Rejects the wait with {@link AbortedError} when aborted. */
  signal?: AbortSignal;
  /** Rejects it with {@link WaitTimeoutError} after this many ms (the node's clock). Default: no timeout. */
  timeout?: number;
}

/**
 * Resolves with `check()`'s value once it is not `undefined`, checking now and each time `subscribe`'s
 * callback runs. Rejects on abort or timeout. `subscribe` returns its unsubscribe, called however the wait
 * ends, as are the timer and the abort listener.
 *
 * @throws {RangeError} when `timeout` is negative or not a number
 */
export function waitUntil<T>(
  what: string,
  check: () => T | undefined,
  subscribe: (onChange: () => void) => () => void,
  clock: Clock,
  options: WaitOptions = {},
): Promise<T> {
  const { signal, timeout } = options;
  if (timeout !== undefined && !(timeout >= 0)) throw new RangeError(`${what}: timeout must be >= 0 ms`);
  if (signal?.aborted) return Promise.reject(new AbortedError(what, signal.reason));
  const ready = check();
  if (ready !== undefined) return Promise.resolve(ready);
  return new Promise<T>((resolve, reject) => {
    let timer: TimerId | undefined;
    const end = () => {
      unsubscribe();
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      end();
      reject(new AbortedError(what, signal?.reason));
    };
    const unsubscribe = subscribe(() => {
      let value: T | undefined;
      try {
        value = check();
      } catch (error) {
        end();
        reject(error);
        return;
      }
      if (value === undefined) return;
      end();
      resolve(value);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      timer = clock.setTimeout(() => {
        end();
        reject(new WaitTimeoutError(what, timeout));
      }, timeout);
    }
  });
}

/**
 * `promise`, or a rejection with {@link AbortedError} / {@link WaitTimeoutError} if `options` end the wait
 * first. The work behind `promise` is not cancelled: the caller stops waiting for it. The timer and the
 * abort listener are removed however it ends.
 *
 * @throws {RangeError} when `timeout` is negative or not a number
 */
export function abandonable<T>(what: string, promise: Promise<T>, clock: Clock, options: WaitOptions = {}): Promise<T> {
  if (options.signal === undefined && options.timeout === undefined) return promise;
  let result: { value: T } | { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  promise.then((value) => result = { value }, (error) => result = { error }).finally(() => wake?.());
  return waitUntil(
    what,
    () => result,
    (onChange) => {
      wake = onChange;
      return () => wake = undefined;
    },
    clock,
    options,
  ).then((settled) => "value" in settled ? settled.value : Promise.reject(settled.error));
}

/**
 * A wait's subscription (for {@link waitUntil}): woken by `add`'s source and by the owner stopping (the wakes in
 * `onStop`, which the owner calls when it stops), until the returned function ends it.
 */
export function wakeOn(
  onStop: Set<() => void>,
  add: (wake: () => void) => void,
  remove: (wake: () => void) => void,
): (wake: () => void) => () => void {
  return (wake: () => void) => {
    add(wake);
    onStop.add(wake);
    return () => {
      remove(wake);
      onStop.delete(wake);
    };
  };
}
