/**
 * The crash campaign: SIGKILL processes in the middle of durable writes and check from what
 * they left on disk that nothing acknowledged was lost.
 *
 * - Raft WAL: three kv-node voters over NATS (KvCluster) under eight writers; each round kills
 *   a voter (the leader on even rounds, a follower on odd ones) with writes in flight, waits for
 *   the cluster to commit without it, restarts it, and reads its whole state back through it
 *   (a linearizable read): every write acknowledged so far must be there, and the leader's term
 *   and commit index never go backwards.
 * - Fencing and assignment stores: a store-writer process admits ever higher tokens and stores
 *   the matching assignment, printing each only after both fsyncs returned; it is killed at a
 *   random moment, the stores are reopened from disk (a torn or corrupt file is a failure), and
 *   the stored token must be at least the last one printed, and never below an earlier round's.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssignmentStore, FencingStore } from '@coxswain/host';
import { KvCluster } from './raft-process-cluster.js';

const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export interface CrashRound {
  readonly kind: 'raft' | 'stores';
  readonly victim: string;
  /** Writes acknowledged before this kill (raft: keys; stores: the last token printed). */
  readonly ackedBefore: number;
  /** Acknowledged writes missing after the restart. */
  readonly lost: number;
  /** From the kill to the restarted process serving again. */
  readonly restartMs: number;
}

export interface CrashCampaignResult {
  readonly kills: number;
  readonly restarts: number;
  readonly ackedWrites: number;
  readonly lost: number;
  /** Times a term, commit index or stored token was seen lower than before. */
  readonly wentBackwards: number;
  readonly durationMs: number;
  readonly rounds: readonly CrashRound[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`crash campaign: ${what} not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * The whole state of node `id`, read linearizably in pages (a state past ~50k keys outgrows
 * one NATS message). A restarted voter answers only once it has heard from a leader, and on a
 * loaded machine a read may outlast its timeout: either is retried for 30 s.
 */
async function readState(cluster: KvCluster, id: string): Promise<Map<string, string>> {
  const PAGE = 10_000;
  const state = new Map<string, string>();
  for (let offset = 0; ; offset += PAGE) {
    const page = () =>
      cluster
        .request(id, { op: 'dump', linearizable: true, offset, limit: PAGE }, 10_000)
        .catch((error: unknown) => ({ ok: false, code: String(error) }) as const);
    let reply = await page();
    const deadline = performance.now() + 30_000;
    while (!reply.ok && performance.now() < deadline) {
      await sleep(100);
      reply = await page();
    }
    if (!reply.ok)
      throw new Error(
        `crash campaign: ${id} dump at ${offset}: ${JSON.stringify(reply)}; running ${cluster.isRunning(id)}; stderr ${cluster.stderr(id).slice(-1000)}`,
      );
    const entries = (reply as unknown as { entries: [string, string][] }).entries;
    for (const [k, v] of entries) state.set(k, v);
    if (entries.length < PAGE) return state;
  }
}

/** `kills` SIGKILLs of Raft voters during writes; see the module comment. */
export async function raftCrashCampaign(options: {
  readonly natsUrl: string;
  readonly baseDir: string;
  readonly kills: number;
  readonly log?: (line: string) => void;
}): Promise<CrashCampaignResult> {
  const started = performance.now();
  const cluster = await KvCluster.start({ natsUrl: options.natsUrl, baseDir: options.baseDir });
  const acked = new Map<string, string>();
  const rounds: CrashRound[] = [];
  let wentBackwards = 0;
  let running = true;
  let next = 0;
  let target = cluster.ids[0]!;
  const rotate = (id: string) => cluster.ids[(cluster.ids.indexOf(id) + 1) % cluster.ids.length]!;
  const worker = async (): Promise<void> => {
    while (running) {
      const key = `k${next++}`;
      const value = `v${key}`;
      // The same key until acknowledged: a put is idempotent, so a retry after a lost reply is safe.
      while (running) {
        const to = target;
        try {
          const reply = await cluster.request(to, { op: 'put', key, value }, 1000);
          if (reply.ok) {
            acked.set(key, value);
            break;
          }
          target = reply.code === 'RAFT_NOT_LEADER' && reply.leader ? reply.leader : rotate(to);
        } catch {
          target = rotate(to);
        }
        await sleep(10);
      }
    }
  };
  const workers = Array.from({ length: 8 }, () => worker());
  let lastTerm = 0;
  let lastCommit = 0;
  try {
    for (let round = 0; round < options.kills; round++) {
      let leader = await cluster.waitForLeader(20_000);
      let status: Awaited<ReturnType<KvCluster['status']>> | undefined;
      for (let attempt = 0; status === undefined; attempt++) {
        try {
          status = await cluster.status(leader);
        } catch (error) {
          if (attempt >= 10) throw error;
          await sleep(200);
          leader = await cluster.waitForLeader(20_000);
        }
      }
      const followers = cluster.ids.filter((id) => id !== leader);
      const victim = round % 2 === 0 ? leader : followers[round % followers.length]!;
      // Writes in flight at the kill: wait for the flow, then a random moment within it.
      const before = acked.size;
      await waitFor('writes before the kill', () => acked.size >= before + 20, 20_000);
      // Read after writes of this term committed: a leader just elected may not yet know the
      // commit index its predecessor reached, which is no step back.
      status = await cluster.status(leader).catch(() => status);
      if (status!.term < lastTerm || status!.commitIndex < lastCommit) wentBackwards++;
      lastTerm = status!.term;
      lastCommit = status!.commitIndex;
      await sleep(Math.floor(Math.random() * 50));
      const ackedBefore = acked.size;
      const killedAt = performance.now();
      await cluster.kill(victim, 'SIGKILL');
      // The survivors commit without it.
      const afterKill = acked.size;
      await waitFor('writes without the victim', () => acked.size >= afterKill + 5, 20_000);
      await cluster.startNode(victim);
      const restartMs = performance.now() - killedAt;
      const snapshot = [...acked];
      const state = await readState(cluster, victim);
      const lost = snapshot.filter(([k, v]) => state.get(k) !== v).length;
      rounds.push({ kind: 'raft', victim, ackedBefore, lost, restartMs });
      options.log?.(
        `raft kill ${round + 1}/${options.kills}: ${victim}${victim === leader ? ' (leader)' : ''}, ${snapshot.length} acked, ${lost} lost, back in ${Math.round(restartMs)} ms`,
      );
    }
  } finally {
    running = false;
    await Promise.all(workers);
    await cluster.stop();
  }
  return {
    kills: rounds.length,
    restarts: rounds.length,
    ackedWrites: acked.size,
    lost: rounds.reduce((a, r) => a + r.lost, 0),
    wentBackwards,
    durationMs: performance.now() - started,
    rounds,
  };
}

/** One store-writer run until SIGKILL at a random moment; resolves with the last token it printed. */
async function writeUntilKilled(
  dir: string,
  maxRunMs: number,
): Promise<{ acked: number; readyAt: number }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@coxswain/source',
      '--import',
      'tsx',
      join(here, `store-writer-process${ext}`),
      dir,
    ],
    { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  let acked = -1;
  let readyAt = -1;
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      const [word, n] = line.split(' ');
      if (word === 'ready') readyAt = Number(n);
      if (word === 'ack') acked = Number(n);
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await Promise.race([
    waitFor('the store writer to write', () => acked >= 0, 30_000),
    exited.then((code) => {
      throw new Error(`store writer exited with ${code}: ${stderr}`);
    }),
  ]);
  await sleep(Math.floor(Math.random() * maxRunMs));
  child.kill('SIGKILL');
  await exited;
  // Lines already written to the pipe before the kill are still read: only count what arrived.
  return { acked, readyAt };
}

/** `kills` SIGKILLs of a process writing the fencing and assignment stores; see the module comment. */
export async function storeCrashCampaign(options: {
  readonly baseDir: string;
  readonly kills: number;
  /** A kill lands up to this long after the first acknowledged write of a run (default 300 ms). */
  readonly maxRunMs?: number;
  readonly log?: (line: string) => void;
}): Promise<CrashCampaignResult> {
  const started = performance.now();
  const dir = join(options.baseDir, 'stores');
  await mkdir(dir, { recursive: true });
  const rounds: CrashRound[] = [];
  let highestAcked = 0;
  let wentBackwards = 0;
  let ackedWrites = 0;
  for (let round = 0; round < options.kills; round++) {
    const t0 = performance.now();
    const { acked, readyAt } = await writeUntilKilled(dir, options.maxRunMs ?? 300);
    // The writer resumed from what the last round left: never below what was acknowledged then.
    if (readyAt < highestAcked) wentBackwards++;
    ackedWrites += acked - readyAt;
    const fencing = await FencingStore.open(join(dir, 'fencing'));
    let corrupt = '';
    const assignments = await AssignmentStore.open(join(dir, 'assignments'), (m) => {
      corrupt = m;
    });
    if (corrupt !== '') throw new Error(`crash campaign: assignment store corrupt: ${corrupt}`);
    const stored = {
      fencing: fencing.highest('web'),
      assignment: assignments.get('web')?.token ?? 0,
    };
    const lost = (stored.fencing < acked ? 1 : 0) + (stored.assignment < acked ? 1 : 0);
    highestAcked = Math.max(highestAcked, acked);
    const restartMs = performance.now() - t0;
    rounds.push({ kind: 'stores', victim: 'store-writer', ackedBefore: acked, lost, restartMs });
    options.log?.(
      `store kill ${round + 1}/${options.kills}: acked up to ${acked}, stored fencing ${stored.fencing}, assignment ${stored.assignment}${lost > 0 ? ' LOST' : ''}`,
    );
  }
  return {
    kills: rounds.length,
    restarts: rounds.length,
    ackedWrites,
    lost: rounds.reduce((a, r) => a + r.lost, 0),
    wentBackwards,
    durationMs: performance.now() - started,
    rounds,
  };
}
