// startTelemetry in-process: the real trace SDK (NodeTracerProvider), the ring, withSpan and the
// propagator, with no collector (no OTLP endpoint is set in this file).
import { InvalidPayloadError } from '@coxswain/protocol';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryAlreadyStartedError } from '../src/errors.js';
import { extractTraceContext, natsHeaders, traceHeaders } from '../src/nats-context.js';
import { recentSpansResponse } from '../src/recent-spans-response.js';
import { SpanRecord } from '../src/span-record.js';
import { activeTelemetry, startTelemetry, type Telemetry } from '../src/start-telemetry.js';
import { withSpan } from '../src/with-span.js';

const options = {
  serviceName: 'coxswain-agent',
  cluster: 'c1',
  nodeId: 'n1',
  host: 'host-a',
  env: {},
};

let running: Telemetry | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

describe('startTelemetry', () => {
  it('registers nothing with OTEL_SDK_DISABLED=true, as NodeSDK did, and starts again after', async () => {
    running = await startTelemetry({ ...options, env: { OTEL_SDK_DISABLED: 'true' } });
    await withSpan(trace.getTracer('t'), 'ignored', {}, async () => {});
    expect(running.recentSpans()).toEqual([]);
    await running.shutdown();
    running = await startTelemetry(options);
    await withSpan(trace.getTracer('t'), 'kept', {}, async () => {});
    expect(running.recentSpans().map((s) => s.name)).toEqual(['kept']);
  });

  it('keeps finished spans in the ring with parent links, resource and status', async () => {
    running = await startTelemetry({ ...options, ringSize: 10 });
    const { tracer } = running;
    expect(running.otlpEndpoint).toBeUndefined();

    await withSpan(tracer, 'tick', { 'coxswain.service': 'web' }, async () => {
      await withSpan(tracer, 'sample', {}, async (span) => {
        span.addEvent('sampled', { containers: 3 });
      });
      await expect(
        withSpan(tracer, 'report', {}, async () => {
          throw new Error('nats is down');
        }),
      ).rejects.toThrow('nats is down');
    });

    const spans = running.recentSpans();
    expect(spans.map((s) => s.name)).toEqual(['sample', 'report', 'tick']);
    const [sample, report, tick] = spans;
    for (const s of spans) expect(SpanRecord.safeParse(s).success).toBe(true);
    expect(tick?.parentSpanId).toBeUndefined();
    expect(sample?.parentSpanId).toBe(tick?.spanId);
    expect(report?.parentSpanId).toBe(tick?.spanId);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(tick?.attributes).toEqual({ 'coxswain.service': 'web' });
    expect(tick?.resource).toEqual({ service: 'coxswain-agent', node: 'n1' });
    expect(tick?.status).toEqual({ code: 'unset' });
    expect(sample?.events).toEqual([
      expect.objectContaining({ name: 'sampled', attributes: { containers: 3 } }),
    ]);
    expect(report?.status).toEqual({ code: 'error', message: 'nats is down' });
    expect(report?.events[0]?.name).toBe('exception');
    expect(tick?.kind).toBe('internal');
    expect(tick?.durationMs).toBeGreaterThanOrEqual(0);
    expect(tick?.endMs).toBeGreaterThanOrEqual(tick?.startMs ?? Number.POSITIVE_INFINITY);
    expect(running.recentSpans({ traceId: tick?.traceId, limit: 1 }).map((s) => s.name)).toEqual([
      'tick',
    ]);
  });

  it('keeps only the last ringSize spans', async () => {
    running = await startTelemetry({ ...options, ringSize: 3 });
    for (let i = 0; i < 5; i++) running.tracer.startSpan(`s${i}`).end();
    expect(running.recentSpans().map((s) => s.name)).toEqual(['s2', 's3', 's4']);
  });

  it('refuses a second start while one runs, and starts again after shutdown', async () => {
    expect(activeTelemetry()).toBeUndefined();
    const first = await startTelemetry(options);
    expect(activeTelemetry()).toBe(first);
    await expect(startTelemetry(options)).rejects.toBeInstanceOf(TelemetryAlreadyStartedError);
    first.tracer.startSpan('first').end();
    await first.shutdown();
    await first.shutdown(); // idempotent
    expect(activeTelemetry()).toBeUndefined();

    running = await startTelemetry({ ...options, nodeId: 'n2' });
    running.tracer.startSpan('second').end();
    expect(running.recentSpans().map((s) => [s.name, s.resource.node])).toEqual([['second', 'n2']]);
    expect(first.recentSpans().map((s) => s.name)).toEqual(['first']);
  });

  it('refuses bad options with an error naming the field', async () => {
    await expect(startTelemetry({ ...options, ringSize: 0 })).rejects.toBeInstanceOf(
      InvalidPayloadError,
    );
    await expect(startTelemetry({ ...options, serviceName: '' })).rejects.toThrow(/serviceName/);
  });

  it('carries W3C trace context through NATS headers', async () => {
    running = await startTelemetry(options);
    const span = running.tracer.startSpan('publisher', { kind: SpanKind.PRODUCER });
    const h = natsHeaders(trace.setSpan(context.active(), span));
    span.end();
    const { traceId, spanId } = span.spanContext();
    expect(h.get('traceparent')).toBe(`00-${traceId}-${spanId}-01`);
    const remote = trace.getSpanContext(extractTraceContext(h));
    expect(remote).toMatchObject({ traceId, spanId, isRemote: true });
    expect(trace.getSpanContext(extractTraceContext(undefined))).toBeUndefined();
  });

  it('traceHeaders is undefined outside a span, and carries the span inside one', async () => {
    running = await startTelemetry(options);
    expect(traceHeaders()).toBeUndefined();
    const span = running.tracer.startSpan('outer');
    const h = traceHeaders(trace.setSpan(context.active(), span));
    span.end();
    expect(h?.get('traceparent')).toContain(span.spanContext().spanId);
  });

  it('answers GET /v1/traces queries: filter, limit, 400 naming a bad parameter, 503 when off', async () => {
    const q = (s: string) => new URLSearchParams(s);
    expect(recentSpansResponse(undefined, q('')).status).toBe(503);
    running = await startTelemetry(options);
    const a = running.tracer.startSpan('a');
    a.end();
    running.tracer.startSpan('b').end();
    running.tracer.startSpan('c').end();

    const all = recentSpansResponse(running, q(''));
    expect(all.status).toBe(200);
    if (all.status === 200) expect(all.body.spans.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    const limited = recentSpansResponse(running, q('limit=2'));
    if (limited.status === 200) expect(limited.body.spans.map((s) => s.name)).toEqual(['b', 'c']);
    const byTrace = recentSpansResponse(running, q(`traceId=${a.spanContext().traceId}`));
    if (byTrace.status === 200) expect(byTrace.body.spans.map((s) => s.name)).toEqual(['a']);

    for (const bad of ['limit=0', 'limit=lots', 'traceId=xyz']) {
      const out = recentSpansResponse(running, q(bad));
      expect(out.status).toBe(400);
      if (out.status !== 200) {
        expect(out.body.error.code).toBe('COX_INVALID_PAYLOAD');
        expect(out.body.error.message).toContain(bad.split('=')[0]);
      }
    }
  });
});
