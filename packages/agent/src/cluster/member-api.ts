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
  PROTOCOL_VERSION,
  type Subjects,
} from '@coxswain/protocol';
import { requestTraced, withConsumerSpan } from '@coxswain/telemetry';
import type { Msg, NatsConnection } from 'nats';
import { NotLeaderError, type RaftNode } from 'raft-consensus-ts';
import { tokenMatches } from '../api/token.js';
import type { Logger } from '../logger.js';
import type { Coordinator } from './coordinator.js';
import type { VoterChanges } from './raft-membership.js';

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

export class MemberApi {
  readonly #o: MemberApiOptions;

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
    const decoded = decode(ApiRequest, msg.data, { where: msg.subject });
    if (!decoded.ok) {
      this.#o.onRejected?.(this.#o.subjects.api, decoded.error.code);
      this.#respond(msg, this.#error('COX_INVALID_PAYLOAD', decoded.error.message));
      return;
    }
    void withConsumerSpan(msg, `coxswain.api ${decoded.value.op}`, async () => {
      const reply = viaQueue
        ? await this.submit(decoded.value)
        : await this.#handleAsLeader(decoded.value);
      this.#respond(msg, reply);
    }).catch((error: unknown) => {
      this.#o.log.error('api handler failed', { error });
      this.#respond(
        msg,
        this.#error('COX_INTERNAL', error instanceof Error ? error.message : String(error)),
      );
    });
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

  #ok(extra: { specVersion?: number; state?: ClusterStateSnapshot } = {}): ApiReply {
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
   * leader (waiting out an election for up to a few seconds). Never throws.
   */
  async submit(request: ApiRequest): Promise<ApiReply> {
    const raft = this.#o.raft();
    if (request.op === 'state.get' && raft) return this.#ok({ state: this.#o.snapshot() });
    const subjects = this.#o.subjects;
    const deadline = performance.now() + (this.#o.apiTimeoutMs ?? 30_000);
    for (;;) {
      if (this.#isLeader()) {
        const reply = await this.#handleAsLeader(request);
        if (reply.ok || reply.code !== 'COX_NOT_LEADER') return reply;
      } else {
        const leader = this.#leaderId();
        const subject = raft ? (leader ? `${subjects.api}.${leader}` : undefined) : subjects.api;
        if (subject) {
          try {
            const remaining = Math.max(100, deadline - performance.now());
            const msg = await requestTraced(this.#o.nc(), subject, encode(ApiRequest, request), {
              timeout: remaining,
            });
            const decoded = decode(ApiReply, msg.data, { where: `reply on ${subject}` });
            if (!decoded.ok) return this.#error('COX_INTERNAL', decoded.error.message);
            const reply = decoded.value;
            if (reply.ok || (reply.code !== 'COX_NOT_LEADER' && reply.code !== 'COX_NO_LEADER'))
              return reply;
          } catch (error) {
            if (performance.now() > deadline) {
              return this.#error(
                'COX_TIMEOUT',
                `leader did not answer: ${error instanceof Error ? error.message : String(error)}`,
              );
            }
          }
        }
      }
      if (performance.now() > deadline)
        return this.#error('COX_NO_LEADER', 'no leader answered in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #handleAsLeader(request: ApiRequest): Promise<ApiReply> {
    const raft = this.#o.raft();
    const coordinator = this.#o.coordinator();
    if (!raft || !this.#isLeader() || !coordinator?.leading) {
      return this.#error(
        'COX_NOT_LEADER',
        `not the leader; leader is ${this.#leaderId() ?? 'unknown'}`,
      );
    }
    if (request.op === 'state.get') {
      await raft.readIndex();
      return this.#ok({ state: this.#o.snapshot() });
    }
    const token = this.#o.config.api.token;
    if (token === undefined) {
      return this.#error(
        'COX_UNAUTHORIZED',
        'writes are refused: the leader has no api.token configured',
      );
    }
    if (!tokenMatches(request.token, token)) {
      return this.#error('COX_UNAUTHORIZED', 'missing or wrong API token');
    }
    try {
      return await this.#write(request, coordinator);
    } catch (error) {
      if (error instanceof NotLeaderError) return this.#error('COX_NOT_LEADER', error.message);
      throw error;
    }
  }

  async #write(
    request: Exclude<ApiRequest, { op: 'state.get' }>,
    coordinator: Coordinator,
  ): Promise<ApiReply> {
    const at = this.#o.state.clockMs;
    switch (request.op) {
      case 'service.apply': {
        const r = await this.#o.propose({ type: 'service.put', at, spec: request.spec });
        coordinator.poke();
        return this.#fromResult(
          r.result,
          r.result.ok
            ? { ...(r.result.specVersion ? { specVersion: r.result.specVersion } : {}) }
            : {},
        );
      }
      case 'service.delete': {
        const r = await this.#o.propose({ type: 'service.delete', at, name: request.name });
        coordinator.poke();
        return this.#fromResult(r.result);
      }
      case 'node.declare': {
        const r = await this.#o.propose({
          type: 'node.declare',
          at,
          nodeId: request.nodeId,
          state: request.state,
        });
        if (r.result.ok && request.state === 'removed')
          await this.#o.voters()?.drop(request.nodeId);
        return this.#fromResult(r.result);
      }
      case 'node.addVoter': {
        const added = await this.#o.voters()!.add(request.nodeId);
        return added.ok ? this.#ok({}) : this.#error('COX_TIMEOUT', added.message);
      }
      case 'service.scale':
        return this.#scale(request, coordinator);
    }
  }

  async #scale(
    request: Extract<ApiRequest, { op: 'service.scale' }>,
    coordinator: Coordinator,
  ): Promise<ApiReply> {
    const service = this.#o.state.service(request.name);
    if (!service || service.deleted)
      return this.#error('COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(request.name)}`);
    const outcome = await coordinator.manualScale(request.name, request.replicas);
    switch (outcome.status) {
      case 'done':
      case 'nothing':
      case 'purged':
        return outcome.status === 'done' && outcome.failed > 0
          ? this.#error(
              'COX_INTERNAL',
              `${outcome.failed} of the commands failed; the leader will retry`,
            )
          : this.#ok();
      case 'lock-held':
        return this.#error(
          'COX_LOCK_HELD',
          `service ${request.name} is locked${outcome.heldBy ? ` by ${outcome.heldBy}` : ''}`,
        );
      case 'refused':
        return this.#error(
          outcome.code === 'COX_NO_SUCH_SERVICE' ? 'COX_NO_SUCH_SERVICE' : 'COX_INTERNAL',
          outcome.message,
        );
      case 'aborted':
        return this.#error('COX_NOT_LEADER', `operation aborted: ${String(outcome.error)}`);
    }
  }

  #fromResult(result: ClusterApplyResult, extra: { specVersion?: number } = {}): ApiReply {
    if (result.ok) return this.#ok(extra);
    const code =
      result.code === 'COX_NO_SUCH_SERVICE' ||
      result.code === 'COX_NO_SUCH_NODE' ||
      result.code === 'COX_LOCK_HELD'
        ? result.code
        : result.code === 'COX_INVALID_COMMAND'
          ? 'COX_INVALID_PAYLOAD'
          : 'COX_INTERNAL';
    return this.#error(code, result.message);
  }
}
