/**
 * The open-model load runner behind `coxswain load`: Poisson arrivals at a rate that follows a shape
 * or a trace, each sent at its time whatever happened to the ones before, under a bound on requests
 * in flight. An arrival that finds the bound full is dropped and counted, never delayed.
 */
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { nextArrival, type RateAt } from './load-rate.js';

export interface LoadOptions {
  url: string;
  method: string;
  rate: RateAt;
  /** An upper bound of `rate` over the run (for thinning). */
  maxRate: number;
  durationSeconds: number;
  concurrency: number;
  timeoutMs: number;
  random: () => number;
  /** Called about every `progressMs` with the figures so far. */
  onProgress?: (s: LoadSummary) => void;
  progressMs?: number;
  /** Aborting ends the run early (Ctrl-C); the summary covers what ran. */
  signal?: AbortSignal;
}

export interface LoadSummary {
  elapsedSeconds: number;
  /** Arrivals so far: sent + dropped. */
  arrivals: number;
  sent: number;
  dropped: number;
  ok: number;
  errors: number;
  inFlight: number;
  /** Sent per second of elapsed time. */
  achievedRate: number;
  /** The rate the current second asks for. */
  offeredRate: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Deterministic uniform numbers in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadSummary> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000 });
  const c = { sent: 0, dropped: 0, ok: 0, errors: 0, inFlight: 0 };
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const summary = (): LoadSummary => {
    const e = Math.max(elapsed(), 1e-9);
    const pct = (p: number) =>
      histogram.totalCount ? histogram.getValueAtPercentile(p) / 1000 : 0;
    return {
      elapsedSeconds: e,
      arrivals: c.sent + c.dropped,
      ...c,
      achievedRate: c.sent / e,
      offeredRate: o.rate(Math.min(e, o.durationSeconds)),
      p50Ms: pct(50),
      p95Ms: pct(95),
      p99Ms: pct(99),
      maxMs: histogram.totalCount ? histogram.maxValue / 1000 : 0,
    };
  };
  const pending = new Set<Promise<void>>();
  const send = () => {
    if (c.inFlight >= o.concurrency) {
      c.dropped++;
      return;
    }
    c.sent++;
    c.inFlight++;
    const t0 = performance.now();
    const p = fetch(o.url, { method: o.method, signal: AbortSignal.timeout(o.timeoutMs) })
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.ok) c.ok++;
        else c.errors++;
      })
      .catch(() => {
        c.errors++;
      })
      .finally(() => {
        histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        c.inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  };
  const progress = o.onProgress
    ? setInterval(() => o.onProgress?.(summary()), o.progressMs ?? 1000)
    : undefined;
  try {
    let next = nextArrival(0, o.rate, o.maxRate, o.durationSeconds, o.random);
    while (next !== undefined && !o.signal?.aborted) {
      const wait = next * 1000 - (performance.now() - start);
      if (wait > 1) {
        await new Promise<void>((r) => setTimeout(r, Math.min(wait, 250)));
        continue;
      }
      send();
      next = nextArrival(next, o.rate, o.maxRate, o.durationSeconds, o.random);
    }
    const end = o.durationSeconds * 1000 - (performance.now() - start);
    if (end > 0 && !o.signal?.aborted) await new Promise<void>((r) => setTimeout(r, end));
    const at = summary();
    await Promise.allSettled([...pending]);
    const done = summary();
    return { ...done, elapsedSeconds: at.elapsedSeconds, achievedRate: at.achievedRate };
  } finally {
    if (progress) clearInterval(progress);
    histogram.destroy();
  }
}
