/**
 * What the cluster state API needs from the rest of the agent, and nothing
 * more. The routes are written against this interface so they can be tested
 * with an in-memory view built from a real `ClusterStateSnapshot`, and so the
 * coordinator's cluster member can change inside without the routes noticing:
 * one adapter (cluster-member-view.ts) maps it onto this.
 */
import type { OperationLogEntry } from '@coxswain/host';
import {
  type ApiReply,
  type ApiRequest,
  type ClusterStateSnapshot,
  CoxswainError,
  type NodeReport,
  type RaftRole,
  type ServiceFigures,
} from '@coxswain/protocol';
import type { EventBus } from '../events.js';

export interface RaftMemberView {
  readonly id: string;
  readonly voter: boolean;
}

/** The Raft status of this node, as the API shows it. */
export interface RaftStatusView {
  readonly role: RaftRole;
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly members: readonly RaftMemberView[];
  /** Monotonic ms since the replica applied an entry; null before the first. */
  readonly sinceLastApplyMs: number | null;
  /** Monotonic ms since a leader was last heard from (0 on the leader); null when never. */
  readonly sinceLeaderContactMs: number | null;
}

/** The newest report of one node and how long ago (monotonic) it arrived here. */
export interface ReportView {
  readonly report: NodeReport;
  readonly ageMs: number;
}

/** A write, as carried to the leader: the API's write ops of `ApiRequest`. */
export type ApiWrite = Exclude<ApiRequest, { op: 'state.get' }>;

export interface ClusterView {
  readonly nodeId: string;
  readonly cluster: string;
  /** The local replica of the replicated state. */
  snapshot(): ClusterStateSnapshot;
  status(): RaftStatusView;
  /** The API base URL of a node (`http://host:port`), from the replicated node records; null when unknown. */
  apiAddressOf(nodeId: string): string | null;
  /**
   * Resolves once the local replica has applied everything the leader had
   * committed when the call began (Raft ReadIndex). Rejects with
   * `NoLeaderError` when there is no leader to confirm it.
   */
  consistentRead(): Promise<void>;
  /** Called before every non-consistent read (a client node refreshes the snapshot it borrows from a voter). */
  beforeRead?(): Promise<void>;
  /**
   * Applies a write through the leader: here when this node leads, else
   * forwarded. Rejects with `NoLeaderError` when no leader can be reached;
   * a refusal by the state machine comes back as an `ApiReply` with `ok: false`.
   */
  submit(write: ApiWrite): Promise<ApiReply>;
  /** The newest report of every node this agent heard from. */
  reports(): ReadonlyMap<string, ReportView>;
  /** Figures of one service over the last `windowMs`, per reporting node, oldest first. */
  figures(service: string, windowMs: number): Record<string, ServiceFigures[]>;
  readonly events: EventBus;
  /** This agent's executor, for `GET /v1/agent/operations`; absent where there is none. */
  readonly executor?: ExecutorView;
}

/** What the operations route reads of the executor. */
export interface ExecutorView {
  history(): readonly OperationLogEntry[];
  highestToken(service: string): number;
}

/** No leader is known, or it could not be reached: writes and consistent reads answer 503. */
export class NoLeaderError extends CoxswainError {
  /** The leader's API address when one is known but unreachable, else null. */
  readonly leaderAddress: string | null;
  constructor(message: string, leaderAddress: string | null = null, options?: { cause?: unknown }) {
    super('COX_NO_LEADER', message, options);
    this.leaderAddress = leaderAddress;
  }
}
