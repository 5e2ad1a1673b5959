import type { Trace } from './trace.js';

/** The families of generated traces; each stands for a shape of traffic a user may bring. */
export const SYNTHETIC_FAMILIES = ['diurnal', 'trend', 'flash', 'onoff', 'ramp'] as const;
export type SyntheticFamily = (typeof SYNTHETIC_FAMILIES)[number];

/**
 * Seeds used for tuning and training (defaults, the learned policy's table) are below this;
 * evaluation seeds are at or above it, so no default is ever chosen on a trace it is judged on.
 */
export const EVALUATION_SEED_BASE = 1_000_000;

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
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

interface Draw {
  u(): number;
  range(lo: number, hi: number): number;
  normal(): number;
  /** A Poisson count (normal approximation above 50). */
  poisson(mean: number): number;
}

function draw(seed: number): Draw {
  const u = seededRandom(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  return {
    u,
    range: (lo, hi) => lo + (hi - lo) * u(),
    normal,
    poisson(mean) {
      if (mean <= 0) return 0;
      if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal()));
      const l = Math.exp(-mean);
      let k = 0;
      let p = 1;
      do {
        k++;
        p *= u();
      } while (p > l);
      return k - 1;
    },
  };
}

const DAY = 86_400;

/** Layout of one family: bin width and number of bins (each about a thousand bins, a few seconds to simulate). */
const LAYOUT: Record<SyntheticFamily, { stepSeconds: number; bins: number }> = {
  diurnal: { stepSeconds: 900, bins: 14 * 96 }, // two weeks at 15 min: daily and weekly cycles
  trend: { stepSeconds: 300, bins: 4 * 288 }, // four days at 5 min: a daily cycle on a growing base
  flash: { stepSeconds: 60, bins: 1440 }, // one day per minute
  onoff: { stepSeconds: 60, bins: 1440 },
  ramp: { stepSeconds: 60, bins: 1440 },
};

/** A mean rate (req/s) for bin i of the family; `d` carries the family's random draws. */
type Shape = (t: number, d: Draw) => number;

function diurnalShape(d: Draw): Shape {
  const base = d.range(20, 400);
  const amp = d.range(0.4, 0.85);
  const weekend = d.range(0.5, 0.9);
  const phase = d.range(0, 2 * Math.PI);
  const noise = d.range(0.03, 0.15);
  return (t, r) => {
    const day = Math.floor(t / DAY) % 7;
    const cycle = 1 + amp * Math.sin((2 * Math.PI * t) / DAY + phase);
    const week = day >= 5 ? weekend : 1;
    return base * cycle * week * Math.exp(noise * r.normal());
  };
}

function trendShape(d: Draw, span: number): Shape {
  const base = d.range(20, 300);
  const growth = d.u() < 0.75 ? d.range(1.5, 4) : d.range(0.3, 0.7); // mostly growth, sometimes decline
  const amp = d.range(0.2, 0.6);
  const phase = d.range(0, 2 * Math.PI);
  const noise = d.range(0.03, 0.12);
  return (t, r) => {
    const level = base * (1 + ((growth - 1) * t) / span);
    return (
      level * (1 + amp * Math.sin((2 * Math.PI * t) / DAY + phase)) * Math.exp(noise * r.normal())
    );
  };
}

interface Spike {
  start: number;
  rise: number;
  hold: number;
  decay: number;
  factor: number;
}

function flashShape(d: Draw, span: number): Shape {
  const base = d.range(10, 200);
  const amp = d.range(0.1, 0.5);
  const phase = d.range(0, 2 * Math.PI);
  const spikes: Spike[] = Array.from({ length: 1 + Math.floor(d.u() * 4) }, () => ({
    start: d.range(0.15, 0.95) * span,
    rise: d.range(60, 300), // 5–50× within one to five minutes
    hold: d.range(300, 1800),
    decay: d.range(600, 3600),
    factor: Math.exp(d.range(Math.log(5), Math.log(50))),
  }));
  return (t, r) => {
    let m = 1;
    for (const s of spikes) {
      const x = t - s.start;
      if (x < 0) continue;
      const extra = s.factor - 1;
      if (x < s.rise) m += (extra * x) / s.rise;
      else if (x < s.rise + s.hold) m += extra;
      else m += extra * Math.exp(-(x - s.rise - s.hold) / s.decay);
    }
    return (
      base * (1 + amp * Math.sin((2 * Math.PI * t) / DAY + phase)) * m * (1 + 0.05 * r.normal())
    );
  };
}

function onoffShape(d: Draw, span: number): Shape {
  const base = d.range(10, 300);
  const meanGap = d.range(900, 3600);
  const bursts: { start: number; length: number; factor: number }[] = [];
  for (let t = d.range(0, meanGap); t < span; t += -Math.log(1 - d.u()) * meanGap) {
    // Heavy-tailed burst heights like the Azure trace's: mostly 3–10×, sometimes 30×.
    bursts.push({
      start: t,
      length: d.range(60, 300),
      factor: 2 + Math.exp(d.range(0, Math.log(30))),
    });
  }
  const noise = d.range(0.1, 0.3);
  return (t, r) => {
    let m = 1;
    for (const b of bursts) if (t >= b.start && t < b.start + b.length) m = Math.max(m, b.factor);
    return base * m * Math.exp(noise * r.normal());
  };
}

function rampShape(d: Draw, span: number): Shape {
  const base = d.range(10, 200);
  const ramps: { start: number; up: number; hold: number; down: number; factor: number }[] = [];
  let t = d.range(0.05, 0.2) * span;
  while (t < span) {
    const r = {
      start: t,
      up: d.range(3600, 4 * 3600), // one to four hours up
      hold: d.range(1800, 3 * 3600),
      down: d.range(3600, 4 * 3600),
      factor: d.range(3, 10),
    };
    ramps.push(r);
    t += r.up + r.hold + r.down + d.range(1800, 4 * 3600);
  }
  const noise = d.range(0.03, 0.12);
  return (x, r) => {
    let m = 1;
    for (const p of ramps) {
      const y = x - p.start;
      if (y < 0 || y > p.up + p.hold + p.down) continue;
      const e = p.factor - 1;
      m +=
        y < p.up ? (e * y) / p.up : y < p.up + p.hold ? e : e * (1 - (y - p.up - p.hold) / p.down);
    }
    return base * m * Math.exp(noise * r.normal());
  };
}

/**
 * A generated request trace: counts per bin drawn as Poisson around the
 * family's mean rate. The same (family, seed) gives the same trace everywhere.
 *
 * - diurnal: daily sine with a random phase, weekends lower, log-normal noise (two weeks, 15-min bins)
 * - trend: a daily cycle on a base growing 1.5–4× (or shrinking) over four days (5-min bins)
 * - flash: one to four flash crowds, 5–50× within 1–5 minutes, held 5–30 min, decaying (one day, 1-min bins)
 * - onoff: Azure-like bursts of 1–5 minutes at 3–32× a noisy base, Poisson arrivals (one day, 1-min bins)
 * - ramp: slow ramps up 3–10× over 1–4 hours, held, ramped down (one day, 1-min bins)
 */
export function syntheticTrace(family: SyntheticFamily, seed: number): Trace {
  const { stepSeconds, bins } = LAYOUT[family];
  const span = stepSeconds * bins;
  const d = draw(seed * 7919 + SYNTHETIC_FAMILIES.indexOf(family));
  const shape =
    family === 'diurnal'
      ? diurnalShape(d)
      : family === 'trend'
        ? trendShape(d, span)
        : family === 'flash'
          ? flashShape(d, span)
          : family === 'onoff'
            ? onoffShape(d, span)
            : rampShape(d, span);
  const counts = new Float64Array(bins);
  for (let i = 0; i < bins; i++) {
    const rate = Math.max(0, shape((i + 0.5) * stepSeconds, d));
    counts[i] = d.poisson(rate * stepSeconds);
  }
  return { name: `${family}-${seed}`, stepSeconds, counts };
}

/** `count` traces of a family with seeds `firstSeed`, `firstSeed + 1`, … */
export function syntheticTraces(
  family: SyntheticFamily,
  firstSeed: number,
  count: number,
): Trace[] {
  return Array.from({ length: count }, (_, i) => syntheticTrace(family, firstSeed + i));
}
