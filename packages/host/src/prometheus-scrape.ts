/**
 * Scrapes a replica's Prometheus endpoint for two things: its request counter
 * and its latency histogram (seconds). The parser and the rate/p95 arithmetic
 * are pure; `scrapeMetrics` is the only I/O (Node's fetch with a timeout).
 *
 * Request rate and p95 come from the *difference* between two scrapes, so they
 * describe the last interval, not the process's lifetime. p95 is found the way
 * Prometheus' histogram_quantile does: locate the bucket holding the 95th
 * percentile observation and interpolate linearly inside it.
 */
import { CoxswainError } from '@coxswain/protocol';

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class MetricsParseError extends CoxswainError {
  readonly line: number;
  constructor(line: number, detail: string) {
    super('COX_METRICS_PARSE', `metrics line ${line}: ${detail}`);
    this.line = line;
  }
}

export class ScrapeError extends CoxswainError {
  readonly url: string;
  constructor(url: string, detail: string, options?: { cause?: unknown }) {
    super('COX_SCRAPE_FAILED', `scrape ${url}: ${detail}`, options);
    this.url = url;
  }
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  return Number(text);
}

function parseLabels(body: string, lineNo: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    while (body[i] === ' ' || body[i] === ',') i++;
    if (i >= body.length) break;
    const eq = body.indexOf('=', i);
    if (eq < 0) throw new MetricsParseError(lineNo, 'label without "="');
    const key = body.slice(i, eq).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key))
      throw new MetricsParseError(lineNo, `bad label name ${JSON.stringify(key)}`);
    i = eq + 1;
    if (body[i] !== '"') throw new MetricsParseError(lineNo, `label ${key} value not quoted`);
    i++;
    let value = '';
    for (;;) {
      if (i >= body.length)
        throw new MetricsParseError(lineNo, `unterminated value of label ${key}`);
      const ch = body[i]!;
      if (ch === '\\') {
        const next = body[i + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        i += 2;
      } else if (ch === '"') {
        i++;
        break;
      } else {
        value += ch;
        i++;
      }
    }
    labels[key] = value;
  }
  return labels;
}

/** Parses Prometheus text exposition format (0.0.4). Comments and TYPE/HELP lines are skipped. */
export function parsePrometheusText(text: string): PromSample[] {
  const samples: PromSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const lineNo = n + 1;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new MetricsParseError(lineNo, 'no metric name');
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      // Find the closing brace outside quoted values.
      let i = 1;
      let quoted = false;
      for (; i < rest.length; i++) {
        const ch = rest[i];
        if (quoted && ch === '\\') i++;
        else if (ch === '"') quoted = !quoted;
        else if (ch === '}' && !quoted) break;
      }
      if (i >= rest.length) throw new MetricsParseError(lineNo, 'unterminated label set');
      labels = parseLabels(rest.slice(1, i), lineNo);
      rest = rest.slice(i + 1);
    }
    const parts = rest.trim().split(/\s+/);
    const valueText = parts[0];
    if (valueText === undefined || valueText === '')
      throw new MetricsParseError(lineNo, `no value for ${name}`);
    const value = parseValue(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN')
      throw new MetricsParseError(lineNo, `bad value ${JSON.stringify(valueText)}`);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The two things we want from one scrape, summed over every label set (method, route, code...). */
export interface RequestMetrics {
  /** Cumulative requests, or undefined when the counter is missing. */
  readonly requests?: number;
  /** Cumulative histogram: upper bound (seconds) → cumulative count, sorted, ending with +Inf. */
  readonly buckets?: ReadonlyArray<{ readonly le: number; readonly count: number }>;
}

/**
 * Extracts the request counter and the latency histogram. The counter may be
 * named with or without `_total` (client libraries differ); the histogram's
 * `_count` stands in for a missing counter.
 */
export function extractRequestMetrics(
  samples: readonly PromSample[],
  requestCounter: string,
  latencyHistogram: string,
): RequestMetrics {
  const counterNames = new Set([
    requestCounter,
    requestCounter.endsWith('_total') ? requestCounter.slice(0, -6) : `${requestCounter}_total`,
  ]);
  let requests: number | undefined;
  let histogramCount: number | undefined;
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (counterNames.has(s.name)) requests = (requests ?? 0) + s.value;
    else if (s.name === `${latencyHistogram}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) continue;
      const bound = parseValue(le);
      if (Number.isNaN(bound)) continue;
      byLe.set(bound, (byLe.get(bound) ?? 0) + s.value);
    } else if (s.name === `${latencyHistogram}_count`)
      histogramCount = (histogramCount ?? 0) + s.value;
  }
  const buckets = [...byLe.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([le, count]) => ({ le, count }));
  return {
    ...(requests !== undefined
      ? { requests }
      : histogramCount !== undefined
        ? { requests: histogramCount }
        : {}),
    ...(buckets.length > 0 ? { buckets } : {}),
  };
}

/**
 * Quantile (0..1) of a cumulative histogram, in the histogram's unit, by linear
 * interpolation inside the bucket that holds it (as PromQL histogram_quantile).
 * Undefined when the histogram holds no observations. When the quantile falls in
 * the +Inf bucket, the highest finite bound is returned: we cannot know more.
 */
export function histogramQuantile(
  q: number,
  buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>,
): number | undefined {
  if (buckets.length === 0) return undefined;
  const last = buckets[buckets.length - 1]!;
  const total = last.count;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return lowerBound;
      const inBucket = b.count - lowerCount;
      if (inBucket <= 0) return b.le;
      return lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}

/** Bucket-wise difference of two cumulative histograms; undefined when the bounds differ or a count fell (restart). */
export function histogramDelta(
  previous: ReadonlyArray<{ readonly le: number; readonly count: number }>,
  current: ReadonlyArray<{ readonly le: number; readonly count: number }>,
): Array<{ le: number; count: number }> | undefined {
  if (previous.length !== current.length) return undefined;
  const out: Array<{ le: number; count: number }> = [];
  for (let i = 0; i < current.length; i++) {
    const p = previous[i]!;
    const c = current[i]!;
    if (p.le !== c.le || c.count < p.count) return undefined;
    out.push({ le: c.le, count: c.count - p.count });
  }
  return out;
}

export interface ScrapeSnapshot {
  /** Monotonic ms (performance.now()). */
  readonly atMs: number;
  readonly metrics: RequestMetrics;
}

export interface RequestFigures {
  readonly requestRatePerSecond?: number;
  readonly p95LatencyMs?: number;
  /** Requests observed in the interval, to weight a per-service p95 merge. */
  readonly requestsInInterval?: number;
}

/**
 * Request rate and p95 over the interval between two scrapes of one replica.
 * A counter that went backwards (the app restarted) yields nothing for this
 * interval rather than a negative or inflated figure.
 */
export function requestFigures(
  previous: ScrapeSnapshot | undefined,
  current: ScrapeSnapshot,
): RequestFigures {
  if (previous === undefined) return {};
  const elapsedMs = current.atMs - previous.atMs;
  if (!(elapsedMs > 0)) return {};
  const out: { requestRatePerSecond?: number; p95LatencyMs?: number; requestsInInterval?: number } =
    {};
  const a = previous.metrics.requests;
  const b = current.metrics.requests;
  if (a !== undefined && b !== undefined && b >= a) {
    out.requestRatePerSecond = ((b - a) * 1000) / elapsedMs;
    out.requestsInInterval = b - a;
  }
  if (previous.metrics.buckets && current.metrics.buckets) {
    const delta = histogramDelta(previous.metrics.buckets, current.metrics.buckets);
    if (delta) {
      const p95 = histogramQuantile(0.95, delta);
      if (p95 !== undefined) out.p95LatencyMs = p95 * 1000;
      out.requestsInInterval ??= delta[delta.length - 1]!.count;
    }
  }
  return out;
}

/**
 * Merges per-replica deltas into one service histogram before taking p95, so
 * a busy replica weighs more than an idle one (averaging p95s would not).
 */
export function mergeHistogramDeltas(
  deltas: ReadonlyArray<ReadonlyArray<{ readonly le: number; readonly count: number }>>,
): Array<{ le: number; count: number }> | undefined {
  const first = deltas[0];
  if (!first) return undefined;
  const merged = first.map((b) => ({ le: b.le, count: 0 }));
  for (const d of deltas) {
    if (d.length !== merged.length || d.some((b, i) => b.le !== merged[i]!.le)) return undefined;
    d.forEach((b, i) => {
      merged[i]!.count += b.count;
    });
  }
  return merged;
}

/** Fetches and parses one endpoint; throws ScrapeError (callers in loops catch and count it). */
export async function scrapeMetrics(
  url: string,
  requestCounter: string,
  latencyHistogram: string,
  timeoutMs = 800,
): Promise<RequestMetrics> {
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new ScrapeError(url, `HTTP ${response.status}`);
    text = await response.text();
  } catch (cause) {
    if (cause instanceof ScrapeError) throw cause;
    throw new ScrapeError(url, cause instanceof Error ? cause.message : String(cause), { cause });
  }
  try {
    return extractRequestMetrics(parsePrometheusText(text), requestCounter, latencyHistogram);
  } catch (cause) {
    throw new ScrapeError(url, cause instanceof Error ? cause.message : String(cause), { cause });
  }
}
