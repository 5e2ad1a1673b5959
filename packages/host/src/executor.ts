/**
 * The executor: runs the leader's scale commands on this node.
 *
 * A command on `cox.<cluster>.cmd.<node>` says "run exactly N replicas of S at
 * spec version V", with the fencing token of the leader's lock. The executor
 * validates it, refuses a token lower than the highest it stored for S (see
 * fencing-store.ts), stores the token and the assignment durably, then makes the
 * engine match: create and wait for health first, remove what is surplus or of
 * an older spec version after. A retried command id returns the first result
 * (NATS delivers at most once, so the leader retries with the same id).
 *
 * Commands expire (see `ScaleCommand.ttlMs`): a command whose issuedAt + ttlMs
 * has passed on this node's wall clock is refused with COX_COMMAND_EXPIRED
 * before its token or assignment is stored, and the check is repeated before
 * each irreversible step (the creates, the removes). With the cluster's clocks
 * within the skew bound the leader allows for, a command the leader has
 * recorded as failed can no longer start work here: an agent frozen with the
 * command in its socket refuses it when it wakes.
 *
 * Operations on one service run one at a time on this node (the per-service
 * mutex the supervisor shares), and each is logged with its wall-clock start and
 * end, so a test can check from the agents' own logs that no two overlap.
 */
import {
  type ContainerState,
  decode,
  encode,
  MAX_COMMAND_BYTES,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  type ServiceSpec,
  type Subjects,
} from '@coxswain/protocol';
import { LogLimiter, withConsumerSpan } from '@coxswain/telemetry';
import type { NatsConnection, Subscription } from 'nats';
import type { AssignmentStore } from './assignment-store.js';
import { type FencingStore, StaleFencingTokenError } from './fencing-store.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { HostLogger } from './logger.js';

/** The slice of the Docker driver the executor and supervisor use (the real DockerDriver satisfies it). */
export interface ReplicaDriver {
  createReplica(spec: ServiceSpec, specVersion: number): Promise<string>;
  stopReplica(id: string, timeoutMs: number): Promise<void>;
  removeReplica(id: string): Promise<void>;
  waitHealthy(id: string, timeoutMs: number): Promise<void>;
  replicas(service?: string): ContainerState[];
}

const ACTIVE = new Set(['running', 'created', 'restarting']);
/**
 * A replica that runs or is about to. Paused ones are not counted: coxswain
 * pauses only the supervisor's warm standbys, which serve nobody until a
 * replica dies (supervisor.ts).
 */
export const isActive = (c: ContainerState): boolean => ACTIVE.has(c.status);

/** One executed (or refused) operation, as this agent saw it. */
export interface OperationLogEntry {
  readonly id: string;
  readonly service: string;
  readonly token: number;
  readonly term: number;
  readonly leaderId: string;
  readonly replicas: number;
  readonly startedAtEpochMs: number;
  readonly endedAtEpochMs: number;
  readonly outcome: 'done' | 'refused' | 'failed';
  readonly code?: string;
}

export interface ExecutorOptions {
  readonly nodeId: string;
  readonly driver: ReplicaDriver;
  readonly fencing: FencingStore;
  readonly assignments: AssignmentStore;
  readonly mutex: KeyedMutex;
  readonly logger: HostLogger;
  readonly healthTimeoutMs?: number;
  /** Grace before SIGKILL when removing a replica; 0 removes at once. */
  readonly stopTimeoutMs?: number;
  /** Idempotency memory: how many recent command ids are remembered. */
  readonly rememberCommands?: number;
  /** Counts payloads that failed validation (the agent's rejected-messages counter). */
  readonly onRejected?: (reason: string) => void;
  /**
   * With the supervisor's warm standbys: unpauses a paused replica of the
   * command's spec version instead of creating one (tens of ms instead of a
   * container start); the supervisor prepares a new standby afterwards.
   */
  readonly unpause?: (id: string) => Promise<void>;
  /** Wall clock (epoch ms) for command expiry; Date.now by default. */
  readonly now?: () => number;
  /** At most this many "refused invalid command" log lines per minute (the counter counts them all). */
  readonly invalidLogsPerMinute?: number;
  /**
   * Checks a decoded command's signature before anything else looks at it (its
   * token above all: a forged token would poison the fencing store). Absent:
   * commands are not authenticated. Returns the refusal, or undefined to admit.
   */
  readonly authenticate?: (command: ScaleCommand) => CommandRefusal | undefined;
}

/** Why `authenticate` refused a command: one of the signature codes and a message naming the command. */
export interface CommandRefusal {
  readonly code: 'COX_SIG_MISSING' | 'COX_SIG_INVALID' | 'COX_SIG_UNKNOWN_SIGNER';
  readonly message: string;
}

/** A command reached the point of acting after its expiry (issuedAt + ttlMs). */
export class CommandExpiredError extends Error {
  readonly code = 'COX_COMMAND_EXPIRED';
  constructor(
    readonly step: string,
    readonly lateMs: number,
  ) {
    super(`command expired ${Math.round(lateMs)} ms before ${step}`);
  }
}

/** Throws CommandExpiredError when the command's issuedAt + ttlMs has passed on `now` (no ttlMs: never). */
function expiryCheck(command: ScaleCommand, now: () => number): (step: string) => void {
  const expiresAt = command.ttlMs !== undefined ? command.issuedAt + command.ttlMs : undefined;
  return (step) => {
    if (expiresAt === undefined) return;
    const late = now() - expiresAt;
    if (late > 0) throw new CommandExpiredError(step, late);
  };
}

export class Executor {
  readonly #o: Required<Omit<ExecutorOptions, 'onRejected' | 'unpause' | 'authenticate'>> &
    Pick<ExecutorOptions, 'onRejected' | 'unpause' | 'authenticate'>;
  /** Commands `authenticate` refused, by code (`coxswain_commands_unauthenticated_total`). */
  readonly unauthenticated = new Map<CommandRefusal['code'], number>();
  readonly #invalidLogs: LogLimiter;
  readonly #forgedLogs: LogLimiter;
  readonly #results = new Map<string, Promise<ScaleReply>>();
  readonly #log: OperationLogEntry[] = [];
  #subscription: Subscription | undefined;

  /** The fencing store this executor admits commands through. */
  get fencing(): FencingStore {
    return this.#o.fencing;
  }

  constructor(options: ExecutorOptions) {
    this.#o = {
      healthTimeoutMs: 30_000,
      stopTimeoutMs: 2_000,
      rememberCommands: 1024,
      now: Date.now,
      invalidLogsPerMinute: 10,
      ...options,
    };
    this.#invalidLogs = new LogLimiter({ perWindow: this.#o.invalidLogsPerMinute });
    this.#forgedLogs = new LogLimiter({ perWindow: this.#o.invalidLogsPerMinute });
  }

  /** The most recent operations (at most 1,000), oldest first. */
  history(): readonly OperationLogEntry[] {
    return this.#log;
  }

  /** The highest fencing token stored for a service (0 when none). */
  highestToken(service: string): number {
    return this.#o.fencing.highest(service);
  }

  /** Answers commands on `cmd.<node>`; a payload that fails validation gets a COX_INVALID_PAYLOAD reply. */
  listen(nc: NatsConnection, subjects: Subjects): void {
    const subject = subjects.cmd(this.#o.nodeId);
    this.#subscription = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.#o.logger.warn('command subscription error', { subject, error: err });
          return;
        }
        const decoded = decode(ScaleCommand, msg.data, {
          where: msg.subject,
          maxBytes: MAX_COMMAND_BYTES,
        });
        if (!decoded.ok) {
          this.#o.onRejected?.(decoded.error.code);
          const suppressed = this.#invalidLogs.take();
          if (suppressed !== undefined)
            this.#o.logger.warn('refused invalid command', {
              subject,
              error: decoded.error.message,
              ...(suppressed > 0 ? { suppressedBefore: suppressed } : {}),
            });
          const reply: ScaleReply = {
            v: PROTOCOL_VERSION,
            id: 'unknown',
            ok: false,
            nodeId: this.#o.nodeId,
            code: 'COX_INVALID_PAYLOAD',
            message: decoded.error.message,
          };
          if (msg.reply) msg.respond(encode(ScaleReply, reply));
          return;
        }
        const refusal = this.#o.authenticate?.(decoded.value);
        if (refusal !== undefined) {
          this.unauthenticated.set(refusal.code, (this.unauthenticated.get(refusal.code) ?? 0) + 1);
          const suppressed = this.#forgedLogs.take();
          if (suppressed !== undefined)
            this.#o.logger.warn('refused unauthenticated command', {
              subject,
              code: refusal.code,
              error: refusal.message,
              ...(suppressed > 0 ? { suppressedBefore: suppressed } : {}),
            });
          const reply: ScaleReply = {
            v: PROTOCOL_VERSION,
            id: decoded.value.id,
            ok: false,
            nodeId: this.#o.nodeId,
            code: refusal.code,
            message: refusal.message,
          };
          if (msg.reply) msg.respond(encode(ScaleReply, reply));
          return;
        }
        withConsumerSpan(msg, 'coxswain.execute', async (span) => {
          span.setAttributes({
            'coxswain.service': decoded.value.service,
            'coxswain.token': decoded.value.token,
            'coxswain.replicas': decoded.value.replicas,
          });
          const reply = await this.execute(decoded.value);
          if (msg.reply) msg.respond(encode(ScaleReply, reply));
        }).catch((error: unknown) => {
          this.#o.logger.error('command handler failed', { subject, error });
        });
      },
    });
  }

  async close(): Promise<void> {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
  }

  /** Executes one command (idempotent by id). Never throws: failures become a `ok: false` reply. */
  execute(command: ScaleCommand): Promise<ScaleReply> {
    const known = this.#results.get(command.id);
    if (known) return known;
    const result = this.#o.mutex.run(command.service, () => this.#run(command));
    this.#results.set(command.id, result);
    if (this.#results.size > this.#o.rememberCommands) {
      const oldest = this.#results.keys().next().value;
      if (oldest !== undefined) this.#results.delete(oldest);
    }
    return result;
  }

  async #run(command: ScaleCommand): Promise<ScaleReply> {
    const { driver, fencing, assignments, logger, nodeId } = this.#o;
    const startedAtEpochMs = Date.now();
    const t0 = performance.now();
    const log = logger.child({
      service: command.service,
      commandId: command.id,
      token: command.token,
    });
    const finish = (outcome: OperationLogEntry['outcome'], code?: string): void => {
      const entry: OperationLogEntry = {
        id: command.id,
        service: command.service,
        token: command.token,
        term: command.term,
        leaderId: command.leaderId,
        replicas: command.replicas,
        startedAtEpochMs,
        endedAtEpochMs: Date.now(),
        outcome,
        ...(code ? { code } : {}),
      };
      this.#log.push(entry);
      if (this.#log.length > 1000) this.#log.shift();
      log.info('operation', { ...entry });
    };
    const failure = (
      code: Extract<ScaleReply, { ok: false }>['code'],
      message: string,
      highestToken?: number,
    ): ScaleReply => ({
      v: PROTOCOL_VERSION,
      id: command.id,
      ok: false,
      nodeId,
      code,
      message,
      ...(highestToken !== undefined ? { highestToken } : {}),
    });

    if (command.spec.name !== command.service) {
      finish('failed', 'COX_INVALID_PAYLOAD');
      return failure(
        'COX_INVALID_PAYLOAD',
        `spec names ${command.spec.name}, command names ${command.service}`,
      );
    }
    const checkExpiry = expiryCheck(command, this.#o.now);
    const expired = (error: CommandExpiredError): ScaleReply => {
      finish('refused', error.code);
      log.warn('refused expired command', { step: error.step, lateMs: Math.round(error.lateMs) });
      return failure('COX_COMMAND_EXPIRED', error.message);
    };
    try {
      checkExpiry('accepting it');
    } catch (error) {
      return expired(error as CommandExpiredError);
    }
    try {
      // The check that keeps a deposed leader out: see fencing-store.ts.
      await fencing.admit(command.service, command.token);
    } catch (error) {
      if (error instanceof StaleFencingTokenError) {
        finish('refused', error.code);
        log.warn('refused stale command', {
          highest: error.highest,
          leaderId: command.leaderId,
          term: command.term,
        });
        return failure('COX_STALE_TOKEN', error.message, error.highest);
      }
      finish('failed', 'COX_INTERNAL');
      return failure('COX_INTERNAL', `fencing store: ${String(error)}`);
    }
    const previous = assignments.get(command.service);
    let assigned = false;
    try {
      checkExpiry('storing the assignment');
      assigned = true;
      const standby = command.standby ?? previous?.standby;
      await assignments.set(command.service, {
        replicas: command.replicas,
        spec: command.spec,
        specVersion: command.specVersion,
        token: command.token,
        ...(standby === undefined ? {} : { standby }),
      });
      const active = driver.replicas(command.service).filter(isActive);
      const current = active.filter((c) => c.specVersion === command.specVersion);
      const outdated = active.filter((c) => c.specVersion !== command.specVersion);
      let toCreate = Math.max(0, command.replicas - current.length);
      if (toCreate > 0) checkExpiry('creating replicas');
      const unpaused = toCreate > 0 ? await this.#wakeStandbys(command, toCreate) : 0;
      toCreate -= unpaused;
      const created = await Promise.all(
        Array.from({ length: toCreate }, () =>
          driver.createReplica(command.spec, command.specVersion),
        ),
      );
      await Promise.all(created.map((id) => driver.waitHealthy(id, this.#o.healthTimeoutMs)));
      // Surplus goes least-ready first: a replica still starting is cheaper to lose than a serving one.
      const rank = (c: ContainerState): number =>
        c.status !== 'running' ? 0 : c.health === 'starting' || c.health === 'unhealthy' ? 1 : 2;
      const surplus = [...current]
        .sort((a, b) => rank(a) - rank(b) || (b.startedAt ?? 0) - (a.startedAt ?? 0))
        .slice(0, Math.max(0, current.length - command.replicas));
      const toRemove = [...surplus, ...outdated];
      if (toRemove.length > 0) checkExpiry('removing replicas');
      await Promise.all(toRemove.map((c) => this.#remove(c.id)));
      const running = driver
        .replicas(command.service)
        .filter((c) => c.status === 'running' && c.health !== 'unhealthy').length;
      finish('done');
      return {
        v: PROTOCOL_VERSION,
        id: command.id,
        ok: true,
        nodeId,
        running,
        started: created.length + unpaused,
        stopped: toRemove.length,
        durationMs: performance.now() - t0,
      };
    } catch (error) {
      if (error instanceof CommandExpiredError) {
        // Expired after the assignment was stored: put the previous one back, so the supervisor does
        // not heal toward a count the leader has given up on.
        if (assigned)
          await (previous
            ? assignments.set(command.service, previous)
            : assignments.delete(command.service)
          ).catch(() => {});
        return expired(error);
      }
      const code = (error as { code?: string }).code;
      const replyCode =
        code === 'COX_HEALTH_TIMEOUT' || code === 'COX_DOCKER_ERROR' ? code : 'COX_INTERNAL';
      finish('failed', replyCode);
      log.warn('operation failed', { error });
      return failure(replyCode, error instanceof Error ? error.message : String(error));
    }
  }

  /** Unpauses up to `wanted` standbys of the command's spec version; returns how many woke. */
  async #wakeStandbys(command: ScaleCommand, wanted: number): Promise<number> {
    const unpause = this.#o.unpause;
    if (!unpause) return 0;
    const standbys = this.#o.driver
      .replicas(command.service)
      .filter((c) => c.status === 'paused' && c.specVersion === command.specVersion)
      .slice(0, wanted);
    const woken = await Promise.allSettled(standbys.map((c) => unpause(c.id)));
    return woken.filter((r) => r.status === 'fulfilled').length;
  }

  async #remove(id: string): Promise<void> {
    if (this.#o.stopTimeoutMs > 0) await this.#o.driver.stopReplica(id, this.#o.stopTimeoutMs);
    await this.#o.driver.removeReplica(id);
  }
}
