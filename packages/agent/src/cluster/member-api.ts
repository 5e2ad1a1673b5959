/**
 * API requests over NATS: a voter answers `cox.<cluster>.api` (queue group)
 * and `cox.<cluster>.api.<nodeId>`; a follower forwards to the leader (waiting
 * out an election for a while), the leader checks the token and commits.
 */
import type { ClusterState, Committed } from '@coxswain/control';
import {
  type AgentConfig,
  ApiReply,
  ApiRequest,
  type ClusterApplyResult,
  type ClusterCommandInput,
  type ClusterStateSnapshot,
  decode,
  encode,
  MANUAL_SEQ_PER_INDEX,
  PROTOCOL_VERSION,
  type Subjects,
} from '@coxswain/protocol';
import type { Logger } from '@coxswain/telemetry';
import { requestTraced, withConsumerSpan } from '@coxswain/telemetry';
import type { Msg, NatsConnection } from 'nats';
import type { RaftNode } from 'raft-consensus-ts';
import { tokenMatches } from '../api/token.js';
import type { Coordinator, ManualWrite } from './coordinator.js';
import type { VoterChanges } from './raft-membership.js';
import {
  type ApiRefusal,
  InternalRefusal,
  NoSuchServiceRefusal,
  NotLeaderRefusal,
  type RefusalSubject,
  refusalOfError,
  refusalOfOutcome,
  refusalOfResult,
  UnauthorizedRefusal,
} from './refusals.js';

export interface MemberApiOptions {
  readonly config: AgentConfig;
  readonly subjects: Subjects;
  readonly state: ClusterState;
  readonly log: Logger;
  readonly nc: () => NatsConnection;
  readonly raft: () => RaftNode | undefined;
  readonly coordinator: () => Coordinator | undefined;
  readonly voters: () => VoterChanges | undefined;
  readonly propose: (command: ClusterCommandInput) => Promise<Committed>;
  readonly snapshot: () => ClusterStateSnapshot;
  readonly stopped: () => boolean;
  readonly apiTimeoutMs?: number | undefined;
  readonly onRejected?: ((subject: string, reason: string) => void) | undefined;
}

type ErrorCode = Extract<ApiReply, { ok: false }>['code'];

function isNoResponders(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '503';
}

export class MemberApi {
  readonly #o: MemberApiOptions;
  readonly #adding = new Set<string>();
  #seqIndex = -1;
  #seqWithin = 0;

  constructor(options: MemberApiOptions) {
    this.#o = options;
  }

  #leaderId(): string | null {
    return this.#o.raft()?.status().leader ?? null;
  }

  #isLeader(): boolean {
    return this.#o.raft()?.status().role === 'leader';
  }

  /** The NATS subscription callback; `viaQueue` is the shared subject (forward if not leader). */
  onMessage(err: Error | null, msg: Msg, viaQueue: boolean): void {
    if (err || this.#o.stopped()) return;
    const receivedMono = performance.now();
    const decoded = decode(ApiRequest, msg.data, { where: msg.subject });
    if (!decoded.ok) {
      this.#o.onRejected?.(this.#o.subjects.api, decoded.error.code);
      this.#respond(msg, this.#error('COX_INVALID_PAYLOAD', decoded.error.message));
      return;
    }
    void withConsumerSpan(msg, `coxswain.api ${decoded.value.op}`, async () => {
      const reply = viaQueue
        ? await this.submit(decoded.value, receivedMono)
        : await this.#handleAsLeader(decoded.value, this.#deadlineOf(decoded.value, receivedMono));
      this.#respond(msg, reply);
    }).catch((error: unknown) => {
      this.#respond(msg, this.#refuse(refusalOfError(error, this.#leaderId())));
    });
  }

  /** The monotonic ms after which the request's caller no longer waits (its `deadlineMs`, counted from receipt). */
  #deadlineOf(request: ApiRequest, receivedMono: number): number {
    const budget =
      'deadlineMs' in request && request.deadlineMs !== undefined
        ? request.deadlineMs
        : (this.#o.apiTimeoutMs ?? 30_000);
    return receivedMono + budget;
  }

  #respond(msg: Msg, reply: ApiReply): void {
    if (!msg.reply) return;
    try {
      msg.respond(encode(ApiReply, reply));
    } catch (error) {
      this.#o.log.warn('could not answer an API request', { error });
    }
  }

  #error(code: ErrorCode, message: string): ApiReply {
    return { v: PROTOCOL_VERSION, ok: false, servedBy: this.#o.config.nodeId, code, message };
  }

  /** The reply for a refusal: its stable code (the HTTP layer maps it to its status). */
  #refuse(refusal: ApiRefusal): ApiReply {
    // Only a fault of ours is an error worth a log line; the others are the caller's answer.
    if (refusal instanceof InternalRefusal)
      this.#o.log.error('api handler failed', { error: refusal.cause ?? refusal });
    return this.#error(refusal.code, refusal.message);
  }

  #ok(
    extra: {
      specVersion?: number;
      state?: ClusterStateSnapshot;
      replayed?: boolean;
      accepted?: boolean;
      commandsPending?: number;
    } = {},
  ): ApiReply {
    return {
      v: PROTOCOL_VERSION,
      ok: true,
      servedBy: this.#o.config.nodeId,
      leaderId: this.#leaderId(),
      ...extra,
    };
  }

  /**
   * Handles an API request here when this node leads, else forwards it to the
   * leader (waiting out an election), until the request's deadline: after it,
   * nothing is retried or forwarded, so a write whose caller was answered never
   * starts later. A forward carries the time left; the leader starts no work
   * once it has run out. Never throws.
   */
  async submit(request: ApiRequest, receivedMono = performance.now()): Promise<ApiReply> {
    const raft = this.#o.raft();
    if (request.op === 'state.get' && raft && !request.consistent)
      return this.#ok({ state: this.#o.snapshot() });
    const subjects = this.#o.subjects;
    const deadline = this.#deadlineOf(request, receivedMono);
    for (;;) {
      if (performance.now() >= deadline) return this.#timeout(request, 'no leader accepted it');
      if (this.#isLeader()) {
        // The order is fixed at the first acceptance and travels with a forward after a step-down.
        if (request.op === 'service.scale' && request.seq === undefined && raft)
          request = { ...request, seq: this.#nextSeq(raft) };
        const reply = await this.#handleAsLeader(request, deadline);
        if (reply.ok || reply.code !== 'COX_NOT_LEADER') return reply;
      } else {
        const leader = this.#leaderId();
        const subject = raft ? (leader ? `${subjects.api}.${leader}` : undefined) : subjects.api;
        if (subject) {
          const remaining = Math.floor(deadline - performance.now());
          if (remaining <= 0) return this.#timeout(request, 'no leader accepted it');
          const forwarded: ApiRequest =
            request.op === 'state.get' ? request : { ...request, deadlineMs: remaining };
          try {
            const msg = await requestTraced(this.#o.nc(), subject, encode(ApiRequest, forwarded), {
              timeout: remaining,
            });
            const decoded = decode(ApiReply, msg.data, { where: `reply on ${subject}` });
            if (!decoded.ok)
              return this.#refuse(
                new InternalRefusal(`the leader's reply: ${decoded.error.message}`),
              );
            const reply = decoded.value;
            if (reply.ok || (reply.code !== 'COX_NOT_LEADER' && reply.code !== 'COX_NO_LEADER'))
              return reply;
          } catch (error) {
            // A forward that timed out may have reached the leader: never sent again.
            if (performance.now() >= deadline || !isNoResponders(error)) {
              return this.#timeout(
                request,
                `the leader did not answer: ${error instanceof Error ? error.message : String(error)}`,
              );
            }
          }
        }
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, Math.min(100, deadline - performance.now()))),
      );
    }
  }

  /** The honest timeout: what may have happened, and how to find out. */
  #timeout(request: ApiRequest, why: string): ApiReply {
    const key = 'key' in request ? request.key : undefined;
    const how = key
      ? `check GET /v1/writes/${key}, or retry with the same Idempotency-Key`
      : 'retry with an Idempotency-Key';
    return this.#error(
      'COX_TIMEOUT',
      `deadline passed (${why}); the write may still apply: ${how}`,
    );
  }

  /** The leader's order of manual writes: its commit index at acceptance, then arrival within it. */
  #nextSeq(raft: RaftNode): number {
    const index = raft.status().commitIndex;
    if (index !== this.#seqIndex) {
      this.#seqIndex = index;
      this.#seqWithin = 0;
    }
    this.#seqWithin = Math.min(MANUAL_SEQ_PER_INDEX - 1, this.#seqWithin + 1);
    return index * MANUAL_SEQ_PER_INDEX + this.#seqWithin;
  }

  async #handleAsLeader(request: ApiRequest, deadline: number): Promise<ApiReply> {
    const raft = this.#o.raft();
    const coordinator = this.#o.coordinator();
    if (!raft || !this.#isLeader() || !coordinator?.leading)
      return this.#refuse(new NotLeaderRefusal(this.#leaderId()));
    if (request.op === 'state.get') {
      try {
        await raft.readIndex();
      } catch (error) {
        return this.#refuse(refusalOfError(error, this.#leaderId()));
      }
      return this.#ok({ state: this.#o.snapshot() });
    }
    if (performance.now() >= deadline) {
      return this.#error(
        'COX_TIMEOUT',
        'deadline passed before the leader started the write; nothing of it applied',
      );
    }
    const token = this.#o.config.api.token;
    if (token === undefined)
      return this.#refuse(
        new UnauthorizedRefusal('writes are refused: the leader has no api.token configured'),
      );
    if (!tokenMatches(request.token, token))
      return this.#refuse(new UnauthorizedRefusal('missing or wrong API token'));
    const applied = request.key ? this.#o.state.appliedWrite(request.key) : undefined;
    if (applied) return this.#ok({ replayed: true });
    try {
      return await this.#write(request, coordinator, raft, deadline);
    } catch (error) {
      return this.#refuse(refusalOfError(error, this.#leaderId()));
    }
  }

  async #write(
    request: Exclude<ApiRequest, { op: 'state.get' }>,
    coordinator: Coordinator,
    raft: RaftNode,
    deadline: number,
  ): Promise<ApiReply> {
    const at = this.#o.state.clockMs;
    const key = request.key !== undefined ? { key: request.key } : {};
    switch (request.op) {
      case 'service.apply': {
        const r = await this.#o.propose({ type: 'service.put', at, ...key, spec: request.spec });
        coordinator.poke();
        return this.#fromResult(
          r.result,
          { service: request.spec.name, from: 'write' },
          r.result.ok
            ? { ...(r.result.specVersion ? { specVersion: r.result.specVersion } : {}) }
            : {},
        );
      }
      case 'service.delete': {
        const r = await this.#o.propose({ type: 'service.delete', at, ...key, name: request.name });
        coordinator.poke();
        return this.#fromResult(r.result, { service: request.name, from: 'write' });
      }
      case 'node.declare': {
        const r = await this.#o.propose({
          type: 'node.declare',
          at,
          ...key,
          nodeId: request.nodeId,
          state: request.state,
        });
        if (r.result.ok && request.state === 'removed')
          await this.#o.voters()?.drop(request.nodeId);
        return this.#fromResult(r.result, { nodeId: request.nodeId, from: 'write' });
      }
      case 'node.addVoter':
        return this.#addVoter(request.nodeId);
      case 'service.scale':
        return this.#scale(request, coordinator, {
          replicas: request.replicas,
          seq:
            request.seq === undefined
              ? this.#nextSeq(raft)
              : Math.min(request.seq, this.#nextSeq(raft)),
          ...key,
          notAfterMono: deadline,
        });
    }
  }

  /**
   * Adds a voter in the background (catching up can take longer than any HTTP
   * request should wait): answered at once as accepted; GET /v1/cluster shows
   * the node as a voter once it is one.
   */
  #addVoter(nodeId: string): ApiReply {
    const voters = this.#o.voters();
    if (!voters) return this.#refuse(new NotLeaderRefusal(null, 'this node runs no Raft'));
    if (!this.#adding.has(nodeId)) {
      this.#adding.add(nodeId);
      void voters
        .add(nodeId)
        .then(
          (added) => {
            if (!added.ok) this.#o.log.warn('voter add failed', { nodeId, error: added.message });
          },
          (error: unknown) => this.#o.log.warn('voter add failed', { nodeId, error }),
        )
        .finally(() => this.#adding.delete(nodeId));
    }
    return this.#ok({ accepted: true });
  }

  async #scale(
    request: Extract<ApiRequest, { op: 'service.scale' }>,
    coordinator: Coordinator,
    manual: ManualWrite,
  ): Promise<ApiReply> {
    const service = this.#o.state.service(request.name);
    if (!service || service.deleted) return this.#refuse(new NoSuchServiceRefusal(request.name));
    const outcome = await coordinator.manualScale(request.name, manual);
    const refusal = refusalOfOutcome(request.name, outcome, this.#leaderId());
    if (refusal) return this.#refuse(refusal);
    // Committed (done, nothing to do, purged): a failed command (a host that did not answer
    // in time) is the leader's to retry, not the caller's; an error here would make a client
    // retry a write that already holds.
    return outcome.status === 'done' && outcome.failed > 0
      ? this.#ok({ commandsPending: outcome.failed })
      : this.#ok();
  }

  #fromResult(
    result: ClusterApplyResult,
    subject: RefusalSubject,
    extra: { specVersion?: number } = {},
  ): ApiReply {
    return result.ok ? this.#ok(extra) : this.#refuse(refusalOfResult(result, subject));
  }
}
