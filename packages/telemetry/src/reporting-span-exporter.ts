import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { TraceExportError } from './errors.js';

/**
 * Wraps an exporter so that a failed batch reaches our failure handler as a
 * `TraceExportError` (naming how many spans were lost) instead of only the SDK's
 * global error handler. The failed result still goes back to the batch processor,
 * so it does not count lost spans as delivered.
 */
export class ReportingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #onFailure: (error: TraceExportError) => void;

  constructor(inner: SpanExporter, onFailure: (error: TraceExportError) => void) {
    this.#inner = inner;
    this.#onFailure = onFailure;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const fail = (cause: unknown): void => {
      const error = new TraceExportError(spans.length, cause);
      this.#onFailure(error);
      resultCallback({ code: ExportResultCode.FAILED, error });
    };
    try {
      this.#inner.export(spans, (result) => {
        if (result.code === ExportResultCode.SUCCESS) resultCallback(result);
        else fail(result.error);
      });
    } catch (error) {
      fail(error);
    }
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
