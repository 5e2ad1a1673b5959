import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanRing } from './span-ring.js';
import { toSpanRecord } from './to-span-record.js';

/**
 * Keeps every finished span in the ring as plain JSON, synchronously: the
 * conversion is cheap and `/v1/traces` must show a span as soon as it ends,
 * not after a batch delay.
 */
export class RingSpanProcessor implements SpanProcessor {
  readonly #ring: SpanRing;

  constructor(ring: SpanRing) {
    this.#ring = ring;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    this.#ring.push(toSpanRecord(span));
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
