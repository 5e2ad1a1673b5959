// What tracing costs: a span into the ring, withSpan around an async call, and
// NATS publish and request/reply with and without trace context, against a real
// nats-server. Untraced and traced variants run interleaved in the same process
// so machine noise hits both alike; compare the ratios, not the absolute figures.
import { performance } from 'node:perf_hooks';
import {
  publishTraced,
  requestTraced,
  startTelemetry,
  withConsumerSpan,
  withSpan,
} from '@coxswain/telemetry';
import { NatsServer } from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import { type Figure, percentile, recordResult } from './lib/results.js';

const payload = new TextEncoder().encode(
  JSON.stringify({ seq: 1, figures: new Array(16).fill(0.5) }),
);

/** Per-operation microseconds of `rounds` batches of `batch` calls. */
async function perOpMicros(
  rounds: number,
  batch: number,
  op: () => void | Promise<void>,
): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) await op();
    out.push(((performance.now() - t0) * 1000) / batch);
  }
  return out;
}

const median = (xs: number[]) => percentile(xs, 50);

function figure(name: string, unit: string, samples: number[], target?: string): Figure {
  return {
    name,
    value: median(samples),
    unit,
    p50: median(samples),
    p99: percentile(samples, 99),
    samples: samples.length,
    ...(target ? { target } : {}),
  };
}

/** Publishes `count` messages and waits until the server has them (flush). */
async function publishBatch(nc: NatsConnection, count: number, traced: boolean): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    if (traced) publishTraced(nc, 'bench.tel.pub', payload);
    else nc.publish('bench.tel.pub', payload);
  }
  await nc.flush();
  return ((performance.now() - t0) * 1000) / count;
}

export async function run(): Promise<void> {
  await using ns = await NatsServer.start();
  const nc = await connect({ servers: ns.url });
  const responderNc = await connect({ servers: ns.url });
  try {
    // Responders: plain echo, and one that continues the trace in a SERVER span.
    const plain = responderNc.subscribe('bench.tel.req.plain');
    void (async () => {
      for await (const m of plain) m.respond(m.data);
    })();
    const traced = responderNc.subscribe('bench.tel.req.traced');
    void (async () => {
      for await (const m of traced) await withConsumerSpan(m, 'process', () => m.respond(m.data));
    })();
    await responderNc.flush();

    // Before any SDK: the API's no-op spans.
    const publishNoSdk: number[] = [];
    for (let r = 0; r < 20; r++) publishNoSdk.push(await publishBatch(nc, 5_000, true));

    const telemetry = await startTelemetry({
      serviceName: 'bench',
      cluster: 'bench',
      nodeId: 'n1',
      host: 'bench',
      env: {}, // ring only: no OTLP export in this benchmark
    });
    try {
      const { tracer } = telemetry;
      const spanCost = await perOpMicros(100, 2_000, () => tracer.startSpan('s').end());
      const withSpanCost = await perOpMicros(100, 1_000, () =>
        withSpan(tracer, 'w', {}, async () => {}),
      );
      const asyncBaseline = await perOpMicros(100, 1_000, async () => {});

      const publishPlain: number[] = [];
      const publishTracedUs: number[] = [];
      for (let r = 0; r < 20; r++) {
        publishPlain.push(await publishBatch(nc, 5_000, false));
        publishTracedUs.push(await publishBatch(nc, 5_000, true));
      }

      const rttPlain: number[] = [];
      const rttTraced: number[] = [];
      for (let i = 0; i < 3_000; i++) {
        let t0 = performance.now();
        await nc.request('bench.tel.req.plain', payload, { timeout: 5_000 });
        rttPlain.push((performance.now() - t0) * 1000);
        t0 = performance.now();
        await requestTraced(nc, 'bench.tel.req.traced', payload, { timeout: 5_000 });
        rttTraced.push((performance.now() - t0) * 1000);
      }

      const figures: Figure[] = [
        figure('span start+end into the ring', 'µs/span', spanCost),
        figure('withSpan around an empty async fn', 'µs/call', withSpanCost),
        figure('empty async fn, no span (baseline)', 'µs/call', asyncBaseline),
        figure('publish, plain nc.publish', 'µs/msg', publishPlain),
        figure('publishTraced (PRODUCER span + traceparent)', 'µs/msg', publishTracedUs),
        figure('publishTraced before the SDK starts (no-op spans)', 'µs/msg', publishNoSdk),
        figure('request/reply RTT, plain', 'µs', rttPlain),
        figure('requestTraced + withConsumerSpan RTT', 'µs', rttTraced),
      ];
      const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
      recordResult({
        benchmark: 'telemetry-overhead',
        figures,
        notes: [
          `Traced/plain ratios, same run: publish ${ratio(publishTracedUs, publishPlain)}×, request RTT ${ratio(rttTraced, rttPlain)}× (p99 ${(percentile(rttTraced, 99) / percentile(rttPlain, 99)).toFixed(2)}×).`,
          'Span figures are per-op means of 100 batches (2,000 spans or 1,000 calls each), p50/p99 over batches.',
          'Publish figures: 20 interleaved rounds of 5,000 messages each (85-byte payload) to a local nats-server, flushed per round.',
          'RTT: 3,000 interleaved request pairs from one connection to a responder on another; the traced responder handles inside withConsumerSpan.',
          'Telemetry ran with the in-memory ring only (no OTLP exporter); OTLP export is batched off the hot path.',
        ].join(' '),
      });
      for (const f of figures)
        console.log(`${f.name}: p50 ${f.p50?.toFixed(2)} ${f.unit}, p99 ${f.p99?.toFixed(2)}`);
    } finally {
      await telemetry.shutdown();
    }
  } finally {
    await nc.close();
    await responderNc.close();
  }
}
