// False elections under WAN-like latency: three RaftNodes whose every message
// is delayed 100 ms ± 20 ms (uniform, per message, so messages also reorder),
// the in-process equivalent of `tc netem delay 100ms 20ms` (sch_netem is not
// available in this kernel). A healthy leader is never killed; every election
// after the first leader is a false one. Measured at the shipped election
// timeout and at the previous default, in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TICK_MS,
  decodeMessage,
  defaultConfig,
  encodeMessage,
  FileStorage,
  type Message,
  type NodeEvent,
  type NodeId,
  RaftNode,
  type RaftTransport,
} from 'raft-consensus-ts';
import { recordResult } from './lib/results.js';

const DURATION_MS = Number(process.env.RAFT_FALSE_ELECTIONS_MS ?? 120_000);
const DELAY_MS = Number(process.env.RAFT_FALSE_ELECTIONS_DELAY_MS ?? 100);
const JITTER_MS = Number(process.env.RAFT_FALSE_ELECTIONS_JITTER_MS ?? 20);
const IDS = ['n1', 'n2', 'n3'];

/** Delivers each message after DELAY_MS ± JITTER_MS, through the real codec (nothing shared by reference). */
class DelayNetwork {
  readonly handlers = new Map<NodeId, (m: Message) => void>();
  delivered = 0;
  transport(id: NodeId): RaftTransport {
    return {
      send: (messages) => {
        for (const m of messages) {
          const bytes = encodeMessage(m);
          const delay = DELAY_MS - JITTER_MS + Math.random() * 2 * JITTER_MS;
          setTimeout(() => {
            const decoded = decodeMessage(bytes);
            if (!decoded.ok) throw new Error(`codec: ${decoded.error}`);
            this.delivered++;
            this.handlers.get(m.to)?.(decoded.value);
          }, delay);
        }
      },
      onMessage: (h) => {
        this.handlers.set(id, h);
      },
      close: async () => {
        this.handlers.delete(id);
      },
    };
  }
}

interface Outcome {
  readonly electionTicks: number;
  /** ms from start to the first leader; undefined if none within the run. */
  readonly firstLeaderMs: number | undefined;
  readonly falseElections: number;
  readonly leaderChanges: number;
  readonly preVotes: number;
  readonly minutes: number;
}

async function trial(dir: string, electionTicks: number): Promise<Outcome> {
  const net = new DelayNetwork();
  const nodes: RaftNode[] = [];
  let firstLeaderAt: number | undefined;
  let falseElections = 0;
  let leaderChanges = 0;
  let preVotes = 0;
  let campaignsBeforeLeader = 0;
  for (const id of IDS) {
    const node = await RaftNode.start({
      id,
      storage: new FileStorage({ dir: join(dir, `e${electionTicks}`, id) }),
      transport: net.transport(id),
      stateMachine: { apply: () => null, snapshot: () => new Uint8Array(), restore: () => {} },
      bootstrap: { voters: IDS, learners: [] },
      config: { electionTicks },
    });
    node.on('event', (e: NodeEvent) => {
      if (firstLeaderAt === undefined) {
        if (e.type === 'election-won') firstLeaderAt = e.atMs;
        else if (e.type === 'election-started') campaignsBeforeLeader++;
        return;
      }
      if (e.type === 'election-started' && e.preVote) preVotes++;
      if (e.type === 'election-started' && !e.preVote) falseElections++;
      if (e.type === 'election-won') leaderChanges++;
    });
    nodes.push(node);
  }
  const start = performance.now();
  while (firstLeaderAt === undefined && performance.now() - start < DURATION_MS / 2)
    await new Promise((r) => setTimeout(r, 50));
  // Light steady load, as a coordinator has: one proposal every 50 ms to whoever leads.
  const load = setInterval(() => {
    const leader = nodes.find((n) => n.status().role === 'leader');
    leader?.propose(new Uint8Array(64)).catch(() => undefined);
  }, 50);
  const measureFrom = firstLeaderAt ?? start;
  await new Promise((r) => setTimeout(r, DURATION_MS));
  clearInterval(load);
  await Promise.all(nodes.map((n) => n.stop()));
  return {
    electionTicks,
    firstLeaderMs: firstLeaderAt === undefined ? undefined : firstLeaderAt - start,
    falseElections: firstLeaderAt === undefined ? campaignsBeforeLeader : falseElections,
    leaderChanges,
    preVotes,
    minutes: (performance.now() - measureFrom) / 60_000,
  };
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-raft-false-elections-'));
  try {
    const shipped = defaultConfig('n1').electionTicks;
    const outcomes: Outcome[] = [];
    const settings = (process.env.RAFT_FALSE_ELECTIONS_TICKS ?? `${shipped},5,10`)
      .split(',')
      .map(Number)
      .filter((n, i, a) => a.indexOf(n) === i);
    for (const ticks of settings) {
      const o = await trial(dir, ticks);
      console.log(
        `electionTicks ${ticks}: first leader ${o.firstLeaderMs?.toFixed(0) ?? 'never'} ms, ${o.falseElections} elections, ${o.leaderChanges} leader changes, ${o.preVotes} pre-votes in ${o.minutes.toFixed(1)} min`,
      );
      outcomes.push(o);
    }
    recordResult({
      benchmark: 'raft-false-elections',
      figures: outcomes.map((o) => ({
        name: `elections (term bumps) ${o.firstLeaderMs === undefined ? 'without ever electing a leader' : `with a healthy leader (first elected after ${o.firstLeaderMs.toFixed(0)} ms)`}, ${DELAY_MS} ms ± ${JITTER_MS} ms per message, electionTicks ${o.electionTicks} × ${DEFAULT_TICK_MS} ms${o.electionTicks === shipped ? ' (shipped default)' : ''}`,
        value: o.falseElections / o.minutes,
        unit: 'per minute',
        samples: o.falseElections,
        target: o.electionTicks === shipped ? '0' : '',
      })),
      notes: [
        `Three RaftNodes (FileStorage with fdatasync, pre-vote and check-quorum on, heartbeat every tick) in one process; every message goes through the binary codec and is delivered after ${DELAY_MS} ms ± ${JITTER_MS} ms (uniform per message, so a heartbeat may overtake the one before it): the in-process equivalent of netem delay ${DELAY_MS}ms ${JITTER_MS}ms, which this kernel lacks (no sch_netem). ${DURATION_MS / 1000} s per setting after the first leader, a proposal every 50 ms. An election here is a candidate bumping the term (after a won pre-vote); pre-votes are counted apart: ${outcomes.map((o) => `${o.preVotes} pre-votes at ${o.electionTicks} ticks`).join(', ')}; leader changes: ${outcomes.map((o) => `${o.leaderChanges} at ${o.electionTicks} ticks`).join(', ')}.`,
        `What it does not show: a stall of one process alone (the three nodes share an event loop here, so a pause delays all of them alike); the failover benchmark does not count false elections.`,
      ].join('\n\n'),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
