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
 * `<dataDir>/raft`, hear every report (the agent's report hub keeps each
 * node's last one, so a new leader starts warm; only the leader decodes them
 * all, and only it hears the heartbeats) and answer
 * `cox.<cluster>.api` (queue group): a follower forwards writes to the leader
 * on `cox.<cluster>.api.<leaderId>`. Every node, voter or client, executes
 * commands and supervises its own replicas.
 *
 * This file composes the parts; each job has its own file: raft-membership.ts
 * (the Raft node and voter changes), member-api.ts (API requests, forwarding,
 * the token check), report-intake.ts (the leader's reports; ../report-hub.ts
 * decodes them once for the whole agent), command-sender.ts
 * (commands to agents, cluster events).
 */

import { join } from 'node:path';
import {
  ClusterState,
  type Committed,
  encodeClusterCommand,
  ForecastPolicies,
  type ObservedNode,
  type RegisteredPolicy,
  ReportHub,
  ServiceHistory,
} from '@coxswain/control';
import {
  AssignmentStore,
  Executor,
  FencingStore,
  KeyedMutex,
  type StandbyOptions,
  type SupervisedDriver,
  Supervisor,
} from '@coxswain/host';
import { type CommandAuth, commandAuth, signingKeyPath } from '@coxswain/nats-link';
import {
  type AgentConfig,
  type ApiReply,
  type ApiRequest,
  type ClusterApplyResult,
  type ClusterCommandInput,
  type ClusterStateSnapshot,
  type Subjects,
  subjects as subjectsOf,
} from '@coxswain/protocol';
import type { Logger } from '@coxswain/telemetry';
import type { MsgHdrs, NatsConnection, Subscription } from 'nats';
import type { RaftNode, Status } from 'raft-consensus-ts';
import { MemberNotConnectedError, NotAVoterError } from '../errors.js';
import { CommandSender } from './command-sender.js';
import { Coordinator } from './coordinator.js';
import { ElectionSpans, ReportContexts } from './decision-tracing.js';
import type { LeaderObserver } from './leader-observer.js';
import { MemberApi } from './member-api.js';
import { type RaftTuning, startRaftNode, VoterChanges } from './raft-membership.js';
import { ReportIntake } from './report-intake.js';

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
  readonly raft?: RaftTuning;
  readonly executor?: { readonly stopTimeoutMs?: number; readonly healthTimeoutMs?: number };
  readonly supervisor?: {
    readonly checkIntervalMs?: number;
    /** Paused warm standbys per assigned service (@coxswain/host supervisor.ts); absent (the default) keeps none. */
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
  /** The leader's metrics and decision log (leader-observer.ts). */
  readonly observer?: LeaderObserver;
  /**
   * The agent's one subscription to reports, which the agent subscribes. Absent, the member
   * makes its own and subscribes it when it connects (a member run without an agent).
   */
  readonly reports?: ReportHub<MsgHdrs>;
}

const API_QUEUE = 'cox-api';
/** How long `stop()` waits for each part (operations, Raft) before it goes on without it. */
const STOP_WAIT_MS = 3000;

export class ClusterMember {
  readonly config: AgentConfig;
  readonly state = new ClusterState();
  readonly subjects: Subjects;
  readonly executor: Executor;
  readonly supervisor: Supervisor;
  readonly history = new ServiceHistory();
  /** The forecast policies' runners (one per service), kept across decisions while this node leads. */
  readonly forecast: ForecastPolicies;
  readonly #reportContexts = new ReportContexts();
  readonly #elections: ElectionSpans;
  readonly #o: LocalMemberOptions;
  readonly #log: Logger;
  readonly #observingSinceMs = performance.now();
  readonly #subscriptions: Subscription[] = [];
  readonly #intake: ReportIntake;
  /** The reports of every node, decoded once (report-hub.ts); the intake takes them while leading. */
  readonly reports: ReportHub<MsgHdrs>;
  readonly #ownsReports: boolean;
  /** Heartbeats are for the leader's liveness only: subscribed while leading. */
  #heartbeats: Subscription | undefined;
  readonly #commands: CommandSender;
  readonly #api: MemberApi;
  #raft: RaftNode | undefined;
  #coordinator: Coordinator | undefined;
  #voters: VoterChanges | undefined;
  #ncs: { readonly nc: NatsConnection; readonly raftNc: NatsConnection } | undefined;
  #stopped = false;

  private constructor(
    o: LocalMemberOptions,
    executor: Executor,
    supervisor: Supervisor,
    auth: CommandAuth,
  ) {
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
    this.#intake = new ReportIntake({
      cluster: o.config.cluster,
      history: this.history,
      contexts: this.#reportContexts,
      nodeDeadAfterMs: () => this.state.settings.nodeDeadAfterMs,
      onReport: () => this.#coordinator?.poke(),
      ...(o.onRejected ? { onRejected: o.onRejected } : {}),
    });
    this.#ownsReports = o.reports === undefined;
    this.reports =
      o.reports ??
      new ReportHub<MsgHdrs>({
        cluster: o.config.cluster,
        subject: this.subjects.reports,
        ...(o.onRejected ? { onRejected: o.onRejected } : {}),
        defer: setImmediate,
      });
    this.reports.follow(this.#intake);
    this.#commands = new CommandSender({
      nodeId: o.config.nodeId,
      subjects: this.subjects,
      nc: () => this.#nc,
      log: this.#log,
      forecast: this.forecast,
      sign: auth.sign,
      ...(o.onRejected ? { onRejected: o.onRejected } : {}),
    });
    this.#api = new MemberApi({
      config: o.config,
      subjects: this.subjects,
      state: this.state,
      log: this.#log,
      nc: () => this.#nc,
      raft: () => this.#raft,
      coordinator: () => this.#coordinator,
      voters: () => this.#voters,
      propose: (command) => this.#propose(command),
      snapshot: () => this.snapshot(),
      stopped: () => this.#stopped,
      apiTimeoutMs: o.apiTimeoutMs,
      onRejected: o.onRejected,
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
    const auth = commandAuth(o.config);
    if (auth.publicKey !== undefined)
      o.logger.info('command signing key', {
        publicKey: auth.publicKey,
        file: signingKeyPath(o.config),
        generated: auth.generated,
      });
    if (auth.authenticate === undefined)
      o.logger.warn('scale commands are not authenticated (security.voterKeys is empty)');
    const executor = new Executor({
      ...(auth.authenticate ? { authenticate: auth.authenticate } : {}),
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
      // After an absence longer than nodeDeadAfter, restore nothing until a leader confirms it.
      absence: { dir: join(dataDir, 'supervisor'), holdAfterMs: o.config.nodeDeadAfterMs },
    });
    const member = new ClusterMember(o, executor, supervisor, auth);
    // Healing first: it needs nobody, and it must run even if Raft cannot start.
    supervisor.start();
    return member;
  }

  /** Joins the cluster over NATS: answers commands, and runs Raft when this node is a voter. Once only. */
  async connect(nc: NatsConnection, raftNc: NatsConnection = nc): Promise<void> {
    if (this.#ncs || this.#stopped) return;
    this.#ncs = { nc, raftNc };
    this.executor.listen(nc, this.subjects);
    if (this.#ownsReports)
      this.#subscriptions.push(
        nc.subscribe(this.subjects.reports, {
          callback: (err, msg) => {
            if (!err) this.reports.receive(msg.subject, msg.data, msg.headers, performance.now());
          },
        }),
      );
    if (this.config.voters.includes(this.config.nodeId)) await this.#startVoter();
  }

  get #nc(): NatsConnection {
    if (!this.#ncs) throw new MemberNotConnectedError();
    return this.#ncs.nc;
  }

  /** The Raft node (voters only, once connected). */
  get raft(): RaftNode | undefined {
    return this.#raft;
  }

  /** The leader-only coordinator (voters only, once connected). */
  get coordinator(): Coordinator | undefined {
    return this.#coordinator;
  }

  get isVoter(): boolean {
    return this.#raft !== undefined;
  }

  status(): Status | undefined {
    return this.#raft?.status();
  }

  leaderId(): string | null {
    return this.#raft?.status().leader ?? null;
  }

  isLeader(): boolean {
    return this.#raft?.status().role === 'leader';
  }

  snapshot(): ClusterStateSnapshot {
    return this.state.toSnapshot();
  }

  /** Reports heard from every node, with their monotonic arrival time. */
  observed(): ReadonlyMap<string, ObservedNode> {
    return this.#intake.observed();
  }

  /** Reports this member's intake decoded and accepted since start, by the reporter's role. */
  reportsAccepted(): { readonly voter: number; readonly client: number } {
    return this.#intake.accepted;
  }

  /** Resolves once the local replica has applied everything committed when called (ReadIndex through the leader). */
  async consistentRead(): Promise<void> {
    if (!this.#raft) throw new NotAVoterError('consistent read');
    await this.#raft.readIndex();
  }

  /**
   * Handles an API request here when this node leads, else forwards it to the
   * leader (waiting out an election for up to a few seconds). Never throws.
   */
  submit(request: ApiRequest): Promise<ApiReply> {
    return this.#api.submit(request);
  }

  /** The leader's latest forecast per service (req/s); empty on a node that does not lead. */
  predictedRates(): Map<string, number> {
    return this.#coordinator?.leading ? this.forecast.predictedRates() : new Map();
  }

  async #startVoter(): Promise<void> {
    const { config } = this.#o;
    const raft = await startRaftNode({
      config,
      subjects: this.subjects,
      raftNc: this.#ncs!.raftNc,
      state: this.state,
      log: this.#log,
      tuning: this.#o.raft,
      onRejected: this.#o.onRejected,
    });
    this.#raft = raft;
    this.#voters = new VoterChanges(raft, config.nodeId, this.#log);
    this.#coordinator = this.#makeCoordinator(raft);
    raft.on('event', (e) => this.#elections.observe(e));
    raft.on('event', (e) => {
      // Announced on the won election rather than the role change: only that event knows how long the campaign took.
      if (e.type === 'election-won') {
        const took =
          e.durationMs === undefined ? '' : ` after a ${Math.round(e.durationMs)} ms election`;
        this.#commands.event('leader.elected', `${config.nodeId} leads term ${e.term}${took}`, {
          term: e.term,
          leader: config.nodeId,
          ...(e.durationMs === undefined ? {} : { electionDurationMs: Math.round(e.durationMs) }),
        });
        return;
      }
      if (e.type !== 'role-changed') return;
      if (e.to === 'leader') {
        this.#log.info('elected leader', { term: e.term });
        this.#takeReports(true);
        void this.#coordinator!.lead(e.term).then(() => this.#applyConfigSettings());
      } else if (e.from === 'leader') {
        this.#log.info('stepped down', { term: e.term });
        this.#takeReports(false);
        this.#commands.event(
          'leader.stepped_down',
          `${config.nodeId} stepped down in term ${e.term}`,
          { term: e.term },
        );
        this.#coordinator!.stop();
      }
    });
    const nc = this.#nc;
    this.#subscriptions.push(
      nc.subscribe(this.subjects.api, {
        queue: API_QUEUE,
        callback: (err, msg) => this.#api.onMessage(err, msg, true),
      }),
      nc.subscribe(`${this.subjects.api}.${config.nodeId}`, {
        callback: (err, msg) => this.#api.onMessage(err, msg, false),
      }),
    );
  }

  /**
   * A new leader decodes the last-known report of every node once and from then every report, and
   * hears the heartbeats; a follower does neither (at 1,000 hosts that is 1,000 reports and 5,000
   * heartbeats a second it would decode for nothing).
   */
  #takeReports(leading: boolean): void {
    this.#intake.lead(leading);
    if (leading) {
      this.#intake.seed(this.reports.latest().values(), performance.now());
      this.#heartbeats ??= this.#nc.subscribe(this.subjects.heartbeats, {
        callback: (err, msg) => this.#intake.handleHeartbeat(err, msg),
      });
    } else {
      this.#heartbeats?.unsubscribe();
      this.#heartbeats = undefined;
    }
  }

  #makeCoordinator(raft: RaftNode): Coordinator {
    const { config } = this.#o;
    const c = this.#o.coordinator ?? {};
    return new Coordinator({
      nodeId: config.nodeId,
      state: this.state,
      logger: this.#log.child({ component: 'coordinator' }),
      propose: (command) => this.#propose(command),
      // A new leader's first read waits for its no-op, which may first need a long
      // catch-up: no timeout (it still fails if the leader steps down).
      readIndex: () => raft.readIndex({ timeoutMs: Number.POSITIVE_INFINITY }),
      send: (nodeId, command, timeoutMs) => this.#commands.send(nodeId, command, timeoutMs),
      observed: () => this.#intake.observed(),
      history: this.history,
      observingSinceMs: this.#observingSinceMs,
      decideIntervalMs: c.decideIntervalMs ?? config.decideIntervalMs,
      ...optional('lockLeaseMs', c.lockLeaseMs ?? config.coordinator.lockLeaseMs),
      ...optional('commandTimeoutMs', c.commandTimeoutMs ?? config.coordinator.commandTimeoutMs),
      ...optional('maxClockSkewMs', config.coordinator.maxClockSkewMs),
      ...(c.reconcileGraceMs !== undefined ? { reconcileGraceMs: c.reconcileGraceMs } : {}),
      policies: c.policies ?? this.forecast.registry(),
      traceParent: (service) => this.#reportContexts.contextFor(service),
      decisionInputs: (service) => this.forecast.lastDecision(service),
      onOutcome: (service, outcome) => this.#commands.onOutcome(service, outcome),
      ...(this.#o.observer ? { observer: this.#o.observer } : {}),
      onNodeChange: (nodeId, change) =>
        this.#commands.event(
          change === 'dead' ? 'node.dead' : 'node.joined',
          `node ${nodeId} ${change}`,
          { nodeId },
        ),
    });
  }

  /** The agent config's intervals become the cluster's settings when this node leads. */
  async #applyConfigSettings(): Promise<void> {
    if (!this.#coordinator?.leading) return;
    const s = this.state.settings;
    const want = {
      decideIntervalMs: Math.round(
        this.#o.coordinator?.decideIntervalMs ?? this.config.decideIntervalMs,
      ),
      nodeDeadAfterMs: Math.round(this.config.nodeDeadAfterMs),
      ...optional(
        'lockLeaseMs',
        this.#o.coordinator?.lockLeaseMs ?? this.config.coordinator.lockLeaseMs,
      ),
    };
    const differs = Object.entries(want).some(([k, v]) => (s as Record<string, number>)[k] !== v);
    if (!differs) return;
    try {
      await this.#propose({ type: 'settings.set', at: this.state.clockMs, settings: want });
    } catch (error) {
      this.#log.warn('could not commit settings', { error });
    }
  }

  async #propose(command: ClusterCommandInput): Promise<Committed> {
    if (!this.#raft) throw new NotAVoterError('propose');
    const committed = await this.#raft.propose(encodeClusterCommand(command));
    return { index: committed.index, result: committed.result as ClusterApplyResult };
  }

  /**
   * Stops leading, Raft, the executor and the supervisor. The NATS connection stays open (the
   * agent owns it). Bounded: without a quorum an operation's proposal never commits, so running
   * operations get `STOP_WAIT_MS`, then Raft stops (which fails what is still pending).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#intake.close();
    if (this.#ownsReports) this.reports.close();
    this.#heartbeats?.unsubscribe();
    this.#coordinator?.stop();
    this.#elections.close();
    for (const s of this.#subscriptions) s.unsubscribe();
    await this.#within(this.executor.close(), 'the executor');
    this.supervisor.stop();
    if (this.#coordinator) await this.#within(this.#coordinator.idle(), 'running operations');
    if (this.#raft) await this.#within(this.#raft.stop(), 'raft');
  }

  async #within(work: Promise<unknown>, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_WAIT_MS);
    });
    const ended = await Promise.race([work.then(() => 'done' as const), late]).catch(
      (error: unknown) => {
        this.#log.warn('stopping failed', { what, error });
        return 'done' as const;
      },
    );
    clearTimeout(timer);
    if (ended === 'late')
      this.#log.warn('stopping without waiting longer', { what, waitedMs: STOP_WAIT_MS });
  }
}

/** `{ [key]: value }` when value is set, else `{}` (exactOptionalPropertyTypes). */
function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}
