// Shared by the forecast-* and policy-* benchmarks: the real traces in the repository's traces/.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrace, type Trace } from '@coxswain/forecast';

/** The one place the benchmarks find the real traces: `traces/` in the repository. */
export function tracesDir(): string {
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'traces');
  if (!existsSync(dir))
    throw new Error(`real traces not found at ${dir} (the repository's traces/ folder)`);
  return dir;
}

/** Every CSV trace in traces/, parsed and validated. */
export function loadTraces(): Trace[] {
  const dir = tracesDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => parseTrace(readFileSync(join(dir, f), 'utf8'), f));
}
