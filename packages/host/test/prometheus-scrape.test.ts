import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  extractRequestMetrics,
  histogramDelta,
  histogramQuantile,
  MetricsParseError,
  mergeHistogramDeltas,
  parsePrometheusText,
  requestFigures,
  ScrapeError,
  scrapeMetrics,
} from '../src/prometheus-scrape.js';

const FIXTURE_A = `# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 100
http_requests_total{method="POST",code="500"} 20
# HELP http_request_duration_seconds Latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{route="/a",le="0.01"} 50
http_request_duration_seconds_bucket{route="/a",le="0.1"} 100
http_request_duration_seconds_bucket{route="/a",le="1"} 120
http_request_duration_seconds_bucket{route="/a",le="+Inf"} 120
http_request_duration_seconds_sum{route="/a"} 9.5
http_request_duration_seconds_count{route="/a"} 120
process_cpu_seconds_total 1.5e+01
`;

// 10 s later: 200 more requests; of the 200 new observations, 100 <= 10 ms, 80 in (10 ms, 100 ms], 20 in (100 ms, 1 s].
const FIXTURE_B = FIXTURE_A.replace('code="200"} 100', 'code="200"} 280')
  .replace('code="500"} 20', 'code="500"} 40')
  .replace('le="0.01"} 50', 'le="0.01"} 150')
  .replace('le="0.1"} 100', 'le="0.1"} 280')
  .replace('le="1"} 120', 'le="1"} 320')
  .replace('le="+Inf"} 120', 'le="+Inf"} 320')
  .replace('_count{route="/a"} 120', '_count{route="/a"} 320');

describe('parsePrometheusText', () => {
  it('reads names, labels and values, skipping comments', () => {
    const samples = parsePrometheusText(FIXTURE_A);
    expect(samples).toHaveLength(9);
    expect(samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { method: 'GET', code: '200' },
      value: 100,
    });
    expect(samples.find((s) => s.labels.le === '+Inf')?.value).toBe(120);
    expect(samples.at(-1)).toEqual({ name: 'process_cpu_seconds_total', labels: {}, value: 15 });
  });
  it('handles escapes, commas and braces inside label values, and timestamps', () => {
    const [s] = parsePrometheusText('m{path="/a,b}",msg="say \\"hi\\"\\n"} 3 1700000000000\n');
    expect(s).toEqual({ name: 'm', labels: { path: '/a,b}', msg: 'say "hi"\n' }, value: 3 });
  });
  it('names the line of a broken sample', () => {
    expect(() => parsePrometheusText('ok 1\nbad{x="1" 2\n')).toThrow(MetricsParseError);
    expect(() => parsePrometheusText('ok 1\nnovalue\n')).toThrow(/line 2/);
    expect(() => parsePrometheusText('x abc\n')).toThrow(/bad value/);
  });
});

describe('extractRequestMetrics', () => {
  it('sums the counter over label sets and the histogram per bound', () => {
    const m = extractRequestMetrics(
      parsePrometheusText(FIXTURE_A),
      'http_requests_total',
      'http_request_duration_seconds',
    );
    expect(m.requests).toBe(120);
    expect(m.buckets).toEqual([
      { le: 0.01, count: 50 },
      { le: 0.1, count: 100 },
      { le: 1, count: 120 },
      { le: Number.POSITIVE_INFINITY, count: 120 },
    ]);
  });
  it('accepts the counter named without _total, and falls back to the histogram count', () => {
    expect(
      extractRequestMetrics(parsePrometheusText('reqs_total 7\n'), 'reqs', 'lat').requests,
    ).toBe(7);
    expect(
      extractRequestMetrics(parsePrometheusText('lat_count 9\n'), 'reqs', 'lat').requests,
    ).toBe(9);
  });
  it('leaves absent what is not there', () => {
    expect(extractRequestMetrics([], 'a', 'b')).toEqual({});
  });
});

describe('histogramQuantile', () => {
  it('interpolates inside the bucket holding the quantile', () => {
    const buckets = [
      { le: 0.1, count: 50 },
      { le: 0.2, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    // rank 95 of 100 lies 45/50 of the way through (0.1, 0.2].
    expect(histogramQuantile(0.95, buckets)).toBeCloseTo(0.19, 10);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.1, 10);
  });
  it('returns the highest finite bound when the quantile is in +Inf, undefined when empty', () => {
    expect(
      histogramQuantile(0.95, [
        { le: 1, count: 1 },
        { le: Number.POSITIVE_INFINITY, count: 100 },
      ]),
    ).toBe(1);
    expect(
      histogramQuantile(0.95, [
        { le: 1, count: 0 },
        { le: Number.POSITIVE_INFINITY, count: 0 },
      ]),
    ).toBeUndefined();
  });
});

describe('requestFigures between two scrapes', () => {
  const a = extractRequestMetrics(
    parsePrometheusText(FIXTURE_A),
    'http_requests_total',
    'http_request_duration_seconds',
  );
  const b = extractRequestMetrics(
    parsePrometheusText(FIXTURE_B),
    'http_requests_total',
    'http_request_duration_seconds',
  );
  it('derives rate /s and p95 ms of the interval', () => {
    const f = requestFigures({ atMs: 0, metrics: a }, { atMs: 10_000, metrics: b });
    expect(f.requestRatePerSecond).toBe(20);
    expect(f.requestsInInterval).toBe(200);
    // Interval histogram: 100 | 80 | 20 | 0 → rank 190 lies 10/20 into (0.1, 1] → 0.55 s.
    expect(f.p95LatencyMs).toBeCloseTo(550, 6);
  });
  it('yields nothing on the first scrape or after an app restart', () => {
    expect(requestFigures(undefined, { atMs: 0, metrics: a })).toEqual({});
    expect(requestFigures({ atMs: 0, metrics: b }, { atMs: 1000, metrics: a })).toEqual({});
  });
  it('merges replicas so the busy one weighs more', () => {
    const busy = histogramDelta(a.buckets!, b.buckets!)!;
    const idle = [
      { le: 0.01, count: 1 },
      { le: 0.1, count: 1 },
      { le: 1, count: 1 },
      { le: Number.POSITIVE_INFINITY, count: 1 },
    ];
    const merged = mergeHistogramDeltas([busy, idle])!;
    expect(merged.at(-1)!.count).toBe(201);
    expect(histogramQuantile(0.95, merged)! * 1000).toBeGreaterThan(500);
    expect(mergeHistogramDeltas([busy, [{ le: 5, count: 1 }]])).toBeUndefined();
  });
});

describe('scrapeMetrics', () => {
  it('fetches and parses over HTTP, and throws ScrapeError on HTTP errors', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/metrics') res.end(FIXTURE_A);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const m = await scrapeMetrics(
        `http://127.0.0.1:${port}/metrics`,
        'http_requests_total',
        'http_request_duration_seconds',
      );
      expect(m.requests).toBe(120);
      await expect(scrapeMetrics(`http://127.0.0.1:${port}/nope`, 'a', 'b')).rejects.toThrow(
        ScrapeError,
      );
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
