import { z } from 'zod';

const TraceIdHex = z.string().regex(/^[0-9a-f]{32}$/, 'a trace id is 32 lowercase hex digits');
const SpanIdHex = z.string().regex(/^[0-9a-f]{16}$/, 'a span id is 16 lowercase hex digits');

/** OTel span kinds by name, so the JSON reads without the API's enum numbers. */
export const SpanKindName = z.enum(['internal', 'server', 'client', 'producer', 'consumer']);

/** Attribute values are OTel `AnyValue`s; the ring keeps them as plain JSON (bytes become base64). */
export const SpanAttributes = z.record(z.string(), z.json());

export const SpanEventRecord = z.object({
  name: z.string(),
  timeMs: z.number(),
  attributes: SpanAttributes,
});

/**
 * A finished span as plain JSON: what the in-memory ring keeps, what `/v1/traces`
 * serves and what `coxswain traces` prints. Times are epoch milliseconds (fractional).
 */
export const SpanRecord = z.object({
  traceId: TraceIdHex,
  spanId: SpanIdHex,
  parentSpanId: SpanIdHex.optional(),
  name: z.string(),
  kind: SpanKindName,
  startMs: z.number(),
  endMs: z.number(),
  durationMs: z.number().nonnegative(),
  attributes: SpanAttributes,
  status: z.object({
    code: z.enum(['unset', 'ok', 'error']),
    message: z.string().optional(),
  }),
  events: z.array(SpanEventRecord),
  resource: z.object({
    service: z.string(),
    node: z.string().optional(),
  }),
});

/** Query of `/v1/traces`; numbers arrive as query-string text, hence the coercion. */
export const RecentSpansQuery = z.object({
  traceId: TraceIdHex.optional(),
  limit: z.coerce.number().int().positive().max(100_000).optional(),
});

/** Body of `GET /v1/traces`: spans oldest first. */
export const RecentSpansResponse = z.object({
  spans: z.array(SpanRecord),
});

// Types are inferred from the schemas, never written twice; each shares its schema's name.
export type SpanKindName = z.output<typeof SpanKindName>;
export type SpanAttributes = z.output<typeof SpanAttributes>;
export type SpanEventRecord = z.output<typeof SpanEventRecord>;
export type SpanRecord = z.output<typeof SpanRecord>;
export type RecentSpansQuery = z.output<typeof RecentSpansQuery>;
export type RecentSpansResponse = z.output<typeof RecentSpansResponse>;
