// Shared by the forecast-* and policy-* benchmarks: the real traces beside the repository.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrace, type Trace } from '@coxswain/forecast';

/**
 * The one place the benchmarks find the real traces: `traces/` in the repository
 * once they are moved in, else `../shared/traces` beside it.
 */
export function tracesDir(): string {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  for (const dir of [join(repo, 'traces'), resolve(repo, '..', 'shared', 'traces')]) {
    if (existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.csv'))) return dir;
  }
  throw new Error(
    `real traces not found in ${join(repo, 'traces')} or ${resolve(repo, '..', 'shared', 'traces')}`,
  );
}

/** Every CSV trace in ../shared/traces, parsed and validated. */
export function loadTraces(): Trace[] {
  const dir = tracesDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => parseTrace(readFileSync(join(dir, f), 'utf8'), f));
}
