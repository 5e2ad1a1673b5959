import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One measured figure. `peer` is the same figure measured for the peer (etcd, Swarm, HPA...) in the same run. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly p50?: number;
  readonly p99?: number;
  readonly samples?: number;
  readonly target?: string;
  readonly peer?: {
    readonly name: string;
    readonly value: number;
    readonly p50?: number;
    readonly p99?: number;
  };
}

export interface BenchResult {
  readonly benchmark: string;
  /** The RESULTS.md section's heading (default: the benchmark's name). */
  readonly title?: string;
  readonly figures: readonly Figure[];
  /** Free text placed in RESULTS.md under the table: setup, caveats, what the numbers mean. */
  readonly notes?: string;
  /** Per-sample detail kept in the JSON file only (one entry per repetition, say). */
  readonly samples?: unknown;
}

export function machine(): {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
} {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
  };
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

const fmt = (n: number | undefined): string =>
  n === undefined || Number.isNaN(n) ? '' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3);

/**
 * Writes bench/results/<benchmark>.json and replaces this benchmark's section of
 * bench/RESULTS.md (between its markers), leaving other benchmarks' sections alone.
 */
export function recordResult(result: BenchResult): void {
  const date = new Date().toISOString();
  const m = machine();
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(
    join(benchDir, 'results', `${result.benchmark}.json`),
    `${JSON.stringify({ benchmark: result.benchmark, date, machine: m, figures: result.figures, notes: result.notes, ...(result.samples !== undefined ? { samples: result.samples } : {}) }, null, 2)}\n`,
  );
  const rows = result.figures.map(
    (f) =>
      `| ${f.name} | ${fmt(f.value)} ${f.unit} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${f.samples ?? ''} | ${f.target ?? ''} | ${
        f.peer
          ? `${f.peer.name}: ${fmt(f.peer.value)}${f.peer.p50 !== undefined ? ` (p50 ${fmt(f.peer.p50)}, p99 ${fmt(f.peer.p99)})` : ''}`
          : ''
      } |`,
  );
  const section = [
    `<!-- bench:${result.benchmark} -->`,
    `## ${result.title ?? result.benchmark}`,
    '',
    `Run ${date} on ${m.cpus}× ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}.`,
    '',
    '| figure | value | p50 | p99 | samples | target | peer, same run |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    result.notes ?? '',
    `<!-- /bench:${result.benchmark} -->`,
  ].join('\n');
  const file = join(benchDir, 'RESULTS.md');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text =
      '# Benchmark results\n\nEach section is rewritten by its benchmark; `bench/results/*.json` holds the same figures for comparison over time.\n';
  }
  const pattern = new RegExp(
    `<!-- bench:${result.benchmark} -->[\\s\\S]*?<!-- /bench:${result.benchmark} -->`,
  );
  text = pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
}
