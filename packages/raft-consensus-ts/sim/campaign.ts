/**
 * A long node simulator campaign, resumable and parallel:
 *
 *   pnpm --filter raft-consensus-ts sim:campaign --seeds 100000 [--workers 2] [--block 50]
 *
 * Seeds go to worker processes in blocks; each finished block is appended to a
 * checkpoint file, so a campaign stopped at any moment (Ctrl-C, a kill, a
 * reboot) resumes with the same command, losing at most the blocks in flight.
 * A progress line is printed per block, and the summary
 * (bench/results/raft-sim-campaign.json by default) is rewritten after every
 * block: seeds completed, wall and CPU time, faults injected by kind, and
 * every violation with the command that replays it. Violations do not stop
 * the campaign. Seeds run with their CI defaults (even seeds 3 voters, odd 5).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BlockResult, BlockViolation } from './campaign-worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const results = resolve(here, '../../../bench/results');

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100000' },
    start: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    block: { type: 'string', default: '50' },
    checkpoint: { type: 'string', default: resolve(results, 'raft-sim-campaign.checkpoint.json') },
    out: { type: 'string', default: resolve(results, 'raft-sim-campaign.json') },
  },
});

const first = Number(values.start);
const seeds = Number(values.seeds);
const workers = Math.max(1, Math.min(Number(values.workers), cpus().length * 2));
const blockSize = Math.max(1, Number(values.block));

/** What the checkpoint holds: the campaign's range, and every block finished in any session. */
interface Checkpoint {
  readonly start: number;
  readonly seeds: number;
  readonly blocks: BlockResult[];
  /** Wall time of each session (started, ms running), so time spent across resumes adds up. */
  readonly sessions: { startedAt: string; wallMs: number; workers: number }[];
}

function load(): Checkpoint {
  if (!existsSync(values.checkpoint)) return { start: first, seeds, blocks: [], sessions: [] };
  const c = JSON.parse(readFileSync(values.checkpoint, 'utf8')) as Checkpoint;
  if (c.start !== first || c.seeds !== seeds)
    throw new Error(
      `${values.checkpoint} is a campaign of seeds ${c.start}..${c.start + c.seeds - 1}, not ${first}..${first + seeds - 1}: pass the same --start and --seeds, or another --checkpoint`,
    );
  return c;
}

function writeAtomic(path: string, data: unknown): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(data, null, 1)}\n`);
  renameSync(`${path}.tmp`, path);
}

const FAULT_KINDS = [
  'crashes',
  'kills',
  'pauses',
  'partitions',
  'storageFailures',
  'corruptionDetected',
  'configChanges',
  'transfers',
  'bootstrapEdits',
  'fs.shortWrites',
  'fs.enospc',
  'fs.fsyncErrors',
  'fs.bitFlips',
  'fs.crashes',
  'fs.tornTails',
  'fs.zeroTails',
  'net.dropped',
  'net.duplicated',
  'net.truncated',
  'net.corrupted',
  'net.damagedRefused',
  'net.damagedAccepted',
];

/** Completed seed ranges, merged: [[0, 5000], [5050, 7000]] (end exclusive). */
function ranges(blocks: readonly BlockResult[]): [number, number][] {
  const sorted = [...blocks].sort((a, b) => a.start - b.start);
  const out: [number, number][] = [];
  for (const b of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === b.start) last[1] = b.end;
    else out.push([b.start, b.end]);
  }
  return out;
}

function summary(c: Checkpoint, running: boolean): Record<string, unknown> {
  const totals: Record<string, number> = {};
  let cpuMs = 0;
  const violations: BlockViolation[] = [];
  let done = 0;
  for (const b of c.blocks) {
    done += b.end - b.start;
    cpuMs += b.cpuMs;
    violations.push(...b.violations);
    for (const [k, v] of Object.entries(b.totals)) totals[k] = (totals[k] ?? 0) + v;
  }
  const faults: Record<string, number> = {};
  for (const k of FAULT_KINDS) faults[k] = totals[k] ?? 0;
  for (const [k, v] of Object.entries(totals)) if (k.startsWith('probe.')) faults[k] = v;
  const wallMs = c.sessions.reduce((n, s) => n + s.wallMs, 0);
  return {
    campaign:
      'raft-consensus-ts node simulator (RaftNode, FileStorage on the faulty disk, codec and framing)',
    command: `pnpm --filter raft-consensus-ts sim:campaign --start ${c.start} --seeds ${c.seeds} --workers N`,
    seedsPlanned: c.seeds,
    seedsCompleted: done,
    complete: done === c.seeds,
    running,
    completedRanges: ranges(c.blocks),
    wallSeconds: Math.round(wallMs / 1000),
    cpuSeconds: Math.round(cpuMs / 1000),
    cpuSecondsPer250Seeds: done === 0 ? null : Number(((cpuMs / 1000 / done) * 250).toFixed(1)),
    sessions: c.sessions,
    violationCount: violations.length,
    violations: violations.sort((a, b) => a.seed - b.seed),
    faults,
    work: {
      committed: totals.committed ?? 0,
      operations: totals.operations ?? 0,
      leaders: totals.leaders ?? 0,
      snapshotsSent: totals.snapshotsSent ?? 0,
      virtualSeconds: Math.round((totals.virtualMs ?? 0) / 1000),
      events: totals.events ?? 0,
    },
  };
}

/** One campaign per checkpoint: two would both append the same blocks. */
function lock(): void {
  const path = `${values.checkpoint}.lock`;
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, 'utf8'));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`${values.checkpoint} is in use by process ${pid} (${path})`);
  }
  writeFileSync(path, String(process.pid));
  process.on('exit', () => {
    try {
      if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  });
}

lock();
const cp = load();
const finished = new Set(cp.blocks.map((b) => b.start));
const todo: { start: number; end: number }[] = [];
for (let s = first; s < first + seeds; s += blockSize) {
  const end = Math.min(s + blockSize, first + seeds);
  if (finished.has(s)) continue;
  todo.push({ start: s, end });
}
const session = { startedAt: new Date().toISOString(), wallMs: 0, workers };
cp.sessions.push(session);
const began = performance.now();
const total = todo.reduce((n, b) => n + b.end - b.start, 0);
let doneThisSession = 0;
console.log(
  `campaign ${first}..${first + seeds - 1}: ${seeds - total} seeds done before, ${total} to run in blocks of ${blockSize} on ${workers} worker(s)`,
);

function save(running: boolean): void {
  session.wallMs = performance.now() - began;
  writeAtomic(values.checkpoint, cp);
  writeAtomic(values.out, summary(cp, running));
}

const children = new Set<ChildProcess>();
let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping; blocks in flight are dropped, the checkpoint is kept`);
  for (const ch of children) ch.kill('SIGTERM');
  save(false);
  process.exit(130);
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

function worker(): Promise<void> {
  return new Promise((resolveWorker, reject) => {
    const ch = fork(resolve(here, 'campaign-worker.ts'), [], { stdio: 'inherit' });
    children.add(ch);
    const next = (): void => {
      const b = todo.shift();
      if (b === undefined || stopping) {
        ch.kill('SIGTERM');
        return;
      }
      ch.send(b);
    };
    ch.on('message', (m: { type: string; result?: BlockResult; error?: string }) => {
      if (m.type === 'ready') next();
      else if (m.type === 'done' && m.result !== undefined) {
        const r = m.result;
        cp.blocks.push(r);
        doneThisSession += r.end - r.start;
        save(true);
        const all = cp.blocks.reduce((n, x) => n + x.end - x.start, 0);
        const s = (performance.now() - began) / 1000;
        const v = cp.blocks.reduce((n, x) => n + x.violations.length, 0);
        const eta = (
          (total - doneThisSession) /
          Math.max(doneThisSession / s, 1e-9) /
          3600
        ).toFixed(1);
        console.log(
          `[${new Date().toISOString()}] seeds ${r.start}..${r.end - 1} in ${(r.wallMs / 1000).toFixed(1)}s (cpu ${(r.cpuMs / 1000).toFixed(1)}s): ${all}/${seeds} done, ${v} violations, ${(doneThisSession / s).toFixed(2)} seeds/s, ~${eta} h left`,
        );
        for (const x of r.violations)
          console.log(`  VIOLATION ${x.violation}\n  replay: ${x.replay} --trace`);
        next();
      } else if (m.type === 'error') {
        reject(new Error(`worker failed on block ${(m as { start?: number }).start}: ${m.error}`));
      }
    });
    ch.on('exit', () => {
      children.delete(ch);
      resolveWorker();
    });
  });
}

await Promise.all(Array.from({ length: workers }, () => worker()));
save(false);
const s = summary(cp, false);
console.log(
  `campaign ${s.complete ? 'complete' : 'incomplete'}: ${s.seedsCompleted}/${seeds} seeds, ${s.violationCount} violations, wall ${s.wallSeconds}s, cpu ${s.cpuSeconds}s; summary in ${values.out}`,
);
process.exit(s.violationCount === 0 ? 0 : 1);
