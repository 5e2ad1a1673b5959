/**
 * A deterministic simulator for RaftCore: a seeded PRNG and a virtual clock
 * drive N nodes over a network that drops, duplicates, delays (so reorders) and
 * partitions (symmetric and one-way), nodes that crash with or without losing
 * unsynced writes (including a torn WAL tail), snapshots and compaction,
 * membership changes and leadership transfers, and clients whose operations are
 * recorded for the linearizability checker. Safety is checked after every event;
 * liveness once the faults heal. Everything random comes from the seed: a run
 * replays exactly.
 */

import { defaultConfig } from '../src/core/default-config.js';
import { hashSeed, Prng } from '../src/core/prng.js';
import { RaftCore } from '../src/core/raft-core.js';
import { NotLeaderError, RaftError } from '../src/errors.js';
import type {
  Entry,
  HardState,
  Membership,
  Message,
  NodeId,
  RaftConfig,
  Ready,
  Snapshot,
} from '../src/types.js';
import { EventQueue } from './event-queue.js';
import {
  checkLinearizable,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from './linearizability.js';

export interface SimOptions {
  readonly seed: number;
  /** Voters at bootstrap (3 or 5). One spare node also runs, to be added as a learner and promoted. */
  readonly nodes: number;
  /** Virtual milliseconds of faults before healing. */
  readonly chaosMs?: number;
  /** After healing, a leader must commit a new entry within this many virtual milliseconds. */
  readonly livenessMs?: number;
  /** Record client operations and check them for linearizability. */
  readonly checkLinearizability?: boolean;
  readonly tickMs?: number;
  /** Receives a line per notable event (faults, elections) for replays with --trace. */
  readonly trace?: (line: string) => void;
  /**
   * Models a broken runtime that sends a Ready's messages before its fsync (so a
   * crash can forget a vote or an acknowledged entry). Only for showing that the
   * simulator catches a violated durability contract.
   */
  readonly unsafeSendBeforeSync?: boolean;
  /** Clients read any node's local state without ReadIndex: stale reads the checker must flag. */
  readonly unsafeLocalReads?: boolean;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: string;
  /** The command that replays this run. */
  readonly replay: string;
  readonly stats: {
    readonly virtualMs: number;
    readonly events: number;
    readonly messages: number;
    readonly committed: number;
    readonly leaders: number;
    readonly crashes: number;
    readonly snapshotsSent: number;
    readonly configChanges: number;
    readonly transfers: number;
    readonly operations: number;
    readonly linearizability?: string;
    readonly livenessMs?: number;
  };
}

class Violation extends Error {}

type SimEvent =
  | { kind: 'tick'; node: NodeId; incarnation: number }
  | { kind: 'deliver'; message: Message }
  | { kind: 'fsync'; node: NodeId; incarnation: number }
  | { kind: 'fault' }
  | { kind: 'restart'; node: NodeId }
  | { kind: 'crash'; node: NodeId; incarnation: number }
  | { kind: 'client'; client: number }
  | { kind: 'timeout'; opId: number };

type StorageRecord =
  | { kind: 'snapshot'; snapshot: Snapshot }
  | { kind: 'entry'; entry: Entry }
  | { kind: 'hardState'; hardState: HardState };

interface Durable {
  hardState: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
}

interface PendingWrite {
  opId: number;
  index: number;
  term: number;
}
interface PendingRead {
  opId: number;
  requestId: string;
  index?: number;
}

interface SimNode {
  readonly id: NodeId;
  readonly bootstrap?: Membership;
  incarnation: number;
  core: RaftCore | null;
  durable: Durable;
  /** Written but not yet fsynced, in write order: a crash may keep a prefix (torn tail). */
  unsynced: StorageRecord[];
  pending: Ready | null;
  kv: Map<string, string>;
  applied: number;
  writes: PendingWrite[];
  reads: PendingRead[];
}

interface ClientOp {
  id: number;
  client: number;
  node: NodeId;
  input: RegisterInput;
  call: number;
  ret?: number;
  output?: RegisterOutput;
  /** true once failed for certain (not applied): dropped from the history. */
  failed?: boolean;
  done: boolean;
}

const KEYS = ['x', 'y'];
const enc = new TextEncoder();
const dec = new TextDecoder();

export function replayCommand(o: SimOptions): string {
  const flags = [
    o.checkLinearizability === false ? ' --no-lin' : '',
    o.chaosMs === undefined ? '' : ` --chaos-ms ${o.chaosMs}`,
    o.unsafeSendBeforeSync === true ? ' --unsafe-send-before-sync' : '',
    o.unsafeLocalReads === true ? ' --unsafe-local-reads' : '',
  ];
  return `pnpm --filter raft-consensus-ts sim --seed ${o.seed} --nodes ${o.nodes}${flags.join('')}`;
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

class Simulation {
  private readonly rng: Prng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly ids: NodeId[] = [];
  private readonly tickMs: number;
  private readonly chaosMs: number;
  private readonly livenessMs: number;
  private now = 0;
  /** A strictly increasing logical clock for client histories: events at the same ms are still ordered. */
  private clock = 0;
  private healed = false;

  // network model
  private dropRate = 0;
  private dupRate = 0;
  private maxDelayMs = 5;
  /** Some seeds get a slow disk: a long fsync keeps writes unsynced long enough for crashes to lose them. */
  private maxFsyncMs = 2;
  private blocked = new Set<string>();

  // invariants
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index, term) → data and previous term, for log matching. */
  private readonly entryAt = new Map<string, { data: string; prevTerm: number | undefined }>();
  /** index → committed entry as applied anywhere (state machine safety). */
  private readonly committed = new Map<number, { term: number; data: string }>();
  private maxCommitted = 0;

  // clients
  private readonly ops: ClientOp[] = [];
  private readonly opsById = new Map<number, ClientOp>();
  private nextOpId = 1;
  private nextValue = 1;
  private readonly clients = 3;
  private readonly leaderHint: (NodeId | undefined)[] = [];
  /** unsafeSendBeforeSync: the message-less copy pending → the Ready the core handed out. */
  private readonly unsafeReadies = new Map<Ready, Ready>();

  // liveness
  private livenessMarker: { index: number; term: number; node: NodeId } | null = null;
  private livenessDoneAt: number | null = null;

  private stats = {
    events: 0,
    messages: 0,
    leaders: 0,
    crashes: 0,
    snapshotsSent: 0,
    configChanges: 0,
    transfers: 0,
  };

  /** Per-seed core settings: small batches and windows make rare interleavings (figure 8) common. */
  private readonly coreConfig: Partial<Omit<RaftConfig, 'id' | 'randomSeed'>>;

  constructor(private readonly options: SimOptions) {
    this.rng = new Prng(hashSeed(`sim:${options.seed}`) ^ options.seed);
    const small = this.rng.next() < 0.5;
    this.maxFsyncMs = this.rng.next() < 0.5 ? 2 : this.rng.int(5, 40);
    this.coreConfig = {
      electionTicks: this.rng.int(5, 16),
      heartbeatTicks: this.rng.int(1, 3),
      maxEntriesPerMessage: small ? this.rng.int(1, 4) : 1024,
      maxInflightMessages: small ? this.rng.int(1, 4) : 256,
      // Safety must not depend on the optional extensions: most seeds run the defaults, some without.
      preVote: this.rng.next() < 0.8,
      checkQuorum: this.rng.next() < 0.8,
    };
    this.tickMs = options.tickMs ?? 10;
    this.chaosMs = options.chaosMs ?? 3000;
    this.livenessMs = options.livenessMs ?? 4000;
    const voters = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    const bootstrap: Membership = { voters, learners: [] };
    for (const id of voters) this.addNode(id, bootstrap);
    this.addNode('spare', undefined);
  }

  private addNode(id: NodeId, bootstrap: Membership | undefined): void {
    const node: SimNode = {
      id,
      ...(bootstrap === undefined ? {} : { bootstrap }),
      incarnation: 0,
      core: null,
      durable: { hardState: { term: 0, vote: null, commit: 0 }, entries: [] },
      unsynced: [],
      pending: null,
      kv: new Map(),
      applied: 0,
      writes: [],
      reads: [],
    };
    this.nodes.set(id, node);
    this.ids.push(id);
    this.start(node);
  }

  private trace(line: string): void {
    this.options.trace?.(`[${this.now}ms] ${line}`);
  }

  run(): SimResult {
    let violation: string | undefined;
    try {
      this.trace(`config ${JSON.stringify(this.coreConfig)} maxFsyncMs=${this.maxFsyncMs}`);
      for (let c = 0; c < this.clients; c++)
        this.queue.push(this.rng.int(0, 50), { kind: 'client', client: c });
      this.queue.push(this.rng.int(50, 200), { kind: 'fault' });
      const end = this.chaosMs + this.livenessMs;
      for (;;) {
        const next = this.queue.pop();
        if (next === undefined) break;
        this.now = next.at;
        if (!this.healed && this.now >= this.chaosMs) this.heal();
        if (this.now > end) break;
        this.stats.events++;
        this.handle(next.event);
        if (this.livenessDoneAt !== null) break;
      }
      if (this.livenessDoneAt === null) {
        throw new Violation(
          `liveness: no new entry committed within ${this.livenessMs}ms after healing`,
        );
      }
      this.finalChecks();
    } catch (error) {
      if (error instanceof Violation) violation = error.message;
      else if (error instanceof RaftError) violation = `core threw ${error.code}: ${error.message}`;
      else violation = `simulator error: ${(error as Error).stack ?? String(error)}`;
    }
    let linearizability: string | undefined;
    if (violation === undefined && this.options.checkLinearizability !== false) {
      const history = this.history();
      const r = checkLinearizable(registerModel, history, { maxExplored: 500_000 });
      linearizability = `${r.result} (${history.length} ops, ${r.explored} explored)`;
      if (r.result === 'illegal')
        violation = `linearizability: history of ${r.operations} ops on one key is not linearizable`;
    }
    const committedCount = this.maxCommitted;
    return {
      seed: this.options.seed,
      ok: violation === undefined,
      ...(violation === undefined
        ? {}
        : { violation: `seed ${this.options.seed} @${this.now}ms: ${violation}` }),
      replay: replayCommand(this.options),
      stats: {
        virtualMs: this.now,
        ...this.stats,
        committed: committedCount,
        operations: this.ops.length,
        ...(linearizability === undefined ? {} : { linearizability }),
        ...(this.livenessDoneAt === null ? {} : { livenessMs: this.livenessDoneAt - this.chaosMs }),
      },
    };
  }

  // ---------------------------------------------------------------- nodes

  private start(node: SimNode): void {
    node.incarnation++;
    const d = node.durable;
    // Each incarnation gets its own jitter so two restarts do not replay the same timeouts.
    const config = defaultConfig(node.id, {
      ...this.coreConfig,
      randomSeed: hashSeed(`${this.options.seed}:${node.id}:${node.incarnation}`),
    });
    node.core = new RaftCore(config, {
      hardState: d.hardState,
      ...(d.snapshot === undefined ? {} : { snapshot: d.snapshot.meta }),
      entries: d.entries,
      ...(node.bootstrap === undefined ? {} : { bootstrap: node.bootstrap }),
    });
    // The runtime restores the state machine from the snapshot and hands the snapshot back to the core.
    node.kv = d.snapshot === undefined ? new Map() : decodeKv(d.snapshot.data);
    node.applied = d.snapshot?.meta.index ?? 0;
    if (d.snapshot !== undefined) node.core.setSnapshot(d.snapshot);
    node.pending = null;
    node.unsynced = [];
    node.writes = [];
    node.reads = [];
    this.queue.push(this.now + this.rng.int(1, this.tickMs + 1), {
      kind: 'tick',
      node: node.id,
      incarnation: node.incarnation,
    });
  }

  private crash(node: SimNode): void {
    if (node.core === null) return;
    this.stats.crashes++;
    const mode = this.rng.next();
    let kept = 0;
    if (mode < 0.3)
      kept = node.unsynced.length; // the OS flushed everything after all
    else if (mode < 0.6) kept = this.rng.int(0, node.unsynced.length + 1); // torn tail: lose the last records
    for (const rec of node.unsynced.slice(0, kept)) this.persist(node, rec);
    this.trace(`crash ${node.id} (kept ${kept}/${node.unsynced.length} unsynced records)`);
    node.core = null;
    node.unsynced = [];
    node.pending = null;
    this.checkDurableMajority();
    this.failClientOpsAt(node);
    this.queue.push(this.now + this.rng.int(20, 400), { kind: 'restart', node: node.id });
  }

  private persist(node: SimNode, rec: StorageRecord): void {
    const d = node.durable;
    if (rec.kind === 'hardState') d.hardState = rec.hardState;
    else if (rec.kind === 'snapshot') {
      d.snapshot = rec.snapshot;
      d.entries = [];
    } else {
      const base = d.snapshot?.meta.index ?? 0;
      const first = d.entries[0]?.index ?? base + 1;
      const pos = rec.entry.index - first;
      if (rec.entry.index <= base || pos > d.entries.length) {
        throw new Violation(
          `${node.id}: Ready entry ${rec.entry.index} not contiguous with storage (snapshot ${base}, first ${first}, ${d.entries.length} entries)`,
        );
      }
      d.entries.length = pos;
      d.entries.push(rec.entry);
    }
  }

  /** Drains Readys until one needs an fsync; its messages wait for the fsync event. */
  private pump(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    while (node.pending === null && core.hasReady()) {
      const rd = core.ready();
      this.checkReady(node, rd);
      const recs: StorageRecord[] = [];
      if (rd.snapshot !== undefined) recs.push({ kind: 'snapshot', snapshot: rd.snapshot });
      for (const entry of rd.entries) recs.push({ kind: 'entry', entry });
      if (rd.hardState !== undefined) recs.push({ kind: 'hardState', hardState: rd.hardState });
      if (recs.length === 0) {
        this.finish(node, rd);
        continue;
      }
      node.unsynced.push(...recs);
      node.pending = rd;
      if (this.options.unsafeSendBeforeSync === true) {
        for (const m of rd.messages) this.send(m);
        node.pending = { ...rd, messages: [] };
        this.unsafeReadies.set(node.pending, rd);
      }
      this.queue.push(this.now + this.rng.int(0, this.maxFsyncMs + 1), {
        kind: 'fsync',
        node: node.id,
        incarnation: node.incarnation,
      });
    }
  }

  private finish(node: SimNode, rd: Ready): void {
    const core = node.core as RaftCore;
    const original = this.unsafeReadies.get(rd);
    for (const rec of node.unsynced) this.persist(node, rec);
    node.unsynced = [];
    for (const m of rd.messages) this.send(m);
    if (rd.snapshot !== undefined) {
      node.kv = decodeKv(rd.snapshot.data);
      node.applied = rd.snapshot.meta.index;
      this.stats.snapshotsSent++;
    }
    for (const e of rd.committedEntries) this.apply(node, e);
    for (const rs of rd.readStates) {
      const r = node.reads.find((x) => x.requestId === rs.requestId);
      if (r !== undefined) r.index = rs.index;
    }
    for (const ev of rd.events) {
      if (ev.type === 'read-index-failed') {
        const r = node.reads.find((x) => x.requestId === ev.requestId);
        if (r !== undefined) {
          node.reads = node.reads.filter((x) => x !== r);
          this.failOp(r.opId);
        }
      } else if (ev.type === 'election-won') {
        this.stats.leaders++;
        this.trace(`${node.id} leader of term ${ev.term}`);
        // New leaders that die young leave entries of a term no one else has:
        // the raw material of figure 8 (committing a previous term's entries).
        if (!this.healed && this.rng.next() < 0.2) {
          this.queue.push(this.now + this.rng.int(0, 40), {
            kind: 'crash',
            node: node.id,
            incarnation: node.incarnation,
          });
        }
      }
    }
    core.advance(original ?? rd);
    this.serveReads(node);
    this.maybeSnapshot(node);
  }

  private apply(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1)
      throw new Violation(`${node.id} applied ${e.index} after ${node.applied}`);
    const data = dec.decode(e.data);
    const seen = this.committed.get(e.index);
    if (seen === undefined) this.committed.set(e.index, { term: e.term, data });
    else if (seen.term !== e.term || seen.data !== data) {
      throw new Violation(
        `state machine safety: ${node.id} applied (${e.index}, t${e.term}) but another node applied (${e.index}, t${seen.term}) there`,
      );
    }
    this.maxCommitted = Math.max(this.maxCommitted, e.index);
    node.applied = e.index;
    if (e.type === 'normal') {
      const cmd = JSON.parse(data) as { key: string; value: string } | { marker: true };
      if ('key' in cmd) node.kv.set(cmd.key, cmd.value);
    }
    for (const w of node.writes) {
      if (w.index !== e.index) continue;
      // Same index, other term: our entry lost its slot and can never commit.
      if (w.term === e.term) this.completeOp(w.opId, null);
      else this.failOp(w.opId);
    }
    node.writes = node.writes.filter((w) => w.index !== e.index);
    if (
      this.livenessMarker !== null &&
      this.livenessMarker.index === e.index &&
      this.livenessMarker.term === e.term
    ) {
      this.livenessDoneAt = this.now;
    }
  }

  private maybeSnapshot(node: SimNode): void {
    const core = node.core as RaftCore;
    // Small threshold so compaction and InstallSnapshot happen in every run.
    if (node.pending !== null || node.applied - core.firstIndex < 15 || this.rng.next() < 0.5)
      return;
    const meta = core.snapshotMeta(node.applied);
    const snapshot: Snapshot = { meta, data: encodeKv(node.kv) };
    // Snapshots are saved atomically and synced before the log is compacted.
    const d = node.durable;
    if (d.snapshot === undefined || d.snapshot.meta.index < meta.index) {
      d.entries = d.entries.filter((e) => e.index > meta.index);
      d.snapshot = snapshot;
    }
    core.setSnapshot(snapshot);
    core.compact(meta.index);
  }

  // ---------------------------------------------------------------- events

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const node = this.nodes.get(ev.node) as SimNode;
        if (node.core === null || node.incarnation !== ev.incarnation) return;
        node.core.tick();
        this.after(node);
        this.queue.push(this.now + this.tickMs, ev);
        if (this.healed) this.livenessProbe(node);
        return;
      }
      case 'deliver': {
        const node = this.nodes.get(ev.message.to);
        if (node === undefined || node.core === null) return;
        node.core.step(ev.message);
        this.after(node);
        return;
      }
      case 'fsync': {
        const node = this.nodes.get(ev.node) as SimNode;
        if (node.core === null || node.incarnation !== ev.incarnation || node.pending === null)
          return;
        const rd = node.pending;
        node.pending = null;
        this.finish(node, rd);
        this.after(node);
        return;
      }
      case 'crash': {
        const node = this.nodes.get(ev.node) as SimNode;
        if (node.core !== null && node.incarnation === ev.incarnation && !this.healed)
          this.crash(node);
        return;
      }
      case 'restart': {
        const node = this.nodes.get(ev.node) as SimNode;
        if (node.core !== null) return;
        this.trace(`restart ${node.id}`);
        this.start(node);
        this.checkRestart(node);
        return;
      }
      case 'fault':
        if (this.healed) return;
        this.fault();
        this.queue.push(this.now + this.rng.int(30, 250), { kind: 'fault' });
        return;
      case 'client':
        this.clientStep(ev.client);
        return;
      case 'timeout': {
        const op = this.opsById.get(ev.opId);
        if (op !== undefined && !op.done) {
          // The client gives up: the write may or may not take effect (ret stays Infinity).
          op.done = true;
          this.queue.push(this.now + this.rng.int(5, 40), { kind: 'client', client: op.client });
        }
        return;
      }
    }
  }

  private after(node: SimNode): void {
    this.pump(node);
    this.checkLeader(node);
  }

  private send(m: Message): void {
    this.stats.messages++;
    if (this.blocked.has(`${m.from}>${m.to}`)) return;
    if (!this.healed && this.rng.next() < this.dropRate) return;
    const copies = !this.healed && this.rng.next() < this.dupRate ? 2 : 1;
    for (let i = 0; i < copies; i++)
      this.queue.push(this.now + this.rng.int(1, this.maxDelayMs + 1), {
        kind: 'deliver',
        message: m,
      });
  }

  private liveNodes(): SimNode[] {
    return this.ids.map((id) => this.nodes.get(id) as SimNode).filter((n) => n.core !== null);
  }

  private leaderNode(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.liveNodes()) {
      const core = n.core as RaftCore;
      if (core.currentRole !== 'leader') continue;
      if (best === undefined || core.currentTerm > (best.core as RaftCore).currentTerm) best = n;
    }
    return best;
  }

  private fault(): void {
    const r = this.rng.next();
    const ids = this.ids;
    const pick = () => ids[this.rng.int(0, ids.length)] as NodeId;
    if (r < 0.12) {
      // symmetric partition into two sides
      this.blocked.clear();
      const side = new Set(ids.filter(() => this.rng.next() < 0.5));
      for (const a of ids)
        for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(`${a}>${b}`);
      this.trace(`partition {${[...side].join(',')}} | rest`);
    } else if (r < 0.22) {
      // one-way links: a can send to b but not hear back (or the reverse)
      for (let i = 0; i < 2; i++) {
        const a = pick();
        const b = pick();
        if (a !== b) this.blocked.add(`${a}>${b}`);
      }
      this.trace(`one-way blocks ${[...this.blocked].join(' ')}`);
    } else if (r < 0.3) {
      const leader = this.leaderNode();
      if (leader !== undefined) {
        for (const b of ids)
          if (b !== leader.id) {
            this.blocked.add(`${leader.id}>${b}`);
            this.blocked.add(`${b}>${leader.id}`);
          }
        this.trace(`isolate leader ${leader.id}`);
      }
    } else if (r < 0.42) {
      this.blocked.clear();
      this.trace('heal partitions');
    } else if (r < 0.55) {
      const live = this.liveNodes();
      // Half the time, hit a node with writes in flight: that is where lost writes hurt.
      const writing = live.filter((n) => n.unsynced.length > 0);
      const pool = writing.length > 0 && this.rng.next() < 0.5 ? writing : live;
      const victim = pool[this.rng.int(0, pool.length)];
      if (victim !== undefined && live.length > 1) this.crash(victim);
    } else if (r < 0.65) {
      this.dropRate = this.rng.next() < 0.5 ? 0 : this.rng.next() * 0.3;
      this.dupRate = this.rng.next() < 0.5 ? 0 : this.rng.next() * 0.2;
      this.maxDelayMs = this.rng.int(1, 40);
      this.trace(
        `network drop=${this.dropRate.toFixed(2)} dup=${this.dupRate.toFixed(2)} delay<=${this.maxDelayMs}`,
      );
    } else if (r < 0.8) {
      this.membershipChange();
    } else if (r < 0.88) {
      const leader = this.leaderNode();
      if (leader !== undefined) {
        const voters = (leader.core as RaftCore)
          .status()
          .membership.voters.filter((v) => v !== leader.id);
        const target = voters[this.rng.int(0, voters.length)];
        if (target !== undefined) {
          this.stats.transfers++;
          this.trace(`transfer ${leader.id} -> ${target}`);
          (leader.core as RaftCore).transferLeadership(target);
          this.after(leader);
        }
      }
    }
  }

  private membershipChange(): void {
    const leader = this.leaderNode();
    if (leader === undefined) return;
    const core = leader.core as RaftCore;
    const m = core.status().membership;
    let change: Parameters<RaftCore['proposeConfigChange']>[0] | undefined;
    if (!m.voters.includes('spare') && !m.learners.includes('spare')) {
      // Only once: a removed node's old state must not come back as a fresh member.
      if (this.stats.configChanges === 0) change = { type: 'addLearner', node: 'spare' };
    } else if (m.learners.includes('spare')) change = { type: 'promoteLearner', node: 'spare' };
    else if (m.voters.length > 3) {
      const removable = m.voters.filter((v) => v !== 'spare');
      change = { type: 'removeNode', node: removable[this.rng.int(0, removable.length)] as NodeId };
    }
    if (change === undefined) return;
    try {
      core.proposeConfigChange(change);
      this.stats.configChanges++;
      this.trace(`${leader.id} proposes ${change.type} ${change.node}`);
    } catch (error) {
      // Refusals (a change in flight, learner behind, transfer) are part of the API; anything else is a bug.
      const code = (error as RaftError).code;
      if (
        ![
          'RAFT_CONFIG_CHANGE_IN_PROGRESS',
          'RAFT_LEARNER_NOT_CAUGHT_UP',
          'RAFT_TRANSFER_IN_PROGRESS',
        ].includes(code)
      )
        throw error;
    }
    this.after(leader);
  }

  private heal(): void {
    this.healed = true;
    this.blocked.clear();
    this.dropRate = 0;
    this.dupRate = 0;
    // Liveness needs broadcast time (delay + fsync) well under the election
    // timeout (§5.6); chaos may break that, healing restores it.
    this.maxDelayMs = Math.min(this.maxDelayMs, 5);
    this.maxFsyncMs = Math.min(this.maxFsyncMs, 10);
    this.trace('heal everything');
    for (const node of this.nodes.values()) {
      if (node.core === null) {
        this.start(node);
        this.checkRestart(node);
      }
    }
  }

  /** After healing: the first leader that can propose writes a marker; liveness holds once it is applied. */
  private livenessProbe(node: SimNode): void {
    const core = node.core as RaftCore;
    if (core.currentRole !== 'leader') return;
    if (this.livenessMarker !== null) {
      const m = this.livenessMarker;
      const still = this.nodes.get(m.node)?.core?.status();
      if (still !== undefined && still.role === 'leader' && still.term === m.term) return;
    }
    try {
      const { index, term } = core.propose(enc.encode(JSON.stringify({ marker: true })));
      this.livenessMarker = { index, term, node: node.id };
      this.after(node);
    } catch (error) {
      if ((error as RaftError).code !== 'RAFT_TRANSFER_IN_PROGRESS') throw error;
    }
  }

  // ---------------------------------------------------------------- clients

  private clientStep(client: number): void {
    const live = this.liveNodes();
    // Clients mostly go where they last heard the leader is, as real ones follow NotLeaderError hints.
    const hinted = this.leaderHint[client];
    const hintedNode = hinted === undefined ? undefined : live.find((n) => n.id === hinted);
    const node =
      hintedNode !== undefined && this.rng.next() < 0.8
        ? hintedNode
        : live[this.rng.int(0, live.length)];
    if (node === undefined) {
      this.queue.push(this.now + 20, { kind: 'client', client });
      return;
    }
    const core = node.core as RaftCore;
    const key = KEYS[this.rng.int(0, KEYS.length)] as string;
    const write = this.rng.next() < 0.55;
    const input: RegisterInput = write
      ? { key, kind: 'write', value: `v${this.nextValue++}` }
      : { key, kind: 'read' };
    const op: ClientOp = {
      id: this.nextOpId++,
      client,
      node: node.id,
      input,
      call: ++this.clock,
      done: false,
    };
    this.ops.push(op);
    this.opsById.set(op.id, op);
    this.queue.push(this.now + 400, { kind: 'timeout', opId: op.id });
    if (input.kind === 'write') {
      try {
        const { index, term } = core.propose(
          enc.encode(JSON.stringify({ key, value: input.value })),
        );
        node.writes.push({ opId: op.id, index, term });
      } catch (error) {
        const code = (error as RaftError).code;
        if (code !== 'RAFT_NOT_LEADER' && code !== 'RAFT_TRANSFER_IN_PROGRESS') throw error;
        if (error instanceof NotLeaderError && error.leaderId !== null)
          this.leaderHint[client] = error.leaderId;
        this.failOp(op.id);
      }
    } else if (this.options.unsafeLocalReads === true) {
      // The broken shortcut: answer from local state without ReadIndex.
      this.completeOp(op.id, node.kv.get(key) ?? null);
    } else {
      const requestId = `r${op.id}`;
      node.reads.push({ opId: op.id, requestId });
      core.readIndex(requestId);
    }
    this.after(node);
  }

  private serveReads(node: SimNode): void {
    for (const r of node.reads) {
      if (r.index === undefined || node.applied < r.index) continue;
      const op = this.opsById.get(r.opId) as ClientOp;
      if (op.input.kind === 'read') this.completeOp(r.opId, node.kv.get(op.input.key) ?? null);
    }
    node.reads = node.reads.filter((r) => r.index === undefined || node.applied < r.index);
  }

  private completeOp(opId: number, output: RegisterOutput): void {
    const op = this.opsById.get(opId);
    if (op === undefined || op.done) return;
    op.done = true;
    op.ret = ++this.clock;
    op.output = output;
    this.queue.push(this.now + this.rng.int(0, 30), { kind: 'client', client: op.client });
  }

  private failOp(opId: number): void {
    const op = this.opsById.get(opId);
    if (op === undefined || op.done) return;
    op.done = true;
    op.failed = true;
    this.queue.push(this.now + this.rng.int(5, 40), { kind: 'client', client: op.client });
  }

  /** A crash loses the node's pending reads; its pending writes become unknown (they may still commit). */
  private failClientOpsAt(node: SimNode): void {
    for (const r of node.reads) this.failOp(r.opId);
    for (const w of node.writes) {
      const op = this.opsById.get(w.opId);
      if (op !== undefined && !op.done) {
        op.done = true;
        this.queue.push(this.now + this.rng.int(5, 40), { kind: 'client', client: op.client });
      }
    }
  }

  private history(): Operation<RegisterInput, RegisterOutput>[] {
    const out: Operation<RegisterInput, RegisterOutput>[] = [];
    for (const op of this.ops) {
      if (op.failed) continue;
      if (op.ret === undefined) {
        // Unknown outcome: a read constrains nothing; a write may have happened at any time after its call.
        if (op.input.kind === 'write')
          out.push({
            call: op.call,
            ret: Number.POSITIVE_INFINITY,
            input: op.input,
            output: undefined,
            client: op.client,
          });
        continue;
      }
      out.push({
        call: op.call,
        ret: op.ret,
        input: op.input,
        output: op.output,
        client: op.client,
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- invariants

  private checkReady(node: SimNode, rd: Ready): void {
    const core = node.core as RaftCore;
    // Log matching: an (index, term) names one entry, and its predecessor's term is fixed too.
    for (const e of rd.entries) {
      const key = `${e.index}:${e.term}`;
      const data = dec.decode(e.data);
      const prevTerm = e.index - 1 >= core.firstIndex - 1 ? core.termAt(e.index - 1) : undefined;
      const known = this.entryAt.get(key);
      if (known === undefined) this.entryAt.set(key, { data, prevTerm });
      else {
        if (known.data !== data)
          throw new Violation(
            `log matching: (${e.index}, t${e.term}) has two different payloads (${node.id})`,
          );
        if (known.prevTerm !== undefined && prevTerm !== undefined && known.prevTerm !== prevTerm) {
          throw new Violation(
            `log matching: (${e.index}, t${e.term}) preceded by t${prevTerm} on ${node.id} but t${known.prevTerm} elsewhere`,
          );
        }
      }
    }
    if (rd.hardState !== undefined) {
      const before = node.durable.hardState;
      if (rd.hardState.term < before.term)
        throw new Violation(
          `${node.id}: term went back from ${before.term} to ${rd.hardState.term}`,
        );
      if (
        rd.hardState.term === before.term &&
        before.vote !== null &&
        rd.hardState.vote !== before.vote
      ) {
        throw new Violation(
          `${node.id}: changed its vote in term ${before.term} from ${before.vote} to ${rd.hardState.vote}`,
        );
      }
    }
    const s = rd.softState;
    if (s !== undefined && s.role === 'leader') this.checkLeaderCompleteness(node);
  }

  /** Election safety: only the node that just handled an event can have changed role. */
  private checkLeader(n: SimNode): void {
    const core = n.core;
    if (core === null || core.currentRole !== 'leader') return;
    const term = core.currentTerm;
    const other = this.leaderOfTerm.get(term);
    if (other === undefined) this.leaderOfTerm.set(term, n.id);
    else if (other !== n.id)
      throw new Violation(`election safety: ${other} and ${n.id} are both leaders of term ${term}`);
  }

  /** Every entry applied anywhere must be in the log of every later leader (or covered by its snapshot). */
  private checkLeaderCompleteness(node: SimNode): void {
    const core = node.core as RaftCore;
    for (const [index, c] of this.committed) {
      if (index < core.firstIndex) continue;
      const t = core.termAt(index);
      if (t !== c.term) {
        throw new Violation(
          `leader completeness: ${node.id} leads term ${core.status().term} without committed entry (${index}, t${c.term}); has t${t ?? 'none'}`,
        );
      }
    }
  }

  /** Committed entries survive restarts: what a node recovers must agree with what was applied anywhere. */
  private checkRestart(node: SimNode): void {
    const d = node.durable;
    for (const e of d.entries) {
      const c = this.committed.get(e.index);
      if (c !== undefined && e.index <= d.hardState.commit && c.term !== e.term) {
        throw new Violation(
          `durability: ${node.id} restarted with committed index ${e.index} at t${e.term}, applied elsewhere at t${c.term}`,
        );
      }
    }
    const voters = new Set((node.core as RaftCore).status().membership.voters);
    // Every committed entry must still be held durably by some voter of the latest config.
    for (const [index, c] of this.committed) {
      let held = false;
      for (const id of voters) {
        const dd = this.nodes.get(id)?.durable;
        if (dd === undefined) continue;
        if ((dd.snapshot?.meta.index ?? 0) >= index) held = true;
        else if (dd.entries.some((e) => e.index === index && e.term === c.term)) held = true;
        if (held) break;
      }
      if (!held && voters.size > 0)
        throw new Violation(
          `durability: committed entry ${index} is no longer stored by any voter`,
        );
    }
  }

  /**
   * Raft's safety argument rests on every committed entry being durable on a
   * majority (acks follow fsyncs). Checked after each crash while membership is
   * still the bootstrap one (after a change, which majority applies is per entry).
   */
  private checkDurableMajority(): void {
    if (this.stats.configChanges > 0) return;
    const voters = this.ids.filter((id) => this.nodes.get(id)?.bootstrap !== undefined);
    const majority = Math.floor(voters.length / 2) + 1;
    for (const [index, c] of this.committed) {
      let holders = 0;
      for (const id of voters) {
        const d = (this.nodes.get(id) as SimNode).durable;
        const base = d.snapshot?.meta.index ?? 0;
        if (base >= index) holders++;
        else if (d.entries[index - base - 1]?.term === c.term) holders++;
      }
      if (holders < majority) {
        throw new Violation(
          `durability: committed entry ${index} is durable on only ${holders} of ${voters.length} voters`,
        );
      }
    }
  }

  private finalChecks(): void {
    const leader = this.leaderNode();
    if (leader !== undefined) this.checkLeaderCompleteness(leader);
  }
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return enc.encode(JSON.stringify([...kv]));
}
function decodeKv(bytes: Uint8Array): Map<string, string> {
  return new Map(JSON.parse(dec.decode(bytes)) as [string, string][]);
}
