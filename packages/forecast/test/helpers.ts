import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyObservation } from '../src/index.js';

/** Deterministic uniform numbers (mulberry32), so generated series are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws by Box-Muller. */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export function sine(n: number, period: number, amplitude = 10, offset = 50): Float64Array {
  return Float64Array.from(
    { length: n },
    (_, t) => offset + amplitude * Math.sin((2 * Math.PI * t) / period),
  );
}

/** The real traces, kept in the repository at traces/ (with their sources and licences). */
export function tracesDir(): string {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = join(repoRoot, 'traces');
  if (!existsSync(dir)) {
    throw new Error(`real traces not found at ${dir}: the repository's traces/ folder is missing`);
  }
  return dir;
}

export function observation(
  time: number,
  fields: Partial<PolicyObservation> = {},
): PolicyObservation {
  return { time, containerCount: 2, ...fields };
}
