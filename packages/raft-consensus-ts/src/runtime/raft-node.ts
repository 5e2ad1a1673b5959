import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { defaultConfig } from '../core/default-config.js';
import { RaftCore } from '../core/raft-core.js';
import { bugInjected } from '../injected-bugs.js';
import type {
  ConfigChange,
  Entry,
  Membership,
  Message,
  NodeId,
  RaftConfig,
  RaftEvent,
  RaftStorage,
  RaftTransport,
  Ready,
  Snapshot,
  StateMachine,
  Status,
} from '../types.js';
import { coalesceMessages } from './coalesce-messages.js';
import { processClock, type RuntimeClock } from './runtime-clock.js';
import {
  NodeStoppedError,
  ProposalDroppedError,
  ReadIndexFailedError,
  ReadIndexTimeoutError,
  TransferTimeoutError,
} from './runtime-errors.js';
import { rejectAll, rejectWhere, settle, type Waiter } from './waiters.js';

export type { RuntimeClock } from './runtime-clock.js';

/** Default tick: heartbeats every 20 ms, elections after 200–400 ms (10 ticks, randomized up to 2×). See README. */
export const DEFAULT_TICK_MS = 20;

export interface RaftNodeOptions {
  readonly id: NodeId;
  readonly storage: RaftStorage;
  readonly transport: RaftTransport;
  readonly stateMachine: StateMachine;
  /** Membership of a brand-new cluster; ignored once the log or a snapshot holds one. */
  readonly bootstrap?: Membership;
  /** Overrides of the core's defaults (electionTicks 10, heartbeatTicks 1, pre-vote and check-quorum on). */
  readonly config?: Partial<Omit<RaftConfig, 'id'>>;
  /** Wall time of one tick. Default DEFAULT_TICK_MS. */
  readonly tickMs?: number;
  /** Take a state-machine snapshot after this many applied entries. Default 10,000; 0 disables. */
  readonly snapshotEvery?: number;
  /** Entries kept in memory behind a snapshot so a slightly lagging follower gets entries, not a snapshot. Default 1,000. */
  readonly snapshotKeepEntries?: number;
  /** Called with background failures (storage errors end the node; they are reported here too). Default: console.error. */
  readonly onError?: (error: unknown) => void;
  /** Time and timers. Default: performance.now() and Node's timers. */
  readonly clock?: RuntimeClock;
  /**
   * Names this run of the node in the ids of its reads, so that a leader's late
   * answer to a read of an earlier run cannot settle a read of this one (that
   * answer's index may predate writes the new read must see). Must differ
   * between runs that share an id. Default: 48 random bits.
   */
  readonly incarnation?: string;
}

/** A core event with times in milliseconds from the monotonic clock. */
export type NodeEvent = RaftEvent & {
  /** performance.now() when the runtime saw the event. */
  readonly atMs: number;
  /** For election-won/-lost: how long the election took, in ms (measured, or ticks × tickMs if it began before a restart). */
  readonly durationMs?: number;
};

export interface ProposeResult {
  readonly index: number;
  readonly term: number;
  /** What StateMachine.apply returned for the entry. */
  readonly result: unknown;
}

/**
 * Drives a RaftCore: a timer ticks it, the transport steps it, and a single
 * loop drains each Ready in the order Raft needs — a leader's appends go out
 * at once, entries already durable are applied, then persist (fdatasync), then
 * send the rest (votes, acknowledgements), apply the rest, advance. While one Ready is being persisted, new
 * proposals and messages go into the core and come out together in the next
 * Ready: that is how many entries share one fsync.
 */
export class RaftNode {
  readonly id: NodeId;
  readonly tickMs: number;
  private readonly core: RaftCore;
  private readonly storage: RaftStorage;
  private readonly transport: RaftTransport;
  private readonly sm: StateMachine;
  private readonly emitter = new EventEmitter();
  private readonly onError: (error: unknown) => void;
  private readonly maxBytesPerMessage: number;
  private readonly snapshotEvery: number;
  private readonly snapshotKeepEntries: number;
  private readonly electionTicks: number;
  private readonly clock: RuntimeClock;
  private readonly timer: unknown;
  private readonly proposals = new Map<number, Waiter<ProposeResult>>();
  /** Proposals not yet handed to the core (see flushProposals). */
  private buffered: {
    data: Uint8Array;
    resolve: (v: ProposeResult) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private readonly configChanges = new Map<number, Waiter<{ index: number; term: number }>>();
  private readonly reads = new Map<
    string,
    { resolve: (i: number) => void; reject: (e: unknown) => void }
  >();
  /** Reads whose index is known, waiting for the state machine to catch up: sorted by index on release. */
  private readonly readsWaitingApply: {
    requestId: string;
    index: number;
    resolve: (i: number) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private readSeq = 0;
  /** `${id}/${incarnation}/`: see RaftNodeOptions.incarnation. */
  private readonly readPrefix: string;
  private applied: number;
  /** Highest log index handed to storage. */
  private lastPersisted: number;
  /** First index of the entries being written now (Infinity when none): they are not durable yet. */
  private writingFrom = Number.POSITIVE_INFINITY;
  private snapshotInFlight = false;
  /** Term of the newest durable hard state: messages of a higher term wait for its write. */
  private durableTerm: number;
  private lastSnapshotIndex: number;
  /** The runtime's own snapshot being written, off the Ready loop (see maybeSnapshot). */
  private snapshotting: Promise<void> | undefined;
  private failedOnStorage = false;
  private electionStartedAt: number | undefined;
  private running = false;
  private scheduled = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Whether the transport reports snapshot outcomes; if not, a snapshot counts as sent once send() returns. */
  private readonly reportsSnapshots: boolean;

  private constructor(
    options: RaftNodeOptions,
    core: RaftCore,
    applied: number,
    maxBytesPerMessage: number,
    electionTicks: number,
  ) {
    this.maxBytesPerMessage = maxBytesPerMessage;
    this.electionTicks = electionTicks;
    this.id = options.id;
    this.readPrefix = `${options.id}/${options.incarnation ?? randomBytes(6).toString('base64url')}/`;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.core = core;
    this.storage = options.storage;
    this.transport = options.transport;
    this.sm = options.stateMachine;
    this.onError = options.onError ?? ((e) => console.error(`raft node ${options.id}:`, e));
    this.snapshotEvery = options.snapshotEvery ?? 10_000;
    this.snapshotKeepEntries = options.snapshotKeepEntries ?? 1_000;
    this.applied = applied;
    this.lastSnapshotIndex = applied;
    this.lastPersisted = core.status().lastIndex;
    this.durableTerm = core.currentTerm;
    this.transport.onMessage((m) => this.onMessage(m));
    this.reportsSnapshots = typeof this.transport.onSnapshotStatus === 'function';
    this.transport.onSnapshotStatus?.((to, index, ok) => {
      if (this.stopped) return;
      this.core.reportSnapshot(to, ok, index);
      this.schedule();
    });
    this.transport.onChunk?.((from, term) => {
      if (!this.stopped) this.core.leaderActivity(from, term);
    });
    this.clock = options.clock ?? processClock;
    this.timer = this.clock.setInterval(() => this.onTick(), this.tickMs);
  }

  /** Loads storage, restores the state machine from the latest snapshot, and starts ticking. */
  static async start(options: RaftNodeOptions): Promise<RaftNode> {
    const loaded = await options.storage.load();
    // The runtime always reports snapshot outcomes (see handle()): no timer re-sends them.
    const config = defaultConfig(options.id, { snapshotRetryTicks: 0, ...options.config });
    const core = new RaftCore(config, {
      hardState: loaded.hardState,
      entries: loaded.entries,
      ...(loaded.snapshot ? { snapshot: loaded.snapshot } : {}),
      ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}),
    });
    let applied = 0;
    if (loaded.snapshot && loaded.snapshotData) {
      const snapshot: Snapshot = { meta: loaded.snapshot, data: loaded.snapshotData };
      options.stateMachine.restore(snapshot);
      // Lagging followers need the data, not just the index.
      core.setSnapshot(snapshot);
      applied = loaded.snapshot.index;
    }
    const node = new RaftNode(
      options,
      core,
      applied,
      config.maxBytesPerMessage,
      config.electionTicks,
    );
    node.schedule();
    return node;
  }

  /**
   * Replicates `data`; resolves once it is committed and applied here, with
   * what the state machine returned. Rejects with NotLeaderError (carrying the
   * leader's id) on a follower, ProposalDroppedError if another leader's entry
   * committed at its slot (or, with "outcome unknown" in its message, if this
   * node can no longer learn the outcome), NodeStoppedError if the node stops first.
   */
  propose(data: Uint8Array): Promise<ProposeResult> {
    if (this.stopped) return Promise.reject(new NodeStoppedError('propose after stop'));
    // Fail fast where the core would (not leader, transfer in progress); the proposals of one
    // turn of the event loop then go into the core together (see flushProposals).
    if (this.core.currentRole !== 'leader') {
      try {
        this.core.propose(data);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const p = new Promise<ProposeResult>((resolve, reject) =>
      this.buffered.push({ data, resolve, reject }),
    );
    if (this.buffered.length === 1)
      queueMicrotask(() => {
        this.flushProposals();
        this.schedule();
      });
    return p;
  }

  /** Appends the proposals buffered since the last drain as one batch: one append per follower. */
  private flushProposals(): void {
    if (this.buffered.length === 0 || this.stopped) return;
    const batch = this.buffered;
    this.buffered = [];
    let slot: { first: number; term: number };
    try {
      slot = this.core.proposeMany(batch.map((b) => b.data));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const [i, b] of batch.entries()) {
      this.releaseSlot(this.proposals, slot.first + i);
      this.proposals.set(slot.first + i, { term: slot.term, resolve: b.resolve, reject: b.reject });
    }
  }

  /** Proposes a single-server membership change; resolves when it is committed and applied here. */
  changeMembership(change: ConfigChange): Promise<{ index: number; term: number }> {
    if (this.stopped) return Promise.reject(new NodeStoppedError('changeMembership after stop'));
    this.flushProposals();
    let slot: { index: number; term: number };
    try {
      slot = this.core.proposeConfigChange(change);
    } catch (err) {
      return Promise.reject(err);
    }
    this.schedule();
    this.releaseSlot(this.configChanges, slot.index);
    return new Promise((resolve, reject) =>
      this.configChanges.set(slot.index, { term: slot.term, resolve, reject }),
    );
  }

  /**
   * A linearizable read barrier: resolves with an index once this node's state
   * machine has applied everything committed when the read began, so a read of
   * local state after it sees every write acknowledged before it. Rejects with
   * ReadIndexFailedError (no leader, leadership lost or changed, no answer from
   * the leader within two election timeouts) or, after `timeoutMs` (default:
   * four election timeouts; Infinity: none), ReadIndexTimeoutError.
   */
  readIndex(options: { readonly timeoutMs?: number } = {}): Promise<number> {
    if (this.stopped) return Promise.reject(new NodeStoppedError('readIndex after stop'));
    const requestId = `${this.readPrefix}${++this.readSeq}`;
    const timeoutMs = bugInjected('read-index-no-timeout')
      ? 2 ** 31 - 1
      : (options.timeoutMs ?? 4 * this.electionTicks * this.tickMs);
    const p = new Promise<number>((resolve, reject) => {
      const timer = !Number.isFinite(timeoutMs)
        ? undefined
        : this.clock.setTimeout(() => {
            this.reads.delete(requestId);
            const i = this.readsWaitingApply.findIndex((r) => r.requestId === requestId);
            if (i >= 0) this.readsWaitingApply.splice(i, 1);
            reject(new ReadIndexTimeoutError(timeoutMs));
          }, timeoutMs);
      this.reads.set(requestId, {
        resolve: (i) => {
          if (timer !== undefined) this.clock.clearTimeout(timer);
          resolve(i);
        },
        reject: (e) => {
          if (timer !== undefined) this.clock.clearTimeout(timer);
          reject(e);
        },
      });
    });
    this.core.readIndex(requestId);
    this.schedule();
    return p;
  }

  /** Hands leadership to `to`; resolves when this node sees `to` lead, rejects after `timeoutMs` (default: two election timeouts). */
  async transferLeadership(to: NodeId, timeoutMs = 4 * 10 * this.tickMs): Promise<void> {
    if (this.stopped) throw new NodeStoppedError('transferLeadership after stop');
    this.flushProposals();
    this.core.transferLeadership(to);
    this.schedule();
    const started = this.clock.now();
    while (this.core.status().leader !== to) {
      if (this.stopped) throw new NodeStoppedError('stopped during leadership transfer');
      if (this.clock.now() - started > timeoutMs) throw new TransferTimeoutError(to, timeoutMs);
      await new Promise((r) => this.clock.setTimeout(() => r(undefined), this.tickMs));
    }
  }

  status(): Status {
    return { ...this.core.status(), appliedIndex: this.applied };
  }

  on(event: 'event', listener: (e: NodeEvent) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  off(event: 'event', listener: (e: NodeEvent) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  /**
   * Stops ticking and receiving, waits for the Ready being handled to finish
   * (so nothing half-persisted is left behind), rejects pending calls, and
   * closes the transport and the storage.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearInterval(this.timer);
    await this.whenIdle();
    await this.snapshotting;
    this.failPending(new NodeStoppedError('stop() called'));
    await this.transport.close();
    await this.storage.close();
  }

  // ---------------------------------------------------------------- the loop

  private onTick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.schedule();
  }

  private onMessage(m: Message): void {
    if (this.stopped) return;
    this.core.step(m);
    if (this.running) this.applyDurableCommitted();
    this.schedule();
  }

  /**
   * While a write is in flight, applies what a message just committed, up to
   * what is durable here, instead of waiting for that write and the next Ready:
   * on a busy leader the acknowledgement of one batch usually arrives while the
   * next batch is being written. The Ready that later carries these entries
   * skips them.
   */
  private applyDurableCommitted(): void {
    if (this.snapshotInFlight) return;
    const upTo = Math.min(this.core.commitIndex, this.lastPersisted, this.writingFrom - 1);
    if (upTo <= this.applied) return;
    while (this.applied < upTo) {
      const entry = this.core.entryAt(this.applied + 1);
      if (entry === undefined) break;
      this.apply(entry);
    }
    this.core.appliedTo(this.applied);
    this.releaseReads();
  }

  /**
   * Runs the loop soon, once: on the next macrotask so that proposals and
   * messages arriving in the same turn of the event loop share a Ready.
   */
  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    this.clock.setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      this.flushProposals();
      while (!this.stopped && this.core.hasReady()) {
        const ready = this.core.ready();
        await this.handle(ready);
        this.core.advance(ready);
        const snapshotting = this.maybeSnapshot();
        if (snapshotting !== undefined && bugInjected('snapshot-blocks-ready-loop'))
          await snapshotting;
      }
    } catch (err) {
      this.storageFailed(err);
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    if (!this.stopped && this.core.hasReady()) this.schedule();
  }

  private async handle(ready: Ready): Promise<void> {
    // Mutation hook: every message leaves before anything is durable (the simulator must catch it).
    const sendFirst = bugInjected('send-before-fsync');
    if (sendFirst && ready.messages.length > 0) this.send(ready.messages);
    // 1. A leader's AppendEntries leave before its own write is durable (dissertation §10.2.1). It counts
    //    itself only once durable: an ack arriving meanwhile moves the core's commit index, but no commit
    //    leaves the core (no apply, no commit index sent) before the next Ready, taken after this write.
    let late: readonly Message[] = sendFirst ? [] : ready.messages;
    if (!sendFirst && ready.snapshot === undefined && ready.messages.length > 0) {
      const early: Message[] = [];
      const rest: Message[] = [];
      for (const m of ready.messages)
        (m.type === 'AppendEntries' && m.term <= this.durableTerm ? early : rest).push(m);
      if (early.length > 0) this.send(early);
      late = rest;
    }
    // 2. Entries committed and already durable here are applied while this Ready's write runs.
    const first = ready.entries[0];
    let applied = 0;
    if (ready.snapshot === undefined) {
      const durable =
        first && first.index <= this.lastPersisted ? first.index - 1 : this.lastPersisted;
      const committed = ready.committedEntries;
      while (applied < committed.length && (committed[applied] as Entry).index <= durable) {
        const entry = committed[applied++] as Entry;
        if (entry.index > this.applied) this.apply(entry);
      }
    }
    // 3. Persist: snapshot, then entries and hard state, durably.
    if (ready.snapshot) {
      this.snapshotInFlight = true;
      await this.storage.saveSnapshot(ready.snapshot);
    }
    if (ready.hardState || ready.entries.length > 0) {
      if (first) this.writingFrom = first.index;
      try {
        await this.storage.save(ready.hardState, ready.entries);
      } finally {
        this.writingFrom = Number.POSITIVE_INFINITY;
      }
    }
    if (ready.hardState) this.durableTerm = ready.hardState.term;
    if (first) {
      // Entries at or below what was already stored replace a suffix here, and the proposals
      // there stay pending: their entries may live on in other logs and still commit under a
      // later leader (Figure 8; node simulator seed 3833). The index's commit settles them.
      this.lastPersisted = (ready.entries[ready.entries.length - 1] as Entry).index;
    }
    // 4. Send the rest: only now may a vote or an acknowledgement leave this node.
    if (late.length > 0) this.send(late);
    // 5. Apply the rest.
    if (ready.snapshot) {
      this.sm.restore(ready.snapshot);
      this.applied = ready.snapshot.meta.index;
      this.lastSnapshotIndex = ready.snapshot.meta.index;
      this.lastPersisted = Math.max(this.lastPersisted, ready.snapshot.meta.index);
      this.settleCoveredBySnapshot(ready.snapshot.meta.index);
      this.snapshotInFlight = false;
    }
    for (let i = applied; i < ready.committedEntries.length; i++) {
      const entry = ready.committedEntries[i] as Entry;
      if (entry.index > this.applied) this.apply(entry);
    }
    for (const rs of ready.readStates) {
      const waiter = this.reads.get(rs.requestId);
      if (!waiter) continue;
      this.reads.delete(rs.requestId);
      if (rs.index <= this.applied) waiter.resolve(rs.index);
      else this.readsWaitingApply.push({ requestId: rs.requestId, index: rs.index, ...waiter });
    }
    this.releaseReads();
    for (const e of ready.events) {
      if (e.type === 'role-changed' && e.from === 'leader' && !this.core.inConfiguration)
        this.dropOutsideConfiguration();
      this.emitEvent(e);
    }
  }

  /**
   * A leader that removed itself steps down outside the configuration: no leader sends to it
   * again, so it would never learn whether its last proposals committed (node simulator seeds
   * 4258, 5703: a write stayed pending forever). Fail them as of unknown outcome.
   */
  private dropOutsideConfiguration(): void {
    rejectWhere(
      [this.proposals, this.configChanges],
      () => true,
      'this node left the configuration and hears from no leader; outcome unknown',
    );
  }

  private send(messages: readonly Message[]): void {
    this.transport.send(coalesceMessages(messages, this.maxBytesPerMessage));
    if (!this.reportsSnapshots)
      for (const m of messages)
        if (m.type === 'InstallSnapshot')
          this.core.reportSnapshot(m.to, true, m.snapshot.meta.index);
  }

  private apply(entry: Entry): void {
    let result: unknown;
    if (entry.type === 'normal') {
      try {
        result = this.sm.apply(entry);
      } catch (err) {
        // Every replica applies the same entry; a throwing state machine is an application bug, reported, not fatal to Raft.
        this.onError(err);
        result = err;
      }
    }
    this.applied = entry.index;
    if (entry.type === 'config')
      settle(this.configChanges, entry, () => ({ index: entry.index, term: entry.term }));
    else settle(this.proposals, entry, () => ({ index: entry.index, term: entry.term, result }));
    const other: Map<number, Waiter<never>> = entry.type === 'config'
      ? this.proposals
      : this.configChanges;
    // A slot proposed as one kind but committed as another was overwritten.
    const stale = other.get(entry.index);
    if (stale) {
      other.delete(entry.index);
      stale.reject(
        new ProposalDroppedError(
          entry.index,
          stale.term,
          `index ${entry.index} holds an entry of term ${entry.term}`,
        ),
      );
    }
  }

  /**
   * This node, leader again, proposes at an index where an earlier proposal of its own waits.
   * That entry is gone from this log but may still commit under another leader (see handle):
   * its outcome is unknown.
   */
  private releaseSlot(waiters: Map<number, Waiter<never>>, index: number): void {
    // A lookup, not a scan: this runs for every proposal, with thousands pending under load.
    const w = waiters.get(index);
    if (w === undefined) return;
    waiters.delete(index);
    w.reject(
      new ProposalDroppedError(
        index,
        w.term,
        'its slot was taken by a later proposal here after a new leader overwrote it; outcome unknown',
      ),
    );
  }

  private settleCoveredBySnapshot(index: number): void {
    rejectWhere(
      [this.proposals, this.configChanges],
      (i) => i <= index,
      'replaced by a snapshot from the leader; outcome unknown',
    );
  }

  private releaseReads(): void {
    if (this.readsWaitingApply.length === 0) return;
    const still: typeof this.readsWaitingApply = [];
    for (const r of this.readsWaitingApply) {
      if (r.index <= this.applied) r.resolve(r.index);
      else still.push(r);
    }
    this.readsWaitingApply.length = 0;
    this.readsWaitingApply.push(...still);
  }

  private emitEvent(e: RaftEvent): void {
    const atMs = this.clock.now();
    let durationMs: number | undefined;
    if (e.type === 'election-started' && this.electionStartedAt === undefined)
      this.electionStartedAt = atMs;
    if (e.type === 'election-won' || e.type === 'election-lost') {
      durationMs =
        this.electionStartedAt !== undefined
          ? atMs - this.electionStartedAt
          : e.ticks * this.tickMs;
      this.electionStartedAt = undefined;
    }
    if (e.type === 'role-changed' && e.to === 'follower') this.electionStartedAt = undefined;
    if (e.type === 'read-index-failed') {
      const waiter = this.reads.get(e.requestId);
      if (waiter) {
        this.reads.delete(e.requestId);
        waiter.reject(new ReadIndexFailedError(e.reason));
      }
    }
    const event: NodeEvent = durationMs === undefined ? { ...e, atMs } : { ...e, atMs, durationMs };
    this.emitter.emit('event', event);
  }

  /** A failed fsync leaves the node unable to promise durability: stop rather than ack anything more. */
  private storageFailed(err: unknown): void {
    // The Ready loop and the snapshot write may both see the one failure: report it once.
    if (this.failedOnStorage) return;
    this.failedOnStorage = true;
    this.onError(err);
    this.stopped = true;
    this.clock.clearInterval(this.timer);
    this.failPending(new NodeStoppedError('storage failure', { cause: err }));
    void this.transport.close();
  }

  /**
   * Starts writing a snapshot of the applied state once `snapshotEvery` entries were applied
   * since the last, and returns without waiting for it. Awaited in the Ready loop, its file
   * operations (the file and its fsync, a directory fsync, the WAL marker and its fsync, the
   * segments dropped) held every Ready behind them, a leader's heartbeats too: 54 to 58 ms on
   * a 30 ms-fsync disk against a 60 ms election timeout, and the followers elected another
   * leader on a healthy network (node simulator seeds 77732, 93141). The dissertation asks
   * that taking a snapshot not delay normal operation (§5.1); etcd takes it off its Raft loop
   * too. The storage orders the writes: the Readies' saves queue behind it there, but a
   * leader's AppendEntries leave before its own write (handle, step 1) and a Ready with
   * nothing to persist waits for nothing.
   */
  private maybeSnapshot(): Promise<void> | undefined {
    if (
      this.snapshotting !== undefined ||
      this.snapshotEvery <= 0 ||
      this.applied - this.lastSnapshotIndex < this.snapshotEvery
    )
      return undefined;
    const index = this.applied;
    // A leader's snapshot stepped in while this Ready was being written (node simulator seed
    // 3978) has already replaced the core's log past what is applied here; the next Ready
    // installs it, and a snapshot of the state it replaces would name a compacted index.
    if (this.core.termAt(index) === undefined) return undefined;
    const snapshot: Snapshot = { meta: this.core.snapshotMeta(index), data: this.sm.snapshot() };
    const writing = this.writeSnapshot(snapshot)
      .catch((err: unknown) => this.storageFailed(err))
      .finally(() => {
        this.snapshotting = undefined;
      });
    this.snapshotting = writing;
    return writing;
  }

  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    await this.storage.saveSnapshot(snapshot);
    if (this.stopped) return;
    const { index } = snapshot.meta;
    // Meanwhile a leader's newer snapshot may have been installed: the core keeps the newer
    // one (setSnapshot ignores an older), and compacting to an index it already dropped is
    // a no-op.
    this.core.setSnapshot(snapshot);
    this.lastSnapshotIndex = Math.max(this.lastSnapshotIndex, index);
    const compactTo = index - this.snapshotKeepEntries;
    if (compactTo > 0) this.core.compact(compactTo);
    await this.storage.compact(index);
  }

  private whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private failPending(err: Error): void {
    rejectAll(err, [this.buffered, this.proposals.values(), this.configChanges.values()]);
    rejectAll(err, [this.reads.values(), this.readsWaitingApply]);
    this.buffered = [];
    for (const m of [this.proposals, this.configChanges, this.reads]) m.clear();
    this.readsWaitingApply.length = 0;
  }
}
