// The pure parts of the lab demo: the trace window's rate, nginx's access log, the report's
// figures (percentiles, replica-seconds, seconds over the SLO) and its validation.
import { DemoReport } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { demoRate, jsonPathOf } from '../src/commands/lab-demo.js';
import { countNginxErrors, nginxConfig, parseAccessLog } from '../src/commands/lab-demo-nginx.js';
import {
  type ReplicaSample,
  ratesOf,
  renderDemoReport,
  replicaSecondsOf,
  seriesOf,
  serviceReport,
  sloSecondsOf,
} from '../src/commands/lab-demo-report.js';
import { traceClock } from '../src/commands/lab-demo-view.js';

const trace = {
  name: 't',
  stepSeconds: 60,
  // Two hours: a quiet hour, then a busy one.
  counts: Float64Array.from({ length: 120 }, (_, i) => (i < 60 ? 60 : 240)),
};

describe('demoRate', () => {
  it('compresses the window into the load and scales its smoothed peak to peakRps', () => {
    const r = demoRate(trace, 0, 7200, 120, 20);
    expect(r.speedup).toBe(60);
    expect(r.rate(10)).toBeCloseTo(5, 6); // a quarter of the peak in the quiet hour
    expect(r.rate(90)).toBeCloseTo(20, 6);
    expect(r.rate(130)).toBe(0); // past the window
    expect(r.maxRate).toBeGreaterThanOrEqual(20);
  });

  it('starts the window where asked and refuses one outside the trace', () => {
    expect(demoRate(trace, 3600, 3600, 60, 10).rate(1)).toBeCloseTo(10, 6);
    expect(() => demoRate(trace, 3600, 7200, 60, 10)).toThrow(/outside t/);
  });
});

describe('nginx', () => {
  it('parses the access log by server port and skips lines that do not fit', () => {
    const log = [
      '1700000000.123 8001 200 0.012',
      '1700000000.500 8002 502 1.500',
      '1700000001.000 9999 200 0.001',
      'garbage',
      '1700000001.2',
    ].join('\n');
    const parsed = parseAccessLog(
      log,
      new Map([
        [8001, 'order'],
        [8002, 'storage'],
      ]),
    );
    expect(parsed).toEqual([
      { atEpochMs: 1700000000123, service: 'order', status: 200, seconds: 0.012 },
      { atEpochMs: 1700000000500, service: 'storage', status: 502, seconds: 1.5 },
    ]);
  });

  it('writes one server per service, each with its upstream file included', () => {
    const conf = nginxConfig('/d', '10.0.0.1', [
      { name: 'order', port: 8001 },
      { name: 'storage', port: 8002 },
    ]);
    expect(conf).toContain('include /d/order-upstream.conf;');
    expect(conf).toContain('listen 10.0.0.1:8002;');
    expect(conf).toContain('proxy_pass http://storage;');
  });
});

describe('the report', () => {
  it("takes nearest-rank percentiles of nginx's request times", () => {
    const accesses = Array.from({ length: 100 }, (_, i) => ({
      atEpochMs: 1000 + i,
      service: 'order',
      status: 200,
      seconds: (100 - i) / 1000, // 100 ms down to 1 ms: the percentile sorts
    }));
    const svc = serviceReport('order', undefined, accesses, [], [], 0);
    expect([svc.p50Ms, svc.p95Ms, svc.p99Ms]).toEqual([50, 95, 99]);
    expect(serviceReport('order', undefined, [], [], [], 0).p50Ms).toBeNull();
  });

  it("takes the series: offered load from nginx's log between samples, rates as sampled", () => {
    const at = (ms: number, running: number, rates?: { measuredRps?: number }): ReplicaSample => ({
      atMs: 500 + ms,
      atEpochMs: 1_000_000 + ms,
      services: new Map([['order', { running, desired: running + 1 }]]),
      ...(rates ? { rates: new Map([['order', rates]]) } : {}),
    });
    const hit = (ms: number, service = 'order') => ({
      atEpochMs: 1_000_000 + ms,
      service,
      status: 200,
      seconds: 0.01,
    });
    const accesses = [hit(100), hit(900), hit(1000), hit(1500), hit(1600, 'storage'), hit(2500)];
    const series = seriesOf(
      'order',
      accesses,
      [at(0, 1), at(1000, 1, { measuredRps: 2.345 }), at(3000, 2)],
      500,
    );
    expect(series).toEqual([
      {
        atSeconds: 0,
        offeredRps: null,
        measuredRps: null,
        forecastRps: null,
        desired: 2,
        running: 1,
      },
      { atSeconds: 1, offeredRps: 3, measuredRps: 2.35, forecastRps: null, desired: 2, running: 1 },
      { atSeconds: 3, offeredRps: 1, measuredRps: null, forecastRps: null, desired: 3, running: 2 },
    ]);
    // A sample without a wall-clock time (a caller that does not record it) gives no offered load.
    expect(
      seriesOf('order', accesses, [{ atMs: 0, services: new Map() }, at(1000, 1)], 0)[1],
    ).toMatchObject({ offeredRps: null, running: 1 });
    expect(ratesOf(new Map([['order', { rate: 4, forecast: undefined }]])).get('order')).toEqual({
      measuredRps: 4,
    });
  });

  it('integrates replicas over the samples and counts seconds over the SLO', () => {
    const s = (atMs: number, running: number): ReplicaSample => ({
      atMs,
      services: new Map([['order', { running, desired: running }]]),
    });
    expect(replicaSecondsOf([s(0, 2), s(1000, 4), s(3000, 1)], 'order')).toBe(10);
    const a = (atEpochMs: number, seconds: number) => ({
      atEpochMs,
      service: 'order',
      status: 200,
      seconds,
    });
    expect(sloSecondsOf([a(0, 0.01), a(500, 0.02), a(1200, 0.5), a(3000, 0.01)], 300)).toEqual({
      over: 1,
      withRequests: 3,
    });
  });

  it('reports a service and renders a report its schema accepts', () => {
    const svc = serviceReport(
      'order',
      300,
      [
        { atEpochMs: 1000, service: 'order', status: 200, seconds: 0.05 },
        { atEpochMs: 1100, service: 'order', status: 502, seconds: 0.1 },
      ],
      [
        { atMs: 0, services: new Map([['order', { running: 1, desired: 1 }]]) },
        { atMs: 2000, services: new Map([['order', { running: 2, desired: 2 }]]) },
      ],
      [{ atMs: 1500, service: 'order', from: 1, to: 2, reason: 'now 10 req/s → 2' }],
      0,
    );
    expect(svc).toMatchObject({ requests: 2, ok: 1, okPercent: 50, scaleUps: 1, scaleDowns: 0 });
    expect(svc.decisions).toEqual([{ atSeconds: 1.5, from: 1, to: 2, reason: 'now 10 req/s → 2' }]);
    const report = {
      startedAt: '2026-01-01T00:00:00.000Z',
      setupSeconds: 40,
      loadSeconds: 150,
      totalSeconds: 200,
      trace: { file: 'x.csv', fromSeconds: 0, traceSeconds: 86400, speedup: 576, peakRps: 20 },
      load: { sent: 2, ok: 1, errors: 1, dropped: 0, p50Ms: 50, p95Ms: 100, p99Ms: 100 },
      nginxReloads: 3,
      nginxErrors: { 'upstream timed out (Connection timed out)': 1 },
      services: [svc],
      chaos: null,
      outcome: 'completed',
      cleanup: { pids: [1], netns: ['n'], leftRunning: [] },
    };
    expect(DemoReport.safeParse(report).success).toBe(true);
    expect(DemoReport.safeParse({ ...report, services: [{ name: 'x' }] }).success).toBe(false);
    const text = renderDemoReport(report);
    expect(text).toContain('order decisions: 2s 1→2');
    expect(text).toContain('nothing left running');
    expect(text).toContain('order failed answers: 502 ×1');
    expect(text).toContain('upstream timed out (Connection timed out) ×1');
  });

  it("counts nginx's errors by cause", () => {
    const log = [
      '2026/12/02 15:55:10 [error] 7346#7346: *3887 no live upstreams while connecting to upstream, client: 10.1.1.1',
      '2026/12/02 15:55:11 [error] 7346#7346: *3495 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.1.1.1',
      '2026/12/02 15:55:12 [error] 7346#7346: *3496 upstream timed out (110: Connection timed out) while reading response header from upstream',
      '2026/12/02 15:55:11 [warn] 7346#7346: *3495 upstream server temporarily disabled while reading',
      '2026/12/02 15:52:50 [notice] 5351#5351: signal process started',
    ].join('\n');
    expect(countNginxErrors(log)).toEqual({
      'no live upstreams': 1,
      'upstream timed out (Connection timed out)': 2,
    });
  });

  it('puts the JSON beside the text, and tells trace time', () => {
    expect(jsonPathOf('/tmp/r.txt')).toBe('/tmp/r.json');
    expect(jsonPathOf('/tmp/r')).toBe('/tmp/r.json');
    expect(traceClock(4 * 86400 + 14 * 3600 + 5 * 60)).toBe('day 5 14:05');
  });
});
