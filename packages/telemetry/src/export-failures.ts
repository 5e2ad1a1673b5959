/** The part of a logger this needs; the agent's `Logger` fits. */
export interface WarnLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface ExportFailureReporterOptions {
  readonly log: WarnLogger;
  /** Monotonic milliseconds; injected so tests can drive the log rate limit. */
  readonly nowMs?: () => number;
  /** A collector that is down fails every batch; log at most this often. */
  readonly logEveryMs?: number;
}

/**
 * The one handler every telemetry failure goes to: the OTLP exporter's failed
 * batches, the batch processor's time-outs and the SDK's internal errors. It
 * counts each failure once (the same error can arrive by two of those paths)
 * and logs the first, then at most once per `logEveryMs`, with how many it held back.
 */
export class ExportFailureReporter {
  readonly #log: WarnLogger;
  readonly #nowMs: () => number;
  readonly #logEveryMs: number;
  readonly #seen = new WeakSet<object>();
  #count = 0;
  #lastLogMs: number | undefined;
  #heldBack = 0;

  constructor(options: ExportFailureReporterOptions) {
    this.#log = options.log;
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#logEveryMs = options.logEveryMs ?? 60_000;
  }

  get count(): number {
    return this.#count;
  }

  report(error: unknown): void {
    if (typeof error === 'object' && error !== null) {
      if (this.#seen.has(error)) return;
      this.#seen.add(error);
    }
    this.#count += 1;
    const now = this.#nowMs();
    if (this.#lastLogMs !== undefined && now - this.#lastLogMs < this.#logEveryMs) {
      this.#heldBack += 1;
      return;
    }
    this.#lastLogMs = now;
    const heldBack = this.#heldBack;
    this.#heldBack = 0;
    this.#log.warn('telemetry export failed', {
      error: error instanceof Error ? describe(error) : String(error),
      failures: this.#count,
      ...(heldBack > 0 ? { notLoggedSinceLast: heldBack } : {}),
    });
  }
}

function describe(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return code === undefined
    ? { name: error.name, message: error.message }
    : { code, name: error.name, message: error.message };
}
