/**
 * A deterministic simulator of the real thing: RaftNode (the runtime), FileStorage
 * on a faulty in-memory disk, the binary codec and framing over a network with
 * bandwidth, on virtual clocks that drift, with process pauses, crashes at any
 * await point, and membership churn. One seed, one run, replayed exactly.
 * Safety is checked as it happens (see node-sim-checks.ts); liveness after the
 * faults heal, with one link left slow and lossy.
 */
import { hashSeed, Prng } from '../src/core/prng.js';
import { RaftError } from '../src/errors.js';
import { type InjectedBug, setInjectedBugs } from '../src/injected-bugs.js';
import { RaftNode } from '../src/runtime/raft-node.js';
import { FileStorage } from '../src/storage/file-storage.js';
import type { StorageFileSystem } from '../src/storage/file-system.js';
import type { ConfigChange, InitialState, Membership, NodeId } from '../src/types.js';
import { FaultyFs, type FsStats } from './faulty-fs.js';
import { checkLinearizable, registerModel } from './linearizability.js';
import {
  CheckedStorage,
  Invariants,
  newAcked,
  type StorageHooks,
  sameState,
  Violation,
} from './node-sim-checks.js';
import { type ClientOp, Clients } from './node-sim-clients.js';
import { runProbes } from './node-sim-probes.js';
import {
  checkDurableMajority,
  converged,
  type SimNode,
  simStateMachine,
} from './node-sim-state.js';
import { MessageWatch } from './node-sim-watch.js';
import { type NetStats, SimNetwork } from './sim-network.js';
import { nodeClock, Process, Scheduler } from './sim-scheduler.js';

export interface NodeSimOptions {
  readonly seed: number;
  /** Voters at bootstrap (3 or 5); two spare nodes join and leave as learners and voters. */
  readonly nodes: number;
  readonly chaosMs?: number;
  /** After healing: every pending operation settles, replicas converge and progress continues within this. */
  readonly livenessMs?: number;
  readonly bugs?: readonly InjectedBug[];
  /**
   * Require every readIndex() to settle (value or typed error) within the bound
   * after healing. On by default since the read fixes of issue 15 item 3; false
   * turns it off.
   */
  readonly checkReadLiveness?: boolean;
  readonly trace?: (line: string) => void;
}

export interface NodeSimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: string;
  readonly replay: string;
  readonly stats: Record<string, number>;
}

export function nodeSimReplay(o: NodeSimOptions): string {
  const bugs = (o.bugs ?? []).map((b) => ` --bug ${b}`).join('');
  const chaos = o.chaosMs === undefined ? '' : ` --chaos-ms ${o.chaosMs}`;
  return `pnpm --filter raft-consensus-ts sim --real --seed ${o.seed} --nodes ${o.nodes}${chaos}${bugs}`;
}

export async function runNodeSimulation(options: NodeSimOptions): Promise<NodeSimResult> {
  setInjectedBugs(options.bugs ?? []);
  try {
    return await new NodeSimulation(options).run();
  } finally {
    setInjectedBugs([]);
  }
}

const enc = new TextEncoder();
const _dec = new TextDecoder();
const DIR = '/data';

/** The one link the heal leaves slow and lossy: progress must not need every link healthy. */
const HEALED_SLOW_LINK = {
  drop: 0.15,
  duplicate: 0,
  truncate: 0.02,
  corrupt: 0.02,
  extraLatencyMs: 10,
  slowdown: 3,
} as const;

/**
 * Raft is live only while a message crosses a link well within an election
 * timeout (§5.6: broadcastTime ≪ electionTimeout). A follower hears nothing
 * while one frame is on the wire, so where a frame takes longer than its
 * timeout it campaigns; with pre-vote off that deposes every leader in turn
 * and a large snapshot never arrives (seed 5325: 63 terms, the snapshot
 * re-sent 9 times). Pre-vote protects against it, so the simulator keeps to
 * the requirement (a frame within a third of the shortest timeout) only where
 * pre-vote is off, and elsewhere lets frames be as slow as drawn. The package
 * README gives users the same advice (maxChunkBytes). The requirement holds on
 * the slowest link the liveness phase keeps, the one left slow after the heal:
 * capped at nominal bandwidth, its frames took the whole shortest timeout there
 * (seed 68908: 8.5 KB frames at 322/3 B/ms, 80 ms each, on an 80 ms timeout),
 * the follower behind it campaigned between two chunks of its snapshot, and
 * each new term restarted the copy.
 */
function frameBytesWithinTiming(bytesPerMs: number, minElectionMs: number): number {
  return Math.max(
    1_024,
    Math.floor((bytesPerMs * minElectionMs) / (3 * HEALED_SLOW_LINK.slowdown)),
  );
}

class NodeSimulation {
  private readonly rng: Prng;
  private readonly sched = new Scheduler();
  private readonly net: SimNetwork;
  private readonly inv = new Invariants();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly chaosMs: number;
  private readonly livenessMs: number;
  private readonly tickMs = 10;
  private readonly raftConfig: Record<string, number | boolean>;
  private readonly snapshotEvery: number;
  private readonly snapshotPadBytes: number;
  private readonly segmentBytes: number;
  private readonly maxFsyncMs: number;
  private readonly diskFaulty: boolean;
  private healed = false;
  /**
   * After healing: 'healed' until the cluster settles, then 'probing' (the
   * targeted probes of node-sim-probes.ts, no clients, no markers), then
   * 'final' until it settles again.
   */
  private phase: 'chaos' | 'healed' | 'probing' | 'final' = 'chaos';
  private end: number;
  /** Decisions added after the first CI campaign draw from here, so the main schedule stays as it was. */
  private readonly extraRng: Prng;
  private readonly watch: MessageWatch;
  private readonly probesRan: Record<string, number> = {};
  private readonly bootstrapEditedAt: number | undefined;
  private flipped = false;
  private failure: Violation | undefined;
  private readonly clients: Clients;
  private markersCommitted = 0;
  private readonly stats: Record<string, number> = {
    events: 0,
    crashes: 0,
    kills: 0,
    pauses: 0,
    partitions: 0,
    storageFailures: 0,
    corruptionDetected: 0,
    configChanges: 0,
    transfers: 0,
    leaders: 0,
    operations: 0,
  };

  constructor(private readonly options: NodeSimOptions) {
    this.rng = new Prng(hashSeed(`node-sim:${options.seed}`) ^ options.seed);
    const r = this.rng;
    this.chaosMs = options.chaosMs ?? 1500;
    this.livenessMs = options.livenessMs ?? 4000;
    this.end = this.chaosMs + this.livenessMs;
    this.extraRng = new Prng(hashSeed(`node-sim-extra:${options.seed}`));
    this.bootstrapEditedAt = this.extraRng.next() < 0.5 ? this.extraRng.int(0, 300) : undefined;
    this.watch = new MessageWatch(
      (v) => this.fail(v),
      (line) => this.trace(line),
      () => this.sched.now,
    );
    this.raftConfig = {
      electionTicks: r.int(6, 16),
      heartbeatTicks: r.int(1, 3),
      maxEntriesPerMessage: r.next() < 0.5 ? r.int(1, 4) : 256,
      maxInflightMessages: r.next() < 0.5 ? r.int(1, 4) : 64,
      preVote: r.next() < 0.8,
      checkQuorum: r.next() < 0.8,
    };
    this.snapshotEvery = r.int(8, 40);
    this.snapshotPadBytes = r.next() < 0.3 ? r.int(20_000, 200_000) : r.int(0, 2_000);
    this.segmentBytes = r.int(2_000, 40_000);
    this.maxFsyncMs = r.next() < 0.3 ? 1 : r.int(3, 30);
    this.diskFaulty = r.next() < 0.7;
    // 0.2–5 MB/s links: a 200 KB snapshot holds a link for 40 ms to a second.
    const bytesPerMs = r.int(200, 5_000);
    const latencyMs = r.int(1, 4);
    const drawnFrameBytes = r.int(4_000, 64_000);
    this.net = new SimNetwork(
      this.sched,
      r,
      bytesPerMs,
      latencyMs,
      this.raftConfig.preVote
        ? drawnFrameBytes
        : Math.min(drawnFrameBytes, frameBytesWithinTiming(bytesPerMs, this.minElectionMs())),
    );
    this.net.observer = this.watch;
    this.net.onViolation = (what) => this.fail(new Violation(what));
    this.clients = new Clients({
      sched: this.sched,
      rng: this.rng,
      live: () => this.live(),
      fail: (v) => this.fail(v),
      keepGoing: () =>
        this.phase === 'chaos' ||
        (this.phase === 'healed' && this.sched.now < this.chaosMs + this.livenessMs / 2),
      checkReadLiveness: options.checkReadLiveness !== false,
    });
    const voters = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    for (const id of voters) this.addNode(id, { voters, learners: [] });
    for (const id of ['s1', 's2']) {
      const n = this.addNode(id, undefined);
      n.removed = true;
    }
  }

  private addNode(id: NodeId, bootstrap: Membership | undefined): SimNode {
    const n: SimNode = {
      id,
      bootstrap,
      fs: this.newFs(),
      incarnation: 0,
      proc: undefined,
      node: undefined,
      acked: newAcked(),
      kv: new Map(),
      applied: 0,
      flipOracle: undefined,
      diskDead: false,
      removed: false,
    };
    this.nodes.set(id, n);
    return n;
  }

  private newFs(): FaultyFs {
    const fs = new FaultyFs(this.sched, this.rng);
    fs.faults.maxFsyncMs = this.maxFsyncMs;
    return fs;
  }

  private trace(line: string): void {
    this.options.trace?.(`[${this.sched.now.toFixed(1)}ms] ${line}`);
  }

  private fail(v: unknown): void {
    if (this.failure !== undefined) return;
    if (v instanceof Violation) this.failure = v;
    else this.failure = new Violation(`simulator error: ${(v as Error)?.stack ?? String(v)}`);
  }

  async run(): Promise<NodeSimResult> {
    for (const n of this.nodes.values()) if (!n.removed) this.start(n);
    for (let c = 0; c < 3; c++)
      this.sched.after(this.rng.int(20, 80), undefined, () => this.clients.client(c));
    this.sched.after(this.rng.int(50, 150), undefined, () => this.fault());
    this.sched.at(this.chaosMs, undefined, () => this.heal());
    while (this.failure === undefined) {
      try {
        if (!this.sched.step(this.end)) break;
      } catch (v) {
        this.fail(v);
        break;
      }
      this.stats.events = (this.stats.events ?? 0) + 1;
      // Let every promise continuation triggered by this event run before the next event.
      await new Promise<void>((r) => setImmediate(r));
      if (
        this.healed &&
        this.stats.events % 50 === 0 &&
        this.phase !== 'probing' &&
        this.settled()
      ) {
        if (this.phase === 'final') break;
        this.probe();
      }
    }
    if (this.failure === undefined) {
      try {
        this.finalChecks();
      } catch (v) {
        this.fail(v);
      }
    }
    for (const n of this.nodes.values()) if (n.proc) n.proc.alive = false;
    let violation = this.failure?.message;
    if (violation === undefined) {
      const r = checkLinearizable(registerModel, this.clients.history(), { maxExplored: 300_000 });
      if (r.result === 'illegal')
        violation = `linearizability: history of ${r.operations} ops is not linearizable`;
    }
    return {
      seed: this.options.seed,
      ok: violation === undefined,
      ...(violation === undefined
        ? {}
        : { violation: `seed ${this.options.seed} @${this.sched.now.toFixed(1)}ms: ${violation}` }),
      replay: nodeSimReplay(this.options),
      stats: this.collectStats(),
    };
  }

  /** The shortest election timeout a node can draw (electionTicks; the core randomizes up to 2×). */
  private minElectionMs(): number {
    return (this.raftConfig.electionTicks as number) * this.tickMs;
  }

  private probe(): void {
    this.phase = 'probing';
    // Generous: each probe takes a few election timeouts, and waits for a leader first.
    this.end = this.sched.now + this.livenessMs;
    const electionTicks = this.raftConfig.electionTicks as number;
    runProbes(
      {
        sched: this.sched,
        net: this.net,
        electionMs: electionTicks * this.tickMs,
        heartbeatMs: (this.raftConfig.heartbeatTicks as number) * this.tickMs,
        preVote: this.raftConfig.preVote === true,
        checkQuorum: this.raftConfig.checkQuorum === true,
        snapshotEvery: this.snapshotEvery,
        snapshotBytes: this.snapshotPadBytes + 100,
        nodes: this.nodes,
        leader: () => this.leader(),
        fail: (v) => this.fail(v),
        trace: (line) => this.trace(line),
        ran: this.probesRan,
        bootVoters: this.options.nodes,
        changeMembership: (l, change) => this.applyChange(l, change),
      },
      this.options.seed,
      () => {
        this.phase = 'final';
        this.end = this.sched.now + this.livenessMs;
      },
    );
  }

  /**
   * Item 5: from `bootstrapEditedAt` on, an operator has edited every voter's
   * config file so its bootstrap names only itself; each restart after that
   * passes the edited option. The membership the node stored must win. Only a
   * node whose storage acknowledged an entry is "restarted": one that never
   * stored anything is a new node, and rightly takes the option it is given.
   * No event is added: the schedule of faults stays the seed's.
   */
  private bootstrapFor(n: SimNode): Membership | undefined {
    const at = this.bootstrapEditedAt;
    if (n.bootstrap === undefined || at === undefined || this.sched.now < at) return n.bootstrap;
    if (n.acked.log.last() < 1 && n.acked.log.base < 1) return n.bootstrap;
    this.stats.bootstrapEdits = (this.stats.bootstrapEdits ?? 0) + 1;
    this.trace(`${n.id} restarts with its bootstrap edited to only itself`);
    return { voters: [n.id], learners: [] };
  }

  private collectStats(): Record<string, number> {
    const out: Record<string, number> = { ...this.stats, virtualMs: Math.round(this.sched.now) };
    for (const [k, v] of Object.entries(this.probesRan)) out[`probe.${k}`] = v;
    out.snapshotsSent = this.watch.snapshotsSent;
    out.operations = this.clients.operations;
    out.committed = this.inv.maxCommitted;
    out.markers = this.markersCommitted;
    for (const n of this.nodes.values())
      for (const [k, v] of Object.entries(n.fs.stats as FsStats))
        out[`fs.${k}`] = (out[`fs.${k}`] ?? 0) + v;
    for (const [k, v] of Object.entries(this.net.stats as NetStats)) out[`net.${k}`] = v;
    return out;
  }

  // ---------------------------------------------------------------- processes

  private start(n: SimNode): void {
    if (n.diskDead || n.proc?.alive) return;
    const proc = new Process(n.id, ++n.incarnation);
    n.proc = proc;
    n.node = undefined;
    // A new process: its state machine starts empty and is restored from the snapshot, if any.
    n.kv = new Map();
    n.applied = 0;
    // Drift up to ±10% (±2% on most seeds): beyond that, see the README on liveness and drift.
    const rate = 1 + (this.rng.next() * 2 - 1) * (this.rng.next() < 0.3 ? 0.1 : 0.02);
    const clock = nodeClock(this.sched, proc, rate);
    const transport = this.net.transport(n.id, proc, () => clock.now());
    const hooks: StorageHooks = {
      node: n.id,
      inv: this.inv,
      status: () => n.node?.status(),
      acked: n.acked,
    };
    const storage = new CheckedStorage(
      new FileStorage({ dir: DIR, fs: n.fs.api(proc), segmentBytes: this.segmentBytes }),
      hooks,
    );
    const oracle = n.flipOracle;
    n.flipOracle = undefined;
    const bootstrap = this.bootstrapFor(n);
    RaftNode.start({
      id: n.id,
      storage,
      transport,
      stateMachine: simStateMachine(n, this.inv, (v) => this.fail(v), this.snapshotPadBytes),
      ...(bootstrap === undefined ? {} : { bootstrap }),
      // Each node and incarnation its own election jitter: shared jitter means endless split votes.
      config: {
        ...this.raftConfig,
        randomSeed: hashSeed(`${this.options.seed}:${n.id}:${n.incarnation}`),
      },
      tickMs: this.tickMs,
      clock,
      // Deterministic per run, as the default random one is per process.
      incarnation: String(n.incarnation),
      snapshotEvery: this.snapshotEvery,
      snapshotKeepEntries: this.rng.int(0, 20),
      onError: (err) => this.onNodeError(n, proc, err),
    }).then(
      async (node) => {
        if (!proc.alive) return;
        n.node = node;
        node.on('event', (e) => {
          if (e.type === 'role-changed' && e.to === 'leader') {
            this.stats.leaders = (this.stats.leaders ?? 0) + 1;
            this.trace(`${n.id} leads term ${e.term}`);
            try {
              this.inv.leader(n.id, e.term);
            } catch (v) {
              this.fail(v);
            }
          }
        });
        if (oracle !== undefined) await this.checkFlipOracle(n, oracle, storage.loadedState);
      },
      (err: unknown) => {
        if (!proc.alive) return;
        if (err instanceof Violation) {
          this.fail(err);
          return;
        }
        const code = (err as RaftError).code;
        if (code === 'RAFT_STORAGE_WRITE') {
          // load() syncs what it read; a failed fsync fails the start, and the supervisor retries.
          n.flipOracle = oracle;
          this.onNodeError(n, proc, err);
          return;
        }
        if (code === 'RAFT_STORAGE_CORRUPT' && oracle !== undefined) {
          // A flipped bit was detected and the node refused to start: as it must.
          this.stats.corruptionDetected = (this.stats.corruptionDetected ?? 0) + 1;
          this.trace(`${n.id} refuses its corrupt disk: ${(err as Error).message}`);
          n.diskDead = true;
          proc.alive = false;
          return;
        }
        this.fail(
          new Violation(
            `${n.id} failed to start without injected corruption: ${(err as Error).message}`,
          ),
        );
      },
    );
  }

  private async checkFlipOracle(
    n: SimNode,
    oracle: Promise<InitialState | Error>,
    loaded: InitialState | undefined,
  ): Promise<void> {
    const clean = await oracle;
    if (clean instanceof Error || loaded === undefined) return;
    if (!sameState(clean, loaded))
      this.fail(
        new Violation(
          `bit flip silently used: ${n.id} loaded a state that differs from its disk without the flip`,
        ),
      );
  }

  private onNodeError(n: SimNode, proc: Process, err: unknown): void {
    const code = (err as RaftError).code;
    if (code === 'RAFT_STORAGE_WRITE' || code === 'RAFT_STORAGE_FAILED') {
      // The node stopped itself rather than acknowledge; a supervisor restarts the process.
      this.stats.storageFailures = (this.stats.storageFailures ?? 0) + 1;
      this.trace(`${n.id} storage failure: ${(err as Error).message}`);
      this.sched.after(this.rng.int(5, 60), undefined, () => {
        if (n.proc !== proc) return;
        proc.alive = false;
        this.start(n);
      });
      return;
    }
    if (err instanceof Violation) {
      this.fail(err);
      return;
    }
    if (err instanceof RaftError && code === 'RAFT_STORAGE_CLOSED') return;
    this.fail(new Violation(`${n.id} reported ${(err as Error)?.stack ?? String(err)}`));
  }

  /** Power loss (the disk keeps only what was synced) or a process kill (the page cache survives). */
  private crash(n: SimNode, powerLoss: boolean): void {
    const proc = n.proc;
    if (proc === undefined || !proc.alive) return;
    proc.alive = false;
    n.node = undefined;
    if (powerLoss) {
      this.stats.crashes = (this.stats.crashes ?? 0) + 1;
      n.fs.crash();
      // One corrupted disk per run: a cluster of 2f+1 survives f lost disks, and f is 1 here.
      if (!this.flipped && this.rng.next() < 0.25) this.flip(n);
    } else this.stats.kills = (this.stats.kills ?? 0) + 1;
    this.trace(`${powerLoss ? 'power loss' : 'kill'} ${n.id}`);
    if (powerLoss)
      if (!this.flipped && (this.stats.configChanges ?? 0) === 0)
        checkDurableMajority(this.nodes, this.inv);
    this.sched.after(this.rng.int(20, 300), undefined, () => {
      if (!this.healed && !n.removed) this.start(n);
    });
  }

  private flip(n: SimNode): void {
    const clean: StorageFileSystem = n.fs.snapshotDisk();
    const at = n.fs.flipBit();
    if (at === undefined) return;
    this.flipped = true;
    this.trace(`bit flip in ${n.id}:${at.path} at ${at.offset}`);
    n.flipOracle = new FileStorage({ dir: DIR, fs: clean, segmentBytes: this.segmentBytes })
      .load()
      .catch((e: unknown) => e as Error);
  }

  // ---------------------------------------------------------------- faults

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.node !== undefined && n.proc?.alive === true);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live()) {
      const s = n.node?.status();
      if (s?.role !== 'leader') continue;
      if (best === undefined || s.term > (best.node?.status().term ?? 0)) best = n;
    }
    return best;
  }

  private fault(): void {
    if (this.healed) return;
    this.sched.after(this.rng.int(20, 150), undefined, () => this.fault());
    const r = this.rng.next();
    const ids = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    const pick = (): NodeId => ids[this.rng.int(0, ids.length)] as NodeId;
    const net = this.net;
    if (r < 0.12) {
      net.blocked.clear();
      const side = new Set(ids.filter(() => this.rng.next() < 0.5));
      for (const a of ids)
        for (const b of ids) if (side.has(a) !== side.has(b)) net.blocked.add(`${a}>${b}`);
      this.stats.partitions = (this.stats.partitions ?? 0) + 1;
      this.trace(`partition {${[...side].join(',')}}`);
    } else if (r < 0.18) {
      net.blocked.add(`${pick()}>${pick()}`);
    } else if (r < 0.28) {
      net.blocked.clear();
      net.links.clear();
    } else if (r < 0.38) {
      const bad = this.rng.next() < 0.5;
      net.all = {
        drop: bad ? this.rng.next() * 0.2 : 0,
        duplicate: bad ? this.rng.next() * 0.1 : 0,
        truncate: bad ? this.rng.next() * 0.05 : 0,
        corrupt: bad ? this.rng.next() * 0.05 : 0,
        extraLatencyMs: this.rng.int(0, 30),
        slowdown: this.rng.next() < 0.3 ? this.rng.int(2, 10) : 1,
      };
    } else if (r < 0.5) {
      // Half the time, hit a node with writes in flight: that is where lost writes hurt.
      const live = this.live();
      const writing = live.filter((n) => n.fs.hasUnsynced());
      const victims = writing.length > 0 && this.rng.next() < 0.5 ? writing : live;
      const v = victims[this.rng.int(0, victims.length)];
      if (v !== undefined) this.crash(v, this.rng.next() < 0.7);
    } else if (r < 0.58) {
      const v = this.live()[this.rng.int(0, this.live().length)];
      if (v?.proc !== undefined) {
        v.proc.pausedUntil = this.sched.now + this.rng.int(20, 500);
        this.stats.pauses = (this.stats.pauses ?? 0) + 1;
        this.trace(`pause ${v.id} until ${v.proc.pausedUntil.toFixed(0)}`);
      }
    } else if (r < 0.72) {
      this.diskFault();
    } else if (r < 0.85) {
      this.membershipChange();
    } else if (r < 0.9) {
      const l = this.leader();
      const s = l?.node?.status();
      const to = s?.membership.voters.filter((v) => v !== l?.id)[0];
      if (l?.node !== undefined && to !== undefined) {
        this.stats.transfers = (this.stats.transfers ?? 0) + 1;
        l.node.transferLeadership(to, 200).catch(() => undefined);
      }
    }
  }

  private diskFault(): void {
    if (!this.diskFaulty) return;
    const live = this.live();
    const n = live[this.rng.int(0, live.length)];
    if (n === undefined) return;
    const f = n.fs.faults;
    const kind = this.rng.int(0, 3);
    if (kind === 0) f.shortWriteRate = 0.2 + this.rng.next() * 0.5;
    else if (kind === 1) f.fsyncErrorRate = 0.05 + this.rng.next() * 0.2;
    else f.freeBytes = this.rng.int(0, 2_000);
    this.trace(`disk fault on ${n.id}: ${['short writes', 'fsync errors', 'disk full'][kind]}`);
    this.sched.after(this.rng.int(30, 400), undefined, () => {
      f.shortWriteRate = 0;
      f.fsyncErrorRate = 0;
      f.freeBytes = undefined;
    });
  }

  private membershipChange(): void {
    const l = this.leader();
    if (l?.node === undefined) return;
    const m = l.node.status().membership;
    const boot = this.options.nodes;
    const spare = [...this.nodes.values()].find(
      (n) => n.removed && !n.diskDead && !m.voters.includes(n.id) && !m.learners.includes(n.id),
    );
    let change: ConfigChange | undefined;
    const r = this.rng.next();
    if (r < 0.35 && spare !== undefined) {
      change = { type: 'addLearner', node: spare.id };
    } else if (r < 0.65 && m.learners.length > 0) {
      change = {
        type: 'promoteLearner',
        node: m.learners[this.rng.int(0, m.learners.length)] as NodeId,
      };
    } else if (m.voters.length > boot || (m.learners.length > 0 && r < 0.8)) {
      const pool = m.voters.length > boot ? [...m.voters, ...m.learners] : [...m.learners];
      change = { type: 'removeNode', node: pool[this.rng.int(0, pool.length)] as NodeId };
    }
    if (change === undefined) return;
    this.applyChange(l, change).catch(() => undefined);
  }

  /** Proposes `change` on `l`: an added learner is started on a fresh disk, a removed node stopped and wiped. */
  private applyChange(l: SimNode, c: ConfigChange): Promise<void> {
    if (l.node === undefined) return Promise.reject(new Error(`${l.id} is not running`));
    if (c.type === 'addLearner') {
      const spare = this.nodes.get(c.node) as SimNode;
      spare.removed = false;
      spare.fs = this.newFs();
      spare.acked = newAcked();
      spare.flipOracle = undefined;
      spare.kv = new Map();
      spare.applied = 0;
      this.start(spare);
    }
    this.stats.configChanges = (this.stats.configChanges ?? 0) + 1;
    this.trace(`${l.id} proposes ${c.type} ${c.node}`);
    return l.node.changeMembership(c).then(() => {
      if (c.type !== 'removeNode') return;
      // Once removed, the node's process goes and its data is wiped: it may come back only as new.
      const gone = this.nodes.get(c.node) as SimNode;
      if (gone.proc) gone.proc.alive = false;
      gone.node = undefined;
      gone.removed = true;
      gone.bootstrap = undefined;
      this.trace(`${c.node} removed and wiped`);
    });
  }

  private heal(): void {
    this.healed = true;
    this.phase = 'healed';
    this.net.heal();
    // One link stays slow and lossy: progress must not need every link healthy.
    const voters = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    const a = voters[this.rng.int(0, voters.length)] as NodeId;
    const b = voters.find((x) => x !== a) as NodeId;
    for (const key of [`${a}>${b}`, `${b}>${a}`]) this.net.links.set(key, { ...HEALED_SLOW_LINK });
    this.net.retimeQueued();
    this.trace(`heal; ${a}<->${b} stays slow and lossy`);
    for (const n of this.nodes.values()) {
      n.fs.faults.shortWriteRate = 0;
      n.fs.faults.fsyncErrorRate = 0;
      n.fs.faults.freeBytes = undefined;
      if (n.proc) this.sched.resume(n.proc);
      if (!n.removed && !n.diskDead && n.proc?.alive !== true) this.start(n);
    }
    this.sched.after(0, undefined, () => this.marker());
  }

  /** After healing, the leader keeps committing markers: progress under the remaining fault. */
  private marker(): void {
    this.sched.after(100, undefined, () => this.marker());
    if (this.phase === 'probing') return;
    const l = this.leader();
    l?.node?.propose(enc.encode(JSON.stringify({ marker: this.sched.now }))).then(
      () => {
        this.markersCommitted++;
      },
      () => undefined,
    );
  }

  // ---------------------------------------------------------------- liveness

  private settled(): boolean {
    return (
      this.markersCommitted >= 3 &&
      this.clients.pendingOps().length === 0 &&
      converged(this.nodes, this.leader()) === undefined
    );
  }

  private finalChecks(): void {
    if (this.markersCommitted < 3)
      throw new Violation(
        `liveness: ${this.markersCommitted} markers committed in ${this.livenessMs}ms after healing (one link slow and lossy)`,
      );
    const pending = this.clients.pendingOps();
    if (pending.length > 0) {
      const o = pending[0] as ClientOp;
      this.traceStatus();
      throw new Violation(
        `liveness: ${pending.length} operations never settled, e.g. ${o.input.kind} on ${o.node} started at ${o.startedAt.toFixed(0)}ms`,
      );
    }
    const late = this.clients.ops.filter(
      (o) => o.settledAt !== undefined && o.settledAt > this.chaosMs + this.livenessMs,
    );
    if (late.length > 0) {
      const o = late[0] as ClientOp;
      this.traceStatus();
      throw new Violation(
        `liveness: ${late.length} operations settled after the bound, e.g. ${o.input.kind} on ${o.node} started at ${o.startedAt.toFixed(0)}ms, settled (${o.outcome}) at ${(o.settledAt as number).toFixed(0)}ms`,
      );
    }
    const c = converged(this.nodes, this.leader());
    if (c !== undefined) {
      this.traceStatus();
      throw new Violation(`convergence: ${c}`);
    }
  }

  private traceStatus(): void {
    for (const n of this.nodes.values()) {
      const st = n.node?.status();
      this.trace(
        `${n.id}: ${n.proc?.alive ? 'up' : 'down'}${n.diskDead ? ' (disk dead)' : ''}${n.removed ? ' (removed)' : ''} ${st === undefined ? '' : `${st.role} term ${st.term} leader ${st.leader} commit ${st.commitIndex} applied ${st.appliedIndex} last ${st.lastIndex} voters ${st.membership.voters} learners ${st.membership.learners}`}`,
      );
    }
  }
}
