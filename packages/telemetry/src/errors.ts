import { CoxswainError } from '@coxswain/protocol';

/**
 * OTel keeps its tracer provider, context manager and propagator in process-wide
 * globals that can be set only once; a second live SDK would silently lose.
 */
export class TelemetryAlreadyStartedError extends CoxswainError {
  readonly activeServiceName: string;
  constructor(activeServiceName: string) {
    super(
      'COX_TELEMETRY_ALREADY_STARTED',
      `telemetry is already running in this process (service ${activeServiceName}); shut it down before starting again`,
    );
    this.activeServiceName = activeServiceName;
  }
}

/** A batch of spans the OTLP exporter could not deliver; the spans are dropped, the app goes on. */
export class TraceExportError extends CoxswainError {
  readonly spanCount: number;
  constructor(spanCount: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause ?? 'unknown reason');
    super('COX_TRACE_EXPORT_FAILED', `failed to export ${spanCount} spans: ${reason}`, { cause });
    this.spanCount = spanCount;
  }
}

/** The collector did not take the last spans before `shutdown()` gave up waiting. */
export class TelemetryShutdownTimeoutError extends CoxswainError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(
      'COX_TELEMETRY_SHUTDOWN_TIMEOUT',
      `telemetry shutdown gave up after ${timeoutMs} ms; spans not yet exported are lost`,
    );
    this.timeoutMs = timeoutMs;
  }
}
