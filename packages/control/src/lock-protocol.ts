/**
 * The locked command protocol, run by the leader for one service:
 *
 *   1. commit lock.acquire(service)   → the entry's index is the fencing token
 *   2. plan under the lock            (placement only changes under its lock)
 *   3. commit scale.set + command.record (desired count, placement, the commands)
 *   4. send the commands to the agents, with token, term and leader id
 *   5. commit command.result, then lock.release
 *
 * At most one operation per service is in flight cluster-wide within a term:
 * the state machine grants a lock only when none of this term is live. A lock
 * of an earlier term is taken over at once by the next leader (lockBlocks):
 * Raft guarantees the old leader can commit nothing more, the state machine
 * refuses its writes by token, agents refuse a command whose token is below
 * the highest they stored, and commands expire (the executor checks issuedAt
 * plus the lease margin). The leader stops sending before its lease runs out.
 *
 * If a proposal fails (leadership lost), the operation stops where it is; the
 * next leader takes the service over at once.
 */
import {
  type ClusterApplyResult,
  type ClusterCommandInput,
  type CommandRecord,
  type CommandResult,
  PROTOCOL_VERSION,
  type ScaleCommand,
  type ScaleReply,
} from '@coxswain/protocol';
import type { ClusterState } from './cluster-state.js';
import type { Operation } from './decide.js';
import { CommandUndeliveredError, ServiceVanishedError } from './errors.js';

/**
 * The leader's logical time: the replicated clock as it was when this leader
 * took over, continued by the leader's monotonic clock. The replicated clock is
 * never ahead of real elapsed time (it is the last committed `at`), so leases
 * measured on it run at least as long as they would on a perfect clock: a new
 * leader may wait a little longer than needed, never less.
 */
export class LogicalClock {
  readonly #baseMs: number;
  readonly #startMono: number;
  readonly #mono: () => number;
  constructor(baseMs: number, mono: () => number) {
    this.#baseMs = baseMs;
    this.#mono = mono;
    this.#startMono = mono();
  }
  now(): number {
    return Math.floor(this.#baseMs + (this.#mono() - this.#startMono));
  }
}

export interface Committed {
  readonly index: number;
  readonly result: ClusterApplyResult;
}

export interface LockProtocolDeps {
  readonly nodeId: string;
  readonly term: number;
  readonly state: ClusterState;
  readonly clock: LogicalClock;
  readonly leaseMs: number;
  /** Commits a command through Raft; rejects when this node is no longer leader. */
  propose(command: ClusterCommandInput): Promise<Committed>;
  /**
   * Sends one command to one agent and returns its reply; rejects on timeout,
   * and with CommandUndeliveredError when the transport knows nobody received it.
   */
  send(nodeId: string, command: ScaleCommand, timeoutMs: number): Promise<ScaleReply>;
  readonly commandTimeoutMs: number;
  /**
   * The bound on wall-clock differences between hosts (default 500 ms; hosts
   * are assumed NTP-synchronised within it). A command carries issuedAt and a
   * TTL; the agent refuses it after issuedAt + TTL on its own clock, and the
   * leader records a command without reply "failed" only after TTL + this
   * margin, so a command recorded as failed can no longer start work.
   */
  readonly maxClockSkewMs?: number;
  /** The leader's monotonic clock (ms), for the lease margin. */
  readonly mono: () => number;
  /** Wall-clock ms, for the command log's `issuedAtEpochMs` and `finishedAtEpochMs`. */
  readonly epochNow: () => number;
  /** Waits before a retry of a send. */
  readonly sleep: (ms: number) => Promise<void>;
}

export type LockedOutcome =
  | {
      readonly status: 'done';
      readonly token: number;
      readonly replies: readonly ScaleReply[];
      readonly failed: number;
    }
  | { readonly status: 'nothing'; readonly token: number }
  | { readonly status: 'purged'; readonly token: number }
  | { readonly status: 'lock-held'; readonly heldBy?: string }
  | { readonly status: 'refused'; readonly code: string; readonly message: string }
  | { readonly status: 'aborted'; readonly error: unknown; readonly token?: number }
  /** The caller's deadline passed before the write was committed: nothing of it applied. */
  | { readonly status: 'expired'; readonly token?: number };

/** A proposal the state machine refused, carrying its result. */
class RefusedError extends Error {
  constructor(readonly result: Extract<ClusterApplyResult, { ok: false }>) {
    super(result.message);
  }
}

async function commit(deps: LockProtocolDeps, command: ClusterCommandInput): Promise<Committed> {
  const committed = await deps.propose(command);
  if (!committed.result.ok) throw new RefusedError(committed.result);
  return committed;
}

export interface LockedOperationOptions {
  /** Set (number) or clear (null) the manual override in the same scale.set. */
  readonly manualReplicas?: number | null;
  /** Where the plan came from, for the command log. */
  readonly action?: 'scale' | 'reconcile';
  /** With manualReplicas: the override's order; the state machine refuses it behind a newer one. */
  readonly manualSeq?: number;
  /** The API write's idempotency key, recorded with the scale.set. */
  readonly key?: string;
  /** Monotonic ms after which the operation starts nothing (its caller stopped waiting). */
  readonly notAfterMono?: number;
}

/** What the command log records for one target's reply (or its failure to reply). */
function commandResultOf(reply: ScaleReply | NoReply, finishedAtEpochMs: number): CommandResult {
  if ('error' in reply)
    return {
      id: reply.id,
      status: reply.abandoned ? 'abandoned' : 'failed',
      error: reply.error.slice(0, 2000),
      finishedAtEpochMs,
    };
  if (reply.ok)
    return {
      id: reply.id,
      status: 'done',
      running: reply.running,
      started: reply.started,
      durationMs: reply.durationMs,
      finishedAtEpochMs,
    };
  return {
    id: reply.id,
    status: reply.code === 'COX_STALE_TOKEN' ? 'refused' : 'failed',
    error: `${reply.code}: ${reply.message}`.slice(0, 2000),
    finishedAtEpochMs,
  };
}

export async function runLockedOperation(
  deps: LockProtocolDeps,
  service: string,
  plan: (state: ClusterState) => Operation | undefined,
  options: LockedOperationOptions = {},
): Promise<LockedOutcome> {
  const mono = deps.mono;
  const startedMono = mono();
  let token: number | undefined;
  const late = (): boolean => options.notAfterMono !== undefined && mono() >= options.notAfterMono;
  try {
    if (late()) return { status: 'expired' };
    const acquired = await deps.propose({
      type: 'lock.acquire',
      at: deps.clock.now(),
      service,
      holder: deps.nodeId,
      term: deps.term,
      leaseMs: deps.leaseMs,
    });
    if (!acquired.result.ok) {
      if (acquired.result.code === 'COX_LOCK_HELD') {
        return {
          status: 'lock-held',
          ...(acquired.result.heldBy ? { heldBy: acquired.result.heldBy.holder } : {}),
        };
      }
      return { status: 'refused', code: acquired.result.code, message: acquired.result.message };
    }
    token = acquired.index;
    // Everything after this must finish before the lease ends, on our own clock; keep a margin for
    // the release commit and for clock rate differences.
    const deadlineMono = startedMono + deps.leaseMs * 0.8;

    const op = plan(deps.state);
    if (!op && options.manualReplicas === undefined) {
      await commit(deps, { type: 'lock.release', at: deps.clock.now(), service, token });
      return { status: 'nothing', token };
    }
    if (op?.purge) {
      await commit(deps, { type: 'service.purge', at: deps.clock.now(), name: service, token });
      return { status: 'purged', token };
    }
    const record = deps.state.service(service);
    if (!record) throw new ServiceVanishedError(service);
    const desired = op?.desiredReplicas ?? record.desiredReplicas;
    const placement = op?.placement ?? record.placement;
    // A plan that does not manage the warm pool (a manual pin) keeps the committed one.
    const standbyPlacement = op?.standbyPlacement ?? record.standbyPlacement;
    if (late()) {
      await commit(deps, { type: 'lock.release', at: deps.clock.now(), service, token });
      return { status: 'expired', token };
    }
    await commit(deps, {
      type: 'scale.set',
      at: deps.clock.now(),
      service,
      token,
      desiredReplicas: desired,
      placement,
      ...(standbyPlacement ? { standbyPlacement } : {}),
      ...(options.manualReplicas !== undefined ? { manualReplicas: options.manualReplicas } : {}),
      ...(options.manualSeq !== undefined ? { manualSeq: options.manualSeq } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(op ? { reason: op.reason.slice(0, 2000) } : {}),
    });

    const targets = op?.targets ?? [];
    if (targets.length === 0) {
      await commit(deps, { type: 'lock.release', at: deps.clock.now(), service, token });
      return { status: 'done', token, replies: [], failed: 0 };
    }
    const issuedAtMs = deps.clock.now();
    const issuedAtEpochMs = deps.epochNow();
    // Command expiry (see maxClockSkewMs): sends stop at the TTL, "failed" waits for TTL + skew, and
    // both end inside the lease. One target gets commandTimeoutMs in all (TTL + skew), so a host
    // that does not answer (frozen, cut off) holds the service's operation, and healing, no longer.
    const skewMs = deps.maxClockSkewMs ?? 500;
    const issuedMono = mono();
    const sendUntilMono = Math.min(
      deadlineMono,
      startedMono + deps.leaseMs * 0.9 - skewMs,
      issuedMono + deps.commandTimeoutMs - skewMs,
    );
    const ttlMs = Math.max(1, Math.floor(sendUntilMono - issuedMono));
    const failAfterMono = issuedMono + ttlMs + skewMs;
    const records: CommandRecord[] = targets.map((t) => ({
      id: `${service}.${token}.${t.nodeId}`,
      service,
      nodeId: t.nodeId,
      action: options.action ?? t.action,
      replicas: t.replicas,
      token: token!,
      term: deps.term,
      leaderId: deps.nodeId,
      status: 'issued',
      issuedAtMs,
      issuedAtEpochMs,
      ...(op ? { reason: op.reason.slice(0, 2000) } : {}),
    }));
    await commit(deps, { type: 'command.record', at: deps.clock.now(), token, records });

    const spec = record.spec;
    const standbyByNode = new Map(targets.map((t) => [t.nodeId, t.standby]));
    const replies = await Promise.all(
      records.map(async (r): Promise<ScaleReply | NoReply> => {
        const command: ScaleCommand = {
          v: PROTOCOL_VERSION,
          id: r.id,
          service,
          spec,
          specVersion: record.specVersion,
          replicas: r.replicas,
          token: token!,
          term: deps.term,
          leaderId: deps.nodeId,
          issuedAt: issuedAtEpochMs,
          ttlMs,
          ...(r.reason ? { reason: r.reason } : {}),
          ...(standbyByNode.get(r.nodeId) !== undefined
            ? { standby: standbyByNode.get(r.nodeId)! }
            : {}),
        };
        return sendUntilExpired(deps, r.nodeId, command, sendUntilMono, failAfterMono);
      }),
    );
    const results = replies.map((reply) => commandResultOf(reply, deps.epochNow()));
    await commit(deps, { type: 'command.result', at: deps.clock.now(), token, results });
    await commit(deps, { type: 'lock.release', at: deps.clock.now(), service, token });
    const ok = replies.filter((r): r is ScaleReply => !('error' in r));
    return {
      status: 'done',
      token,
      replies: ok,
      failed: results.filter((r) => r.status !== 'done').length,
    };
  } catch (error) {
    if (error instanceof RefusedError) {
      return { status: 'refused', code: error.result.code, message: error.result.message };
    }
    return token === undefined ? { status: 'aborted', error } : { status: 'aborted', error, token };
  }
}

/** How often a target's wait looks whether its node was declared dead meanwhile. */
const DEAD_POLL_MS = 100;

/** A target's wait that ended without a reply; `abandoned` when the outcome is unknown. */
type NoReply = { id: string; error: string; abandoned?: true };

/**
 * Sends one command, retried with the same id (the agent answers a repeat with
 * its first result) until its TTL; without a reply, waits out TTL + skew before
 * giving up, so "failed" is recorded only once the agent must refuse it.
 *
 * A lost host never holds its service's healing for the whole TTL: once the
 * leader declares the node dead, the wait ends. If every attempt so far is
 * known undelivered (nobody was subscribed), nothing can run it later: failed.
 * If one may have arrived (a timeout: frozen or cut off), the outcome is
 * unknown: abandoned, never "failed", since the agent may still run it until
 * issuedAt + TTL. The next operation re-places that node's replicas, so while
 * it is cut off the count is bounded by max + that host's assignment (the
 * agent README's bound), and when it reports again it is sent its count under
 * a newer token (it is stranded on the service).
 */
async function sendUntilExpired(
  deps: LockProtocolDeps,
  nodeId: string,
  command: ScaleCommand,
  sendUntilMono: number,
  failAfterMono: number,
): Promise<ScaleReply | NoReply> {
  const mono = deps.mono;
  let lastError = 'not sent';
  let mayHaveArrived = false;
  const dead = () => deps.state.node(nodeId)?.state === 'dead';
  const ended = (): NoReply =>
    mayHaveArrived
      ? {
          id: command.id,
          error: `node ${nodeId} declared dead with the command possibly delivered (last: ${lastError}); outcome unknown, and the agent refuses it after its TTL`,
          abandoned: true,
        }
      : { id: command.id, error: `never delivered, node ${nodeId} dead: ${lastError}` };
  while (mono() < sendUntilMono) {
    const timeoutMs = Math.max(50, Math.min(deps.commandTimeoutMs, sendUntilMono - mono()));
    const attempt = await untilDead(deps, dead, deps.send(nodeId, command, timeoutMs));
    if (attempt.kind === 'reply') return attempt.reply;
    if (attempt.kind === 'dead') {
      // The attempt itself is still out there: it may arrive.
      mayHaveArrived = true;
      lastError = 'no reply yet';
      return ended();
    }
    const error = attempt.error;
    if (!(error instanceof CommandUndeliveredError)) mayHaveArrived = true;
    lastError = error instanceof Error ? error.message : String(error);
    if (dead()) return ended();
    await deps.sleep(Math.min(200, Math.max(0, sendUntilMono - mono())));
  }
  if (!mayHaveArrived)
    return { id: command.id, error: `never delivered before the command expired: ${lastError}` };
  while (mono() < failAfterMono) {
    if (dead()) return ended();
    await deps.sleep(Math.min(DEAD_POLL_MS, failAfterMono - mono()));
  }
  return { id: command.id, error: `no reply before the command expired: ${lastError}` };
}

type Attempt =
  | { kind: 'reply'; reply: ScaleReply }
  | { kind: 'error'; error: unknown }
  | { kind: 'dead' };

/** One send, or "dead" as soon as the node is declared dead while it is pending. */
async function untilDead(
  deps: LockProtocolDeps,
  dead: () => boolean,
  send: Promise<ScaleReply>,
): Promise<Attempt> {
  let settled = false;
  const sent = send.then(
    (reply): Attempt => ({ kind: 'reply', reply }),
    (error: unknown): Attempt => ({ kind: 'error', error }),
  );
  void sent.then(() => {
    settled = true;
  });
  const watch = (async (): Promise<Attempt | undefined> => {
    while (!settled) {
      await deps.sleep(DEAD_POLL_MS);
      if (!settled && dead()) return { kind: 'dead' };
    }
    return undefined;
  })();
  const first = await Promise.race([sent, watch]);
  return first ?? sent;
}
