import { type Attributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR_COXSWAIN_NODE, ATTR_SERVICE_NAME } from './semconv.js';
import type { SpanAttributes, SpanKindName, SpanRecord } from './span-record.js';

const KIND_NAMES: Readonly<Record<SpanKind, SpanKindName>> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

const STATUS_NAMES: Readonly<Record<SpanStatusCode, SpanRecord['status']['code']>> = {
  [SpanStatusCode.UNSET]: 'unset',
  [SpanStatusCode.OK]: 'ok',
  [SpanStatusCode.ERROR]: 'error',
};

type Json = SpanAttributes[string];

/** OTel attribute values may be any value; keep what JSON can carry, say what it cannot. */
function toJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = toJson(inner);
    return out;
  }
  return String(value);
}

function toJsonAttributes(attributes: Attributes | undefined): SpanAttributes {
  const out: SpanAttributes = {};
  if (attributes === undefined) return out;
  for (const [key, value] of Object.entries(attributes)) {
    // The SDK leaves undefined values in place when a caller passes them; they carry nothing.
    if (value !== undefined) out[key] = toJson(value);
  }
  return out;
}

/** A finished SDK span as the plain JSON record the ring keeps and `/v1/traces` serves. */
export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  const resource = span.resource.attributes;
  const service = resource[ATTR_SERVICE_NAME];
  const node = resource[ATTR_COXSWAIN_NODE];
  const record: SpanRecord = {
    traceId,
    spanId,
    name: span.name,
    kind: KIND_NAMES[span.kind] ?? 'internal',
    startMs: hrTimeToMilliseconds(span.startTime),
    endMs: hrTimeToMilliseconds(span.endTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    attributes: toJsonAttributes(span.attributes),
    status: { code: STATUS_NAMES[span.status.code] ?? 'unset' },
    events: span.events.map((event) => ({
      name: event.name,
      timeMs: hrTimeToMilliseconds(event.time),
      attributes: toJsonAttributes(event.attributes),
    })),
    resource: { service: typeof service === 'string' ? service : 'unknown' },
  };
  const parentSpanId = span.parentSpanContext?.spanId;
  if (parentSpanId !== undefined) record.parentSpanId = parentSpanId;
  if (span.status.message !== undefined && span.status.message !== '') {
    record.status.message = span.status.message;
  }
  if (typeof node === 'string') record.resource.node = node;
  return record;
}
