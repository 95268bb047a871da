/**
 * SIGINT/SIGTERM as a promise, for the long-running commands (start,
 * subscribe, devnet) that stop cleanly on either.
 *
 * @module
 */

/** Resolves on the first SIGINT or SIGTERM; `dispose` removes the listeners so the process can exit. */
export function waitForSignal(): { promise: Promise<void>; dispose(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => resolve = r);
  const listeners: [Deno.Signal, () => void][] = [];
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, resolve);
      listeners.push([signal, resolve]);
    } catch {
      // Not supported here (e.g. SIGTERM on Windows).
    }
  }
  return {
    promise,
    dispose: () => {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    },
  };
}
