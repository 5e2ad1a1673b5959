/**
 * The shapes shared by the pure core, storage, transports and the runtime.
 * This file is the contract between them: the core never sees a clock, a timer
 * or a socket; it consumes ticks and messages and produces a Ready.
 */

export type NodeId = string;

export type EntryType = 'normal' | 'config' | 'noop';

/** One log entry. `data` is opaque to Raft (for `config` entries, an encoded ConfigChange). */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** Cluster membership: voters decide; learners receive the log but neither vote nor count for quorum. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type ConfigChange =
  | { readonly type: 'addVoter'; readonly node: NodeId }
  | { readonly type: 'addLearner'; readonly node: NodeId }
  | { readonly type: 'promoteLearner'; readonly node: NodeId }
  | { readonly type: 'removeNode'; readonly node: NodeId };

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** Application state produced by the state machine; opaque to Raft. */
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader' | 'learner';

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface RequestVote extends MessageBase {
  readonly type: 'RequestVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** A pre-vote asks "would you vote for me at `term`?" without anyone changing term (§9.6). */
  readonly preVote: boolean;
  /** Set when campaigning because of TimeoutNow: voters skip the leader-lease check. */
  readonly transfer: boolean;
}

export interface RequestVoteResponse extends MessageBase {
  readonly type: 'RequestVoteResponse';
  readonly granted: boolean;
  readonly preVote: boolean;
}

export interface AppendEntries extends MessageBase {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /** Echoed back; carries a ReadIndex round's id on heartbeats. */
  readonly context?: string;
}

export interface AppendEntriesResponse extends MessageBase {
  readonly type: 'AppendEntriesResponse';
  readonly success: boolean;
  /** On success: the highest index known to match the leader. On rejection: the prevLogIndex rejected (lets the leader drop stale rejections). */
  readonly matchIndex: number;
  /** On rejection: where the follower's log could match (fast back-off). */
  readonly rejectHint?: { readonly index: number; readonly term: number };
  readonly context?: string;
}

export interface InstallSnapshot extends MessageBase {
  readonly type: 'InstallSnapshot';
  readonly snapshot: Snapshot;
}

export interface InstallSnapshotResponse extends MessageBase {
  readonly type: 'InstallSnapshotResponse';
  readonly matchIndex: number;
}

export interface TimeoutNow extends MessageBase {
  readonly type: 'TimeoutNow';
}

/** A follower asking the leader for a read index on behalf of a local reader. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: 'ReadIndex';
  readonly requestId: string;
}

export interface ReadIndexResponse extends MessageBase {
  readonly type: 'ReadIndexResponse';
  readonly requestId: string;
  /** 0 when the leader could not serve it (not leader, or not yet committed in its term). */
  readonly index: number;
}

export type Message =
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

/** A read that may be served once the local state machine has applied `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: number;
}

/** Observability: what happened inside the core during the last steps. Tick counts, not time: the runtime converts. */
export type RaftEvent =
  | { readonly type: 'role-changed'; readonly from: Role; readonly to: Role; readonly term: number }
  | { readonly type: 'term-changed'; readonly from: number; readonly to: number }
  | { readonly type: 'election-started'; readonly term: number; readonly preVote: boolean }
  | { readonly type: 'election-won'; readonly term: number; readonly ticks: number }
  | { readonly type: 'election-lost'; readonly term: number; readonly ticks: number }
  | { readonly type: 'leader-changed'; readonly leader: NodeId | null; readonly term: number }
  | { readonly type: 'membership-changed'; readonly membership: Membership; readonly index: number }
  | { readonly type: 'read-index-failed'; readonly requestId: string; readonly reason: string }
  /** A message the core refused to act on (also counted in Status.dropped). */
  | {
      readonly type: 'message-dropped';
      readonly from: NodeId;
      readonly messageType: MessageType;
      readonly reason: MessageDropReason;
    }
  /** The node restarted with a `bootstrap` that differs from the membership its log holds: the log wins. */
  | {
      readonly type: 'bootstrap-ignored';
      readonly bootstrap: Membership;
      readonly membership: Membership;
    };

/**
 * Why the core dropped a message: `not-a-member` (sender in no configuration we
 * know, and not a leader's AppendEntries/InstallSnapshot, which a node being
 * added or one with a stale config must follow), `timeout-now-not-from-leader`,
 * `in-lease` (a vote request while a leader is live, §4.2.3/§9.6), `stale-term`,
 * `misaddressed`.
 */
export type MessageDropReason =
  | 'not-a-member'
  | 'timeout-now-not-from-leader'
  | 'in-lease'
  | 'stale-term'
  | 'misaddressed';

/**
 * Everything the application must do after a batch of tick/step/propose calls, in order:
 * 1. persist `snapshot` (if any), then `entries` (overwriting any entries from `entries[0].index` on),
 *    then `hardState` (if any) — durably;
 * 2. send `messages` (only after step 1: a vote or an ack must never precede its fsync);
 * 3. apply `snapshot` to the state machine, then `committedEntries` in order;
 * 4. call `advance(ready)`.
 * `ready()` drains the core; the next `ready()` is refused until `advance()` of this one
 * (tick/step/propose may still be called in between, e.g. while the fsync is in flight).
 * A `snapshot` in a Ready REPLACES the whole log: drop every stored entry, those above
 * the snapshot's index too (the core only sends one when its log does not hold the
 * snapshot's last entry). `readStates` may be served once the state machine has applied
 * `index`.
 */
export interface Ready {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly events: readonly RaftEvent[];
  /** Present when role or known leader changed. */
  readonly softState?: { readonly role: Role; readonly leader: NodeId | null };
}

/** What a node restarts from. The core trusts it; storage verified it on load. */
export interface InitialState {
  readonly hardState: HardState;
  readonly snapshot?: SnapshotMeta;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /** Membership at the start of a brand-new cluster (ignored when the log or snapshot holds one). */
  readonly bootstrap?: Membership;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [n, 2n). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Entries (or bytes) a leader sends in one AppendEntries. */
  readonly maxEntriesPerMessage: number;
  readonly maxBytesPerMessage: number;
  /** AppendEntries a leader may have unacknowledged to one follower (pipelining). */
  readonly maxInflightMessages: number;
  /** Seed of the core's own PRNG for election jitter, so a simulator is deterministic. */
  readonly randomSeed: number;
  /**
   * A snapshot sent to a follower stays the only one in flight until the driver
   * calls `reportSnapshot` (or the follower answers). For a driver that cannot
   * report, a positive value presumes it lost after this many ticks (default
   * 4 × electionTicks); 0 waits for the report, as RaftNode does.
   */
  readonly snapshotRetryTicks: number;
  /**
   * A leader's `compact()` keeps the entries a follower heard from within an
   * election timeout still lacks, up to this many behind the index asked for
   * (default 10,000; 0: never hold), so a follower slower than compaction
   * catches up on entries instead of chasing snapshot after snapshot.
   */
  readonly compactionHoldEntries: number;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  /** Messages dropped since start, by reason. */
  readonly dropped: Readonly<Record<MessageDropReason, number>>;
  /** Leader only: per-follower replication progress. */
  readonly progress?: Readonly<
    Record<
      NodeId,
      {
        readonly match: number;
        readonly next: number;
        readonly state: 'probe' | 'replicate' | 'snapshot';
      }
    >
  >;
}

/** Durable storage of one node's Raft state. Implementations: in-memory (tests) and file WAL. */
export interface RaftStorage {
  /** Loads what was durably written; throws a StorageCorruptionError on a corrupt record mid-log. */
  load(): Promise<InitialState & { readonly snapshotData?: Uint8Array }>;
  /** Appends entries (truncating any from entries[0].index on) and the hard state, then syncs. */
  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void>;
  /** Atomically stores a snapshot and drops log entries it covers. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Removes log entries at or below `index` (already covered by a saved snapshot). */
  compact(index: number): Promise<void>;
  close(): Promise<void>;
}

/** Delivers messages between nodes. Unreliable by contract: loss, duplication and reordering are allowed. */
export interface RaftTransport {
  send(messages: readonly Message[]): void;
  /** Registers the handler for messages addressed to this node. */
  onMessage(handler: (message: Message) => void): void;
  /**
   * Optional: registers a handler told, for every InstallSnapshot sent, whether
   * it left this node whole (`ok`) or was lost. The leader sends no other
   * snapshot to that follower until it hears (etcd's ReportSnapshot). Without
   * it, RaftNode reports a snapshot as sent once `send()` returns.
   */
  onSnapshotStatus?(handler: (to: NodeId, index: number, ok: boolean) => void): void;
  /**
   * Optional: registers a handler told whenever part of a large message (a
   * chunk of a snapshot) from `from`, sent in `term`, arrives. RaftNode then
   * treats its leader as alive: the heartbeats queue behind the chunks.
   */
  onChunk?(handler: (from: NodeId, term: number) => void): void;
  close(): Promise<void>;
}

/** The application's state machine, driven by the runtime. */
export interface StateMachine {
  apply(entry: Entry): unknown;
  snapshot(): Uint8Array;
  restore(snapshot: Snapshot): void;
}
