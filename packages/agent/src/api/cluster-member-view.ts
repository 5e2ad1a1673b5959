/**
 * The adapter from the coordinator's `ClusterMember` to the API's
 * `ClusterView`. Voters answer from their own replica and Raft status; client
 * nodes (no replica) fetch a voter's snapshot over `cox.<cluster>.api`
 * (`state.get`), cached briefly, and ask the leader itself
 * (`cox.<cluster>.api.<leader>`, which runs ReadIndex first) for consistent
 * reads. Reports come from the agent's one report hub (report-hub.ts): the
 * latest of each node (decoded on demand where this node does not lead) and
 * the per-node figure history.
 */

import { ClusterState } from '@coxswain/control';
import {
  type AgentConfig,
  ApiReply,
  ApiRequest,
  type ClusterStateSnapshot,
  decode,
  encode,
  PROTOCOL_VERSION,
  type RaftRole,
  type ServiceFigures,
  subjects as subjectsOf,
} from '@coxswain/protocol';
import type { NatsConnection } from 'nats';
import type { ClusterMember } from '../cluster/cluster-member.js';
import type { EventBus } from '../events.js';
import {
  type ApiWrite,
  type ClusterView,
  type ExecutorView,
  NoLeaderError,
  type RaftStatusView,
  type ReportView,
} from './cluster-view.js';

export interface ClusterMemberViewOptions {
  readonly member: ClusterMember;
  readonly nc: NatsConnection;
  readonly config: AgentConfig;
  readonly events: EventBus;
  /** Counts dropped inbound payloads (API replies), like the agent's other subscriptions. */
  readonly onRejected?: (subject: string, reason: string) => void;
  /** How long a client node serves a fetched snapshot before fetching again (default 500 ms). */
  readonly clientCacheMs?: number;
  /** Timeout of a client node's requests to the voters (default 2 s). */
  readonly requestTimeoutMs?: number;
  /** How often the applied index is sampled for `sinceLastApplyMs` (default 50 ms: its resolution). */
  readonly applyWatchMs?: number;
}

const EMPTY_SNAPSHOT: ClusterStateSnapshot = new ClusterState().toSnapshot();

function roleOf(role: string): RaftRole {
  if (role === 'pre-candidate') return 'candidate';
  if (role === 'leader' || role === 'follower' || role === 'candidate' || role === 'learner')
    return role;
  return 'follower';
}

/** A node record's address as an API base URL: `http(s)://...` as is, `host:port`, or `host` with this node's API port. */
export function apiBaseUrl(address: string, defaultPort: number): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, '');
  if (/^\[.*\]:\d+$|^[^:]+:\d+$/.test(address)) return `http://${address}`;
  return `http://${address.includes(':') ? `[${address}]` : address}:${defaultPort}`;
}

export class ClusterMemberView implements ClusterView {
  readonly nodeId: string;
  readonly cluster: string;
  readonly events: EventBus;
  readonly #o: ClusterMemberViewOptions;
  readonly #watch: NodeJS.Timeout;
  #lastApplied = 0;
  #lastApplyAtMs: number | null = null;
  /** Client nodes: the newest snapshot fetched from a voter, and who led then. */
  #remote: { snapshot: ClusterStateSnapshot; leaderId: string | null; atMs: number } | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(options: ClusterMemberViewOptions) {
    this.#o = options;
    this.nodeId = options.config.nodeId;
    this.cluster = options.config.cluster;
    this.events = options.events;
    // Sampled rather than hooked: the state machine belongs to the cluster member.
    this.#watch = setInterval(() => this.#sampleApplied(), options.applyWatchMs ?? 50);
    this.#watch.unref();
  }

  #sampleApplied(): void {
    const applied = this.#isVoter
      ? this.#o.member.state.appliedIndex
      : (this.#remote?.snapshot.appliedIndex ?? 0);
    if (applied !== this.#lastApplied) {
      this.#lastApplied = applied;
      this.#lastApplyAtMs = performance.now();
    }
  }

  get #isVoter(): boolean {
    return this.#o.member.isVoter;
  }

  snapshot(): ClusterStateSnapshot {
    if (this.#isVoter) return this.#o.member.snapshot();
    return this.#remote?.snapshot ?? EMPTY_SNAPSHOT;
  }

  status(): RaftStatusView {
    this.#sampleApplied();
    const now = performance.now();
    const sinceLastApplyMs = this.#lastApplyAtMs === null ? null : now - this.#lastApplyAtMs;
    const raft = this.#o.member.status();
    if (!raft) {
      const snapshot = this.snapshot();
      const leaderId = this.#remote?.leaderId ?? null;
      const leaderSeen = leaderId ? this.#o.member.reports.lastHeardMs(leaderId) : undefined;
      return {
        role: 'client',
        // A client holds no Raft state: it knows the leader only from the voter that answered.
        term: 0,
        leaderId,
        commitIndex: snapshot.appliedIndex,
        appliedIndex: snapshot.appliedIndex,
        members: Object.values(snapshot.nodes)
          .filter((n) => n.role === 'voter' && n.state !== 'removed')
          .map((n) => ({ id: n.id, voter: true })),
        sinceLastApplyMs,
        sinceLeaderContactMs: leaderSeen === undefined ? null : now - leaderSeen,
      };
    }
    const role = roleOf(raft.role);
    const leaderSeen = raft.leader ? this.#o.member.reports.lastHeardMs(raft.leader) : undefined;
    return {
      role,
      term: raft.term,
      leaderId: raft.leader,
      commitIndex: raft.commitIndex,
      appliedIndex: this.#o.member.state.appliedIndex,
      members: [
        ...raft.membership.voters.map((id) => ({ id, voter: true })),
        ...raft.membership.learners.map((id) => ({ id, voter: false })),
      ],
      sinceLastApplyMs,
      // Raft keeps its heartbeat clock private; the leader's own report on NATS is the nearest witness.
      sinceLeaderContactMs:
        role === 'leader' ? 0 : leaderSeen === undefined ? null : now - leaderSeen,
    };
  }

  apiAddressOf(nodeId: string): string | null {
    const address = this.snapshot().nodes[nodeId]?.address;
    return address ? apiBaseUrl(address, this.#o.config.api.port) : null;
  }

  /** Client nodes refresh their borrowed snapshot before a read when it is older than the cache time. */
  async beforeRead(): Promise<void> {
    if (this.#isVoter) return;
    const fresh =
      this.#remote && performance.now() - this.#remote.atMs < (this.#o.clientCacheMs ?? 500);
    if (fresh) return;
    this.#refreshing ??= this.#fetch(subjectsOf(this.cluster).api).finally(() => {
      this.#refreshing = undefined;
    });
    await this.#refreshing.catch(() => {
      // A stale or empty snapshot is still an answer: its meta says how old it is.
    });
  }

  async #fetch(subject: string): Promise<void> {
    const msg = await this.#o.nc.request(
      subject,
      encode(ApiRequest, { v: PROTOCOL_VERSION, op: 'state.get' }),
      {
        timeout: this.#o.requestTimeoutMs ?? 2000,
      },
    );
    const decoded = decode(ApiReply, msg.data, {
      where: `reply on ${subject}`,
      maxBytes: 64 * 1024 * 1024,
    });
    if (!decoded.ok) {
      this.#o.onRejected?.(subject, decoded.error.code);
      throw decoded.error;
    }
    const reply = decoded.value;
    if (!reply.ok || !reply.state)
      throw new NoLeaderError(reply.ok ? 'no state in the reply' : reply.message);
    this.#remote = { snapshot: reply.state, leaderId: reply.leaderId, atMs: performance.now() };
  }

  async consistentRead(): Promise<void> {
    if (this.#isVoter) {
      const leaderId = this.#o.member.leaderId();
      if (!leaderId) throw new NoLeaderError('no leader to confirm the read index');
      try {
        await this.#o.member.consistentRead();
      } catch (cause) {
        throw new NoLeaderError(
          `the read index could not be confirmed: ${cause instanceof Error ? cause.message : String(cause)}`,
          this.apiAddressOf(leaderId),
          { cause },
        );
      }
      return;
    }
    await this.beforeRead();
    const leaderId = this.#remote?.leaderId;
    if (!leaderId) throw new NoLeaderError('no leader known to the voters');
    try {
      // The leader answers state.get on its own subject only after a ReadIndex round.
      await this.#fetch(`${subjectsOf(this.cluster).api}.${leaderId}`);
    } catch (cause) {
      throw new NoLeaderError(
        `the leader did not confirm the read: ${cause instanceof Error ? cause.message : String(cause)}`,
        this.apiAddressOf(leaderId),
        { cause },
      );
    }
  }

  async submit(write: ApiWrite): Promise<ApiReply> {
    if (!this.#isVoter) await this.beforeRead();
    const leaderId = this.#isVoter ? this.#o.member.leaderId() : (this.#remote?.leaderId ?? null);
    // Answer at once rather than wait out an election: the client may retry elsewhere or later.
    if (!leaderId) throw new NoLeaderError('there is no leader to apply the write');
    return this.#o.member.submit(write);
  }

  get executor(): ExecutorView {
    return this.#o.member.executor;
  }

  reports(): ReadonlyMap<string, ReportView> {
    const now = performance.now();
    const out = new Map<string, ReportView>();
    for (const [id, h] of this.#o.member.reports.latest())
      out.set(id, { report: h.report, ageMs: Math.max(0, now - h.receivedAtMs) });
    return out;
  }

  figures(service: string, windowMs: number): Record<string, ServiceFigures[]> {
    return this.#o.member.reports.history.figures(service, windowMs, performance.now());
  }

  close(): void {
    clearInterval(this.#watch);
  }
}
