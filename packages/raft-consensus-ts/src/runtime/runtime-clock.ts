/** Where a node gets time and timers. Default: the process's monotonic clock and timers; the simulator passes a virtual one. */
export interface RuntimeClock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `fn` on a later macrotask. */
  setImmediate(fn: () => void): void;
}

export const processClock: RuntimeClock = {
  now: () => performance.now(),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout> | undefined),
  setImmediate: (fn) => setImmediate(fn),
};
