/**
 * Bounds how often one kind of log line is written: at most `perWindow` lines per key in each
 * fixed window, then silence until the window ends, and the next line carries how many were
 * suppressed. A flood of bad input from one peer must not become a flood of logs, and the count
 * keeps the flood visible.
 */
export interface LogLimiterOptions {
  /** Lines per key per window (default 1). */
  readonly perWindow?: number;
  /** Default 60 s. */
  readonly windowMs?: number;
  /** A monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number;
}

interface KeyWindow {
  start: number;
  count: number;
  suppressed: number;
}

export class LogLimiter {
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #byKey = new Map<string, KeyWindow>();

  constructor(options: LogLimiterOptions = {}) {
    this.#perWindow = options.perWindow ?? 1;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** When this key may log now, how many of its lines were suppressed since its last one; else undefined. */
  take(key = ''): number | undefined {
    const now = this.#now();
    let w = this.#byKey.get(key);
    if (!w || now - w.start >= this.#windowMs) {
      w = { start: now, count: 0, suppressed: w?.suppressed ?? 0 };
      this.#byKey.set(key, w);
    }
    if (w.count >= this.#perWindow) {
      w.suppressed += 1;
      return undefined;
    }
    w.count += 1;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    return suppressed;
  }
}
