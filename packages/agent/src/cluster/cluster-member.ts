/**
 * An agent's membership in the cluster: wires the Raft node (voters only),
 * the replicated state, the leader-only coordinator, the executor, the
 * supervisor and the API request handling onto one NATS connection.
 *
 *   const member = await ClusterMember.start({ config, nc, driver, logger });
 *   member.submit({ v: 1, op: 'service.apply', token, spec });   // from anywhere: forwarded to the leader
 *   await member.stop();
 *
 * Voters (listed in `config.voters`) run Raft over NATS with a file WAL under
 * `<dataDir>/raft`, hear every report (so a new leader starts warm) and answer
 * `cox.<cluster>.api` (queue group): a follower forwards writes to the leader
 * on `cox.<cluster>.api.<leaderId>`. Every node, voter or client, executes
 * commands and supervises its own replicas.
 */
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { Committed, LockedOutcome, ObservedNode, RegisteredPolicy } from '@coxswain/control';
import {
  ClusterState,
  encodeClusterCommand,
  ForecastPolicies,
  ServiceHistory,
} from '@coxswain/control';
import {
  type AgentConfig,
  ApiReply,
  ApiRequest,
  type ClusterApplyResult,
  type ClusterCommandInput,
  ClusterEvent,
  type ClusterEventType,
  type ClusterStateSnapshot,
  decode,
  encode,
  MAX_REPORT_BYTES,
  NodeReport,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  type Subjects,
  subjects as subjectsOf,
} from '@coxswain/protocol';
import { requestTraced, withConsumerSpan } from '@coxswain/telemetry';
import type { Msg, NatsConnection, Subscription } from 'nats';
import {
  type Entry,
  FileStorage,
  LearnerNotCaughtUpError,
  NotLeaderError,
  RaftNode,
  type RaftTransport,
  type Snapshot,
  type StateMachine,
  type Status,
} from 'raft-consensus-ts';
import { NatsTransport } from 'raft-consensus-ts/nats';
import { Executor } from '../executor.js';
import { FencingStore } from '../fencing-store.js';
import type { Logger } from '../logger.js';
import { type StandbyOptions, type SupervisedDriver, Supervisor } from '../supervisor.js';
import { AssignmentStore } from './assignment-store.js';
import { Coordinator } from './coordinator.js';
import { ElectionSpans, ReportContexts } from './decision-tracing.js';
import { KeyedMutex } from './keyed-mutex.js';

export interface ClusterMemberOptions extends LocalMemberOptions {
  /** The agent's NATS connection: commands, reports, API, events. */
  readonly nc: NatsConnection;
  /** Raft traffic's connection; defaults to `nc`. A separate one lets a test cut Raft alone. */
  readonly raftNc?: NatsConnection;
}

export interface LocalMemberOptions {
  readonly config: AgentConfig;
  readonly driver: SupervisedDriver;
  readonly logger: Logger;
  /** Counts dropped inbound payloads (the agent's `coxswain_rejected_messages_total`). */
  readonly onRejected?: (subject: string, reason: string) => void;
  readonly raft?: {
    readonly tickMs?: number;
    readonly electionTicks?: number;
    readonly snapshotEvery?: number;
    /** Wraps the NATS transport (tests cut Raft traffic with it). */
    readonly wrapTransport?: (transport: RaftTransport) => RaftTransport;
  };
  readonly executor?: { readonly stopTimeoutMs?: number; readonly healthTimeoutMs?: number };
  readonly supervisor?: {
    readonly checkIntervalMs?: number;
    /** Paused warm standbys per assigned service (supervisor.ts); absent (the default) keeps none. */
    readonly standby?: StandbyOptions;
  };
  readonly coordinator?: {
    readonly decideIntervalMs?: number;
    readonly lockLeaseMs?: number;
    readonly commandTimeoutMs?: number;
    readonly reconcileGraceMs?: number;
    readonly policies?: ReadonlyMap<string, RegisteredPolicy>;
  };
  /** How long a forwarded API request may take (manual scaling waits for its operation). */
  readonly apiTimeoutMs?: number;
}

const API_QUEUE = 'cox-api';

function tokenMatches(expected: string | undefined, given: string | undefined): boolean {
  if (expected === undefined || given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class ClusterMember {
  readonly config: AgentConfig;
  readonly state = new ClusterState();
  readonly subjects: Subjects;
  readonly executor: Executor;
  readonly supervisor: Supervisor;
  readonly history = new ServiceHistory();
  /** The leader's scaling policies (forecast-policies.ts): one runner per service, the predicted rates. */
  readonly forecast: ForecastPolicies;
  /** Command ids already announced as `command.issued` (bounded; oldest forgotten first). */
  readonly #issuedIds = new Set<string>();
  readonly #reportContexts = new ReportContexts();
  readonly #elections: ElectionSpans;
  raft: RaftNode | undefined;
  coordinator: Coordinator | undefined;
  readonly #o: LocalMemberOptions;
  #ncs: { readonly nc: NatsConnection; readonly raftNc: NatsConnection } | undefined;
  readonly #observed = new Map<string, ObservedNode>();
  readonly #subscriptions: Subscription[] = [];
  readonly #observingSinceMs = performance.now();
  readonly #log: Logger;
  #stopped = false;

  private constructor(o: LocalMemberOptions, executor: Executor, supervisor: Supervisor) {
    this.#o = o;
    this.config = o.config;
    this.subjects = subjectsOf(o.config.cluster);
    this.executor = executor;
    this.supervisor = supervisor;
    this.#log = o.logger.child({ component: 'cluster' });
    this.#elections = new ElectionSpans(o.config.nodeId);
    this.forecast = new ForecastPolicies({
      services: this.state,
      now: Date.now,
      decideIntervalMs: () => this.state.settings.decideIntervalMs,
      onInvalid: (failure) => {
        this.#log.warn('scaling policy refused; the service keeps its count', { ...failure });
        o.onRejected?.('service.policy', failure.code);
      },
    });
  }

  /** Starts the local parts and joins the cluster on `o.nc` (see startLocal and connect). */
  static async start(o: ClusterMemberOptions): Promise<ClusterMember> {
    const member = await ClusterMember.startLocal(o);
    await member.connect(o.nc, o.raftNc);
    return member;
  }

  /**
   * Starts what needs no network: the stores and the supervisor, so an agent
   * that cannot reach NATS still keeps its assigned replicas running (static
   * stability). `connect` adds the executor, Raft and the coordinator.
   */
  static async startLocal(o: LocalMemberOptions): Promise<ClusterMember> {
    const dataDir = o.config.dataDir;
    const fencing = await FencingStore.open(join(dataDir, 'fencing'));
    const assignments = await AssignmentStore.open(join(dataDir, 'assignments'), (message) =>
      o.logger.warn('assignment store unreadable; starting empty', { error: message }),
    );
    const mutex = new KeyedMutex();
    const executor = new Executor({
      nodeId: o.config.nodeId,
      driver: o.driver,
      fencing,
      assignments,
      mutex,
      logger: o.logger.child({ component: 'executor' }),
      ...(o.executor?.stopTimeoutMs !== undefined
        ? { stopTimeoutMs: o.executor.stopTimeoutMs }
        : {}),
      ...(o.executor?.healthTimeoutMs !== undefined
        ? { healthTimeoutMs: o.executor.healthTimeoutMs }
        : {}),
      ...(o.supervisor?.standby ? { unpause: o.supervisor.standby.unpause } : {}),
      onRejected: (reason) =>
        o.onRejected?.(subjectsOf(o.config.cluster).cmd(o.config.nodeId), reason),
    });
    const supervisor = new Supervisor({
      driver: o.driver,
      assignments,
      mutex,
      logger: o.logger.child({ component: 'supervisor' }),
      ...(o.supervisor?.checkIntervalMs !== undefined
        ? { checkIntervalMs: o.supervisor.checkIntervalMs }
        : {}),
      ...(o.supervisor?.standby ? { standby: o.supervisor.standby } : {}),
    });
    const member = new ClusterMember(o, executor, supervisor);
    // Healing first: it needs nobody, and it must run even if Raft cannot start.
    supervisor.start();
    return member;
  }

  /** Joins the cluster over NATS: answers commands, and runs Raft when this node is a voter. Once only. */
  async connect(nc: NatsConnection, raftNc: NatsConnection = nc): Promise<void> {
    if (this.#ncs || this.#stopped) return;
    this.#ncs = { nc, raftNc };
    this.executor.listen(nc, this.subjects);
    if (this.config.voters.includes(this.config.nodeId)) await this.#startVoter();
  }

  get #nc(): NatsConnection {
    if (!this.#ncs) throw new Error('cluster member not connected to NATS yet');
    return this.#ncs.nc;
  }

  get isVoter(): boolean {
    return this.raft !== undefined;
  }

  status(): Status | undefined {
    return this.raft?.status();
  }

  leaderId(): string | null {
    return this.raft?.status().leader ?? null;
  }

  isLeader(): boolean {
    return this.raft?.status().role === 'leader';
  }

  snapshot(): ClusterStateSnapshot {
    return this.state.toSnapshot();
  }

  /** Reports heard from every node, with their monotonic arrival time. */
  observed(): ReadonlyMap<string, ObservedNode> {
    return this.#observed;
  }

  /** Resolves once the local replica has applied everything committed when called (ReadIndex through the leader). */
  async consistentRead(): Promise<void> {
    if (!this.raft) throw new Error('not a voter: no local replica');
    await this.raft.readIndex();
  }

  async #startVoter(): Promise<void> {
    const { config } = this.#o;
    const sm: StateMachine = {
      apply: (entry: Entry) => this.state.applyEntry(entry),
      snapshot: () => this.state.snapshot(),
      restore: (snapshot: Snapshot) => this.state.restore(snapshot.data),
    };
    const natsTransport = new NatsTransport({
      connection: this.#ncs!.raftNc,
      nodeId: config.nodeId,
      subjectPrefix: `${this.subjects.prefix}.raft`,
      onDrop: (reason) =>
        this.#o.onRejected?.(`${this.subjects.prefix}.raft.${config.nodeId}`, reason),
    });
    const transport = this.#o.raft?.wrapTransport
      ? this.#o.raft.wrapTransport(natsTransport)
      : natsTransport;
    this.raft = await RaftNode.start({
      id: config.nodeId,
      storage: new FileStorage({ dir: join(config.dataDir, 'raft') }),
      transport,
      stateMachine: sm,
      // A joining node learns the membership from the leader's config entries;
      // bootstrapping it would make it a rival group of its own.
      ...(config.join ? {} : { bootstrap: { voters: [...config.voters], learners: [] } }),
      ...(this.#o.raft?.tickMs !== undefined ? { tickMs: this.#o.raft.tickMs } : {}),
      ...(this.#o.raft?.electionTicks !== undefined
        ? { config: { electionTicks: this.#o.raft.electionTicks } }
        : {}),
      ...(this.#o.raft?.snapshotEvery !== undefined
        ? { snapshotEvery: this.#o.raft.snapshotEvery }
        : {}),
      onError: (error) => this.#log.error('raft failure', { error }),
    });
    const c = this.#o.coordinator ?? {};
    this.coordinator = new Coordinator({
      nodeId: config.nodeId,
      state: this.state,
      logger: this.#log.child({ component: 'coordinator' }),
      propose: (command) => this.#propose(command),
      readIndex: () => this.raft!.readIndex(),
      send: (nodeId, command, timeoutMs) => this.#send(nodeId, command, timeoutMs),
      observed: () => this.#observed,
      history: this.history,
      observingSinceMs: this.#observingSinceMs,
      decideIntervalMs: c.decideIntervalMs ?? config.decideIntervalMs,
      ...(c.lockLeaseMs !== undefined ? { lockLeaseMs: c.lockLeaseMs } : {}),
      ...(c.commandTimeoutMs !== undefined ? { commandTimeoutMs: c.commandTimeoutMs } : {}),
      ...(c.reconcileGraceMs !== undefined ? { reconcileGraceMs: c.reconcileGraceMs } : {}),
      policies: c.policies ?? this.forecast.registry(),
      traceParent: (service) => this.#reportContexts.contextFor(service),
      decisionInputs: (service) => this.forecast.lastDecision(service),
      onOutcome: (service, outcome) => this.#onOutcome(service, outcome),
      onNodeChange: (nodeId, change) =>
        this.#event(change === 'dead' ? 'node.dead' : 'node.joined', `node ${nodeId} ${change}`, {
          nodeId,
        }),
    });
    this.raft.on('event', (e) => this.#elections.observe(e));
    this.raft.on('event', (e) => {
      // Announced on the won election rather than the role change: only that event knows how long the campaign took.
      if (e.type === 'election-won') {
        const took =
          e.durationMs === undefined ? '' : ` after a ${Math.round(e.durationMs)} ms election`;
        this.#event('leader.elected', `${config.nodeId} leads term ${e.term}${took}`, {
          term: e.term,
          leader: config.nodeId,
          ...(e.durationMs === undefined ? {} : { electionDurationMs: Math.round(e.durationMs) }),
        });
        return;
      }
      if (e.type !== 'role-changed') return;
      if (e.to === 'leader') {
        this.#log.info('elected leader', { term: e.term });
        void this.coordinator!.lead(e.term).then(() => this.#applyConfigSettings());
      } else if (e.from === 'leader') {
        this.#log.info('stepped down', { term: e.term });
        this.#event('leader.stepped_down', `${config.nodeId} stepped down in term ${e.term}`, {
          term: e.term,
        });
        this.coordinator!.stop();
      }
    });
    const nc = this.#nc;
    this.#subscriptions.push(
      nc.subscribe(this.subjects.reports, { callback: (err, msg) => this.#onReport(err, msg) }),
      nc.subscribe(this.subjects.api, {
        queue: API_QUEUE,
        callback: (err, msg) => this.#onApi(err, msg, true),
      }),
      nc.subscribe(`${this.subjects.api}.${config.nodeId}`, {
        callback: (err, msg) => this.#onApi(err, msg, false),
      }),
    );
  }

  /** The agent config's intervals become the cluster's settings when this node leads. */
  async #applyConfigSettings(): Promise<void> {
    if (!this.coordinator?.leading) return;
    const s = this.state.settings;
    const want = {
      decideIntervalMs: Math.round(
        this.#o.coordinator?.decideIntervalMs ?? this.config.decideIntervalMs,
      ),
      nodeDeadAfterMs: Math.round(this.config.nodeDeadAfterMs),
      ...(this.#o.coordinator?.lockLeaseMs !== undefined
        ? { lockLeaseMs: this.#o.coordinator.lockLeaseMs }
        : {}),
    };
    const differs = Object.entries(want).some(([k, v]) => (s as Record<string, number>)[k] !== v);
    if (!differs) return;
    try {
      await this.#propose({ type: 'settings.set', at: this.state.clockMs, settings: want });
    } catch (error) {
      this.#log.warn('could not commit settings', { error });
    }
  }

  #onReport(err: Error | null, msg: Msg): void {
    if (err || this.#stopped) return;
    const decoded = decode(NodeReport, msg.data, {
      where: msg.subject,
      maxBytes: MAX_REPORT_BYTES,
    });
    if (!decoded.ok) {
      this.#o.onRejected?.(this.subjects.reports, decoded.error.code);
      return;
    }
    const report = decoded.value;
    if (report.cluster !== this.config.cluster) return;
    const now = performance.now();
    this.#reportContexts.observe(report, msg.headers);
    this.#observed.set(report.nodeId, { report, receivedAtMs: now });
    this.history.record(this.#observed, now, this.state.settings.nodeDeadAfterMs);
    this.coordinator?.poke();
  }

  async #propose(command: ClusterCommandInput): Promise<Committed> {
    if (!this.raft) throw new Error('not a voter');
    const committed = await this.raft.propose(encodeClusterCommand(command));
    return { index: committed.index, result: committed.result as ClusterApplyResult };
  }

  /**
   * A voter declared removed for good leaves the Raft group too, so the quorum
   * is counted over the voters that still exist (a lost voter otherwise counts
   * against every future majority). One change at a time, as the core requires.
   */
  async #dropVoter(nodeId: string): Promise<void> {
    const membership = this.raft?.status().membership;
    if (!membership) return;
    if (!membership.voters.includes(nodeId) && !membership.learners.includes(nodeId)) return;
    // A leader removing itself is left to an operator asking another node.
    if (nodeId === this.config.nodeId) return;
    await this.raft!.changeMembership({ type: 'removeNode', node: nodeId });
    this.#log.info('removed from the Raft group', { nodeId });
  }

  /**
   * Adds a node as a learner first so it catches up without counting toward
   * quorum, then promotes it; the core refuses promotion until the learner is
   * close to the leader's log, so promotion is retried for a bounded time.
   */
  async #addVoter(nodeId: string): Promise<ApiReply> {
    const raft = this.raft!;
    const membership = raft.status().membership;
    if (membership.voters.includes(nodeId)) return this.#ok({});
    if (!membership.learners.includes(nodeId)) {
      await raft.changeMembership({ type: 'addLearner', node: nodeId });
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await raft.changeMembership({ type: 'promoteLearner', node: nodeId });
        this.#log.info('added to the Raft group as a voter', { nodeId });
        return this.#ok({});
      } catch (error) {
        if (!(error instanceof LearnerNotCaughtUpError)) throw error;
        if (Date.now() >= deadline) {
          return this.#error(
            'COX_TIMEOUT',
            `node ${nodeId} is a learner but did not catch up within 20 s; is it running with join?`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async #send(nodeId: string, command: ScaleCommand, timeoutMs: number): Promise<ScaleReply> {
    // Retries reuse the command id; watchers hear about a command once.
    if (!this.#issuedIds.has(command.id)) {
      this.#issuedIds.add(command.id);
      if (this.#issuedIds.size > 1000)
        this.#issuedIds.delete(this.#issuedIds.values().next().value!);
      this.#event(
        'command.issued',
        `${command.service}: ${nodeId} to run ${command.replicas} (token ${command.token}, term ${command.term})`,
        {
          service: command.service,
          nodeId,
          id: command.id,
          replicas: command.replicas,
          token: command.token,
          term: command.term,
        },
      );
    }
    const reply = await requestTraced(
      this.#nc,
      this.subjects.cmd(nodeId),
      encode(ScaleCommand, command),
      {
        timeout: timeoutMs,
      },
    );
    const decoded = decode(ScaleReply, reply.data, { where: `reply from ${nodeId}` });
    if (!decoded.ok) {
      this.#o.onRejected?.(`reply ${this.subjects.cmd(nodeId)}`, decoded.error.code);
      throw decoded.error;
    }
    return decoded.value;
  }

  #onOutcome(service: string, outcome: LockedOutcome): void {
    switch (outcome.status) {
      case 'done':
        for (const r of outcome.replies) this.forecast.observeReply(service, r);
        if (outcome.replies.length > 0 || outcome.failed > 0) {
          this.#log.info('operation done', {
            service,
            token: outcome.token,
            failed: outcome.failed,
          });
          this.#event('command.done', `${service}: operation ${outcome.token} done`, {
            service,
            token: outcome.token,
            failed: outcome.failed,
          });
        }
        for (const r of outcome.replies) {
          if (!r.ok && r.code === 'COX_STALE_TOKEN') {
            this.#event(
              'command.refused',
              `${service}: ${r.nodeId} refused token ${outcome.token}`,
              { service, nodeId: r.nodeId },
            );
          }
        }
        return;
      case 'aborted':
        this.#log.warn('operation aborted', { service, error: outcome.error });
        return;
      case 'refused':
        this.#log.warn('operation refused by the state machine', {
          service,
          code: outcome.code,
          message: outcome.message,
        });
        return;
      default:
        return;
    }
  }

  /** The leader's latest forecast per service (req/s); empty on a node that does not lead. */
  predictedRates(): Map<string, number> {
    return this.coordinator?.leading ? this.forecast.predictedRates() : new Map();
  }

  #event(type: ClusterEventType, message: string, data: Record<string, unknown>): void {
    try {
      this.#nc.publish(
        this.subjects.events,
        encode(ClusterEvent, {
          v: PROTOCOL_VERSION,
          type,
          time: Date.now(),
          nodeId: this.config.nodeId,
          message,
          data,
        }),
      );
    } catch {
      // A closed connection loses the event; events are best-effort by design.
    }
  }

  // ------------------------------------------------------------------ API

  #onApi(err: Error | null, msg: Msg, viaQueue: boolean): void {
    if (err || this.#stopped) return;
    const decoded = decode(ApiRequest, msg.data, { where: msg.subject });
    if (!decoded.ok) {
      this.#o.onRejected?.(this.subjects.api, decoded.error.code);
      this.#respond(msg, this.#error('COX_INVALID_PAYLOAD', decoded.error.message));
      return;
    }
    void withConsumerSpan(msg, `coxswain.api ${decoded.value.op}`, async () => {
      const reply = viaQueue
        ? await this.submit(decoded.value)
        : await this.#handleAsLeader(decoded.value);
      this.#respond(msg, reply);
    }).catch((error: unknown) => {
      this.#log.error('api handler failed', { error });
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
      this.#log.warn('could not answer an API request', { error });
    }
  }

  #error(code: Extract<ApiReply, { ok: false }>['code'], message: string): ApiReply {
    return { v: PROTOCOL_VERSION, ok: false, servedBy: this.config.nodeId, code, message };
  }

  #ok(extra: { specVersion?: number; state?: ClusterStateSnapshot } = {}): ApiReply {
    return {
      v: PROTOCOL_VERSION,
      ok: true,
      servedBy: this.config.nodeId,
      leaderId: this.leaderId(),
      ...extra,
    };
  }

  /**
   * Handles an API request here when this node leads, else forwards it to the
   * leader (waiting out an election for up to a few seconds). Never throws.
   */
  async submit(request: ApiRequest): Promise<ApiReply> {
    if (request.op === 'state.get' && this.raft) return this.#ok({ state: this.snapshot() });
    const deadline = performance.now() + (this.#o.apiTimeoutMs ?? 30_000);
    for (;;) {
      if (this.isLeader()) {
        const reply = await this.#handleAsLeader(request);
        if (reply.ok || reply.code !== 'COX_NOT_LEADER') return reply;
      } else {
        const leader = this.leaderId();
        const subject = this.raft
          ? leader
            ? `${this.subjects.api}.${leader}`
            : undefined
          : this.subjects.api;
        if (subject) {
          try {
            const remaining = Math.max(100, deadline - performance.now());
            const msg = await requestTraced(this.#nc, subject, encode(ApiRequest, request), {
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
    if (!this.raft || !this.isLeader() || !this.coordinator?.leading) {
      return this.#error(
        'COX_NOT_LEADER',
        `not the leader; leader is ${this.leaderId() ?? 'unknown'}`,
      );
    }
    if (request.op === 'state.get') {
      await this.raft.readIndex();
      return this.#ok({ state: this.snapshot() });
    }
    if (this.config.api.token === undefined) {
      return this.#error(
        'COX_UNAUTHORIZED',
        'writes are refused: the leader has no api.token configured',
      );
    }
    if (!tokenMatches(this.config.api.token, request.token)) {
      return this.#error('COX_UNAUTHORIZED', 'missing or wrong API token');
    }
    const at = this.state.clockMs;
    try {
      switch (request.op) {
        case 'service.apply': {
          const r = await this.#propose({ type: 'service.put', at, spec: request.spec });
          this.coordinator.poke();
          return this.#fromResult(
            r.result,
            r.result.ok
              ? { ...(r.result.specVersion ? { specVersion: r.result.specVersion } : {}) }
              : {},
          );
        }
        case 'service.delete': {
          const r = await this.#propose({ type: 'service.delete', at, name: request.name });
          this.coordinator.poke();
          return this.#fromResult(r.result);
        }
        case 'node.declare': {
          const r = await this.#propose({
            type: 'node.declare',
            at,
            nodeId: request.nodeId,
            state: request.state,
          });
          if (r.result.ok && request.state === 'removed') await this.#dropVoter(request.nodeId);
          return this.#fromResult(r.result);
        }
        case 'node.addVoter': {
          return await this.#addVoter(request.nodeId);
        }
        case 'service.scale': {
          const service = this.state.service(request.name);
          if (!service || service.deleted)
            return this.#error('COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(request.name)}`);
          const outcome = await this.coordinator.manualScale(request.name, request.replicas);
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
      }
    } catch (error) {
      if (error instanceof NotLeaderError) return this.#error('COX_NOT_LEADER', error.message);
      throw error;
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

  /** Stops leading, Raft, the executor and the supervisor. The NATS connection stays open (the agent owns it). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.coordinator?.stop();
    this.#elections.close();
    for (const s of this.#subscriptions) s.unsubscribe();
    await this.executor.close();
    this.supervisor.stop();
    await this.coordinator?.idle();
    await this.raft?.stop();
  }
}
