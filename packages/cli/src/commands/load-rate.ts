/**
 * The offered rate of `coxswain load` over time, and its Poisson arrivals: pure (no clock, no I/O),
 * so unit-tested. A rate is requests per second as a function of seconds since the start.
 */
import type { Trace } from '@coxswain/forecast';
import { InvalidArgumentError } from 'commander';

export type RateAt = (tSeconds: number) => number;

export const SHAPES = ['constant', 'ramp', 'step', 'spike', 'sine'] as const;
export type Shape = (typeof SHAPES)[number];

export interface ShapeParams {
  /** The base rate (req/s). */
  rate: number;
  /** The peak rate for ramp, step, spike and sine (req/s). */
  peak: number;
  /** The run's length in seconds (ramp goes base → peak over it; step and spike sit in its middle). */
  durationSeconds: number;
  /** Sine period in seconds. */
  periodSeconds: number;
}

export function shapeRate(shape: Shape, p: ShapeParams): RateAt {
  const d = p.durationSeconds;
  switch (shape) {
    case 'constant':
      return () => p.rate;
    case 'ramp':
      return (t) => p.rate + (p.peak - p.rate) * Math.min(1, Math.max(0, t / d));
    case 'step':
      return (t) => (t >= d / 2 ? p.peak : p.rate);
    case 'spike':
      return (t) => (t >= d * 0.4 && t < d * 0.6 ? p.peak : p.rate);
    case 'sine':
      return (t) =>
        p.rate + ((p.peak - p.rate) / 2) * (1 - Math.cos((2 * Math.PI * t) / p.periodSeconds));
  }
}

export function parseShape(text: string): Shape {
  if ((SHAPES as readonly string[]).includes(text)) return text as Shape;
  throw new InvalidArgumentError(`shape must be one of ${SHAPES.join('|')}, got ${text}`);
}

/**
 * A trace replayed `speedup` times faster: bin i of the trace covers [i, i+1) · step / speedup seconds
 * of the run, at counts[i] / step · speedup · scale req/s. Past the end, the rate is 0.
 */
export function traceRate(trace: Trace, speedup: number, scale = 1): RateAt {
  const binSeconds = trace.stepSeconds / speedup;
  return (t) => {
    const i = Math.floor(t / binSeconds);
    if (i < 0 || i >= trace.counts.length) return 0;
    return ((trace.counts[i] ?? 0) / trace.stepSeconds) * speedup * scale;
  };
}

/** How long the trace lasts when replayed `speedup` times faster, in seconds. */
export function traceSeconds(trace: Trace, speedup: number): number {
  return (trace.counts.length * trace.stepSeconds) / speedup;
}

/**
 * The next arrival after `t` of a non-homogeneous Poisson process with rate `rate` (bounded by
 * `maxRate`), by thinning (Lewis and Shedler): undefined when none comes before `end`.
 * `random` returns uniform numbers in [0, 1).
 */
export function nextArrival(
  t: number,
  rate: RateAt,
  maxRate: number,
  end: number,
  random: () => number,
): number | undefined {
  if (!(maxRate > 0)) return undefined;
  let at = t;
  for (;;) {
    at += -Math.log(1 - random()) / maxRate;
    if (at >= end) return undefined;
    if (random() * maxRate < rate(at)) return at;
  }
}

/** The highest rate `rate` takes on [0, end], sampled every `step` seconds (for thinning's bound). */
export function maxRateOf(rate: RateAt, end: number, step = 0.05): number {
  let max = 0;
  for (let t = 0; t <= end; t += step) max = Math.max(max, rate(t));
  return max * 1.0001;
}
