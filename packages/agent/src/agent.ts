/**
 * The agent's composition root: wires the Docker driver, the stats collector,
 * the sampler, the NATS link and reporter, the peers' reports (one
 * subscription, report-hub.ts) and the HTTP server, and runs the
 * sample-and-report loop. Signals are handled by the CLI
 * (`coxswain agent`), which calls `stop()`.
 *
 * Static stability: neither NATS nor Docker being down stops the agent from
 * starting. It keeps retrying both, reports `dockerReachable: false` or drops
 * reports (counted) meanwhile, and /readyz says which is missing.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ReportHub } from '@coxswain/control';
import { ContainerStatsCollector, DockerDriver, engineStandby, Sampler } from '@coxswain/host';
import { NatsLink, natsSecurityOptions } from '@coxswain/nats-link';
import { type AgentConfig, type NodeReport, subjects } from '@coxswain/protocol';
import {
  activeTelemetry,
  type Counter,
  createLogger,
  type Histogram,
  type Logger,
  LogLimiter,
  MetricsRegistry,
  recentSpansResponse,
  startTelemetry,
  type Telemetry,
  traceHeaders,
} from '@coxswain/telemetry';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { MsgHdrs } from 'nats';
import { runningByService } from './api/cluster-api.js';
import { type MountedClusterApi, mountClusterApi } from './api/mount-cluster-api.js';
import { ClusterMember, type LocalMemberOptions } from './cluster/cluster-member.js';
import { LeaderObserver } from './cluster/leader-observer.js';
import { raftHealth, registerClusterMetrics, rejectedLabels } from './cluster-metrics.js';
import { Heartbeat } from './heartbeat.js';
import { HttpServer, json, text } from './http-server.js';
import { Reporter } from './reporter.js';

/**
 * Taken at each use, not when the module loads: a tracer taken before this
 * process's telemetry starts (or before an earlier SDK in the same process was
 * shut down) stays bound to that provider and records nothing.
 */
const tracer = () => trace.getTracer('coxswain-agent');

export interface AgentStartOptions {
  readonly logger?: Logger;
  /** How long start() waits for the first NATS connection before going on without it. */
  readonly waitForNatsMs?: number;
  /**
   * The cluster member (supervisor at once; executor, Raft, coordinator and the
   * cluster API once NATS connects). On by default; `false` for tests that run
   * their own ClusterMember beside the agent; an object tunes it.
   */
  readonly cluster?: boolean | Partial<Omit<LocalMemberOptions, 'config' | 'driver' | 'logger'>>;
}

export interface PeerReport {
  readonly report: NodeReport;
  /** performance.now() when it arrived: ages are measured on the monotonic clock. */
  readonly receivedAtMs: number;
}

/**
 * Adds the leader's predicted rates to a report. A service this node runs no
 * replica of still gets an entry (count 0), or the forecast would reach the
 * API only for services that happen to run on the leader's host.
 */
export function withPredictedRates(
  report: NodeReport,
  predicted: ReadonlyMap<string, number> | undefined,
): NodeReport {
  if (!predicted || predicted.size === 0) return report;
  const services = { ...report.services };
  for (const [name, rate] of predicted) {
    if (!Number.isFinite(rate) || rate < 0) continue;
    services[name] = {
      ...(services[name] ?? { time: report.time, containerCount: 0 }),
      predictedRequestRatePerSecond: rate,
    };
  }
  return { ...report, services };
}

export class Agent {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly metrics = new MetricsRegistry();
  /** The leader's decision log and its histograms (leader-observer.ts). */
  readonly observer = new LeaderObserver(this.metrics);
  readonly driver: DockerDriver;
  readonly stats: ContainerStatsCollector;
  readonly sampler: Sampler;
  readonly link: NatsLink;
  readonly reporter: Reporter;
  readonly heartbeat: Heartbeat;
  readonly http: HttpServer;
  /** Every node's reports on one subscription, decoded once and only where used (report-hub.ts). */
  readonly reports: ReportHub<MsgHdrs>;
  /** Shared by every validated subscription; the coordinator passes it to its own. */
  readonly rejected: Counter;
  readonly rateLimitedLog = new LogLimiter();
  /**
   * The leader's forecast per service (req/s), put into this node's reports as
   * the ninth figure so every node's API shows it; set by whoever runs the
   * cluster member next to this agent (`() => member.predictedRates()`).
   */
  predictedRates: (() => ReadonlyMap<string, number>) | undefined;
  /** This node's cluster member, unless started with `cluster: false`. */
  member: ClusterMember | undefined;
  #clusterApi: MountedClusterApi | undefined;
  #memberJoining: Promise<void> | undefined;
  #lastReport: NodeReport | undefined;
  /** Set when this agent started the process's telemetry, and so must shut it down. */
  #telemetry: Telemetry | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #cycle: Promise<void> | undefined;
  #nextAtMs = 0;
  readonly #sampleDuration: Histogram;
  readonly #sampleFailures: Counter;

  private constructor(config: AgentConfig, options: AgentStartOptions) {
    this.config = config;
    this.logger = (
      options.logger ?? createLogger({ level: config.log.level, format: config.log.format })
    ).child({
      node: config.nodeId,
    });
    const m = this.metrics;
    this.rejected = m.counter(
      'coxswain_rejected_messages_total',
      'NATS messages dropped because they failed their schema.',
      ['reason', 'subject'],
      rejectedLabels,
    );
    const published = m.counter('coxswain_reports_published_total', 'Node reports published.');
    const dropped = m.counter(
      'coxswain_reports_dropped_total',
      'Node reports not published, by reason (disconnected, too_large, error; containers_trimmed = sent without the container list).',
      ['reason'],
    );
    this.#sampleFailures = m.counter(
      'coxswain_sample_failures_total',
      'Sample cycles that failed.',
    );
    this.#sampleDuration = m.histogram(
      'coxswain_sample_duration_seconds',
      'Time to sample every container and build the report.',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    );
    this.driver = new DockerDriver({
      socketPath: config.docker.socketPath,
      cluster: config.cluster,
      nodeId: config.nodeId,
      logger: this.logger,
    });
    this.stats = ContainerStatsCollector.forHost(this.driver.docker);
    this.sampler = new Sampler({
      config,
      driver: this.driver,
      stats: this.stats,
      logger: this.logger,
    });
    this.link = new NatsLink({
      servers: config.nats.servers,
      name: `coxswain-agent-${config.nodeId}`,
      ...natsSecurityOptions(config.nats),
      logger: this.logger,
    });
    this.reporter = new Reporter({
      link: this.link,
      config,
      counters: { published, dropped },
      logger: this.logger,
      // The sample-and-report span's context rides with each report.
      headers: traceHeaders,
    });
    this.heartbeat = new Heartbeat({
      link: this.link,
      cluster: config.cluster,
      nodeId: config.nodeId,
      intervalMs: config.heartbeatIntervalMs,
      sent: m.counter('coxswain_heartbeats_total', 'Liveness heartbeats, by outcome.', ['outcome']),
    });
    this.http = new HttpServer({ host: config.api.host, port: config.api.port });
    const reportsSubject = subjects(config.cluster).reports;
    this.reports = new ReportHub<MsgHdrs>({
      cluster: config.cluster,
      subject: reportsSubject,
      onRejected: (subject, reason) => this.#rejectReport(subject, reason),
      // The leader decodes in bounded turns, so Raft's ticks run between them (report-hub.ts).
      defer: setImmediate,
    });
    this.#registerMetrics();
    this.#registerRoutes();
  }

  /** Starts everything; resolves once the HTTP server listens. NATS or Docker may still be connecting. */
  static async start(config: AgentConfig, options: AgentStartOptions = {}): Promise<Agent> {
    const agent = new Agent(config, options);
    await agent.#start(options);
    return agent;
  }

  async #start(options: AgentStartOptions): Promise<void> {
    // Before any span is made. OTel allows one SDK per process: a second agent in
    // the same process (tests) shares the first one's and leaves its shutdown to it.
    if (activeTelemetry() === undefined) {
      this.#telemetry = await startTelemetry({
        serviceName: 'coxswain-agent',
        cluster: this.config.cluster,
        nodeId: this.config.nodeId,
        host: hostname(),
        log: this.logger,
        ...(this.config.telemetry.spanRingSize !== undefined
          ? { ringSize: this.config.telemetry.spanRingSize }
          : {}),
      });
    }
    const dockerUp = await this.driver.start({ retry: true });
    if (!dockerUp)
      this.logger.warn('Docker engine unreachable; retrying in the background', {
        socket: this.config.docker.socketPath,
        error: this.driver.lastError,
      });
    if (options.cluster !== false) {
      const countOnce = (subject: string, reason: string): void =>
        this.rejected.inc({ subject, reason });
      // Before NATS: the supervisor keeps assigned replicas running even with no network (static stability).
      const given = typeof options.cluster === 'object' ? options.cluster : {};
      const member = await ClusterMember.startLocal({
        config: this.config,
        driver: this.driver,
        logger: this.logger,
        onRejected: countOnce,
        observer: this.observer,
        reports: this.reports,
        ...given,
        // Pausing always works, so a leader's warm pool is kept; no standbys of the agent's own.
        supervisor: { standby: engineStandby(this.driver.docker), ...given.supervisor },
      });
      this.member = member;
      const leaderChanged = this.#registerClusterMetrics(member);
      this.predictedRates ??= () => member.predictedRates();
      this.link.onFirstConnect((nc) => {
        this.#memberJoining = member.connect(nc).then(
          () => {
            member.raft?.on('event', (e) => {
              if (e.type === 'leader-changed') leaderChanged();
            });
            this.#clusterApi = mountClusterApi({
              router: this.http.router,
              member,
              nc,
              config: this.config,
              logger: this.logger,
              onRejected: countOnce,
              apiRejected: this.metrics.counter(
                'coxswain_api_rejected_total',
                'API requests refused, by route and error code.',
                ['route', 'code'],
              ),
              decisions: (service, limit) => this.observer.decisions.recent(service, limit),
              health: () => this.health(),
            });
          },
          (error: unknown) => this.logger.error('cluster member could not join', { error }),
        );
      });
    }
    this.link.onFirstConnect((nc) => {
      // This node's own report too: the leader places replicas on its own host from it.
      nc.subscribe(subjects(this.config.cluster).reports, {
        callback: (err, msg) => {
          if (err) this.logger.warn('report subscription error', { error: err });
          else this.reports.receive(msg.subject, msg.data, msg.headers, performance.now());
        },
      });
    });
    const natsUp = await this.link.start(options.waitForNatsMs ?? 5000);
    if (!natsUp)
      this.logger.warn('NATS not reachable yet; reports are dropped until it is', {
        servers: this.config.nats.servers,
      });
    const port = await this.http.listen();
    this.logger.info('agent started', {
      apiPort: port,
      cluster: this.config.cluster,
      sampleIntervalMs: this.config.sampleIntervalMs,
    });
    this.#running = true;
    this.heartbeat.start();
    this.#nextAtMs = performance.now();
    this.#schedule();
  }

  /** Next cycle on a fixed monotonic grid; a slow cycle skips slots instead of piling up. */
  #schedule(): void {
    if (!this.#running) return;
    const interval = this.config.sampleIntervalMs;
    const now = performance.now();
    this.#nextAtMs += interval;
    if (this.#nextAtMs < now) this.#nextAtMs = now + interval - ((now - this.#nextAtMs) % interval);
    this.#timer = setTimeout(
      () => {
        this.#cycle = this.sampleAndReport().finally(() => {
          this.#cycle = undefined;
          this.#schedule();
        });
      },
      Math.max(0, this.#nextAtMs - now),
    );
  }

  /** One cycle: sample, publish. Never throws: failures are counted and logged. */
  async sampleAndReport(): Promise<void> {
    await tracer().startActiveSpan('agent.sample_and_report', async (span) => {
      const started = performance.now();
      try {
        const report = withPredictedRates(await this.sampler.sample(), this.predictedRates?.());
        this.#lastReport = report;
        this.#sampleDuration.observe((performance.now() - started) / 1000);
        const outcome = this.reporter.publish(report);
        span.setAttributes({
          'coxswain.containers': report.containers.length,
          'coxswain.seq': report.seq,
          'coxswain.publish': outcome,
        });
      } catch (error) {
        this.#sampleFailures.inc();
        span.recordException(error instanceof Error ? error : new Error(String(error)));
        span.setStatus({ code: SpanStatusCode.ERROR });
        this.logger.error('sample cycle failed', { error });
      } finally {
        span.end();
      }
    });
  }

  get lastReport(): NodeReport | undefined {
    return this.#lastReport;
  }

  /**
   * The latest report of every node heard from (this one included), with its monotonic arrival
   * time; decodes the last-known bytes of nodes not decoded yet (report-hub.ts).
   */
  peers(): ReadonlyMap<string, PeerReport> {
    const out: Map<string, PeerReport> = this.reports.latest();
    if (this.#lastReport && !out.has(this.config.nodeId))
      out.set(this.config.nodeId, { report: this.#lastReport, receivedAtMs: performance.now() });
    return out;
  }

  /** Counted and logged at most once a minute, as the other validated subscriptions do. */
  #rejectReport(subject: string, reason: string): void {
    this.rejected.inc({ subject, reason });
    const suppressed = this.rateLimitedLog.take(subject);
    if (suppressed !== undefined)
      this.logger.warn('dropped invalid message', {
        subject,
        reason,
        suppressedSinceLast: suppressed,
      });
  }

  get ready(): { nats: boolean; docker: boolean } {
    return { nats: this.link.connected, docker: this.driver.streamConnected };
  }

  /** Raft health as `GET /v1/cluster` shows it: on the leader, else null. */
  health(): ReturnType<typeof raftHealth> {
    const status = this.member?.status();
    if (!status) return null;
    const now = performance.now();
    const contactAgeMs = new Map<string, number>();
    for (const [id, atMs] of this.reports.lastHeard()) contactAgeMs.set(id, now - atMs);
    const nc = this.link.connection;
    const known = new Set<string>(this.config.nats.servers);
    for (const url of nc?.info?.connect_urls ?? []) known.add(url);
    return raftHealth({
      status,
      contactAgeMs,
      connectedServer: nc && this.link.connected ? nc.getServer() : null,
      knownServers: [...known],
    });
  }

  #registerClusterMetrics(member: ClusterMember): () => void {
    return registerClusterMetrics(this.metrics, {
      status: () => member.status(),
      snapshot: () => member.snapshot(),
      health: () => this.health(),
      running: () => {
        const out = new Map<string, number>();
        for (const p of this.peers().values())
          for (const [service, n] of Object.entries(
            runningByService({ report: p.report, ageMs: 0 }),
          ))
            out.set(service, (out.get(service) ?? 0) + n);
        return out;
      },
      staleRefused: () => member.executor.fencing.refused,
      unauthenticated: () => member.executor.unauthenticated,
      reportsAccepted: () => member.reportsAccepted(),
      reportAgeMs: () => {
        const now = performance.now();
        return new Map([...this.reports.lastHeard()].map(([id, atMs]) => [id, now - atMs]));
      },
    });
  }

  #registerMetrics(): void {
    const m = this.metrics;
    m.counterFrom(
      'coxswain_reports_received_total',
      'Node report messages delivered to this agent, decoded or not (only the leader decodes every one).',
      () => this.reports.received,
    );
    m.counterFrom(
      'coxswain_reports_decoded_total',
      'Node reports decoded: every one on the leader; elsewhere those the figure history keeps and those an API read asks for.',
      () => this.reports.decoded,
    );
    const d = this.driver.counters;
    m.counterFrom(
      'coxswain_docker_events_total',
      'Docker engine events received.',
      () => d.eventsReceived,
    );
    m.counterFrom(
      'coxswain_docker_stream_reconnects_total',
      'Reconnects of the Docker event stream.',
      () => d.streamReconnects,
    );
    m.counterFrom(
      'coxswain_docker_list_calls_total',
      'Container list calls to the engine.',
      () => d.listCalls,
    );
    m.gauge('coxswain_docker_reachable', '1 when the agent reaches its Docker engine.', () =>
      this.driver.streamConnected ? 1 : 0,
    );
    m.gauge('coxswain_nats_connected', '1 while connected to a NATS server.', () =>
      this.link.connected ? 1 : 0,
    );
    m.counterFrom(
      'coxswain_nats_reconnects_total',
      'NATS reconnects.',
      () => this.link.counters.reconnects,
    );
    m.counterFrom(
      'coxswain_nats_permission_violations_total',
      "Publishes or subscriptions the NATS server refused under this node's permissions.",
      () => this.link.counters.permissionViolations,
    );
    m.gauge(
      'coxswain_containers',
      'Containers of coxswain services on this host, by Docker state.',
      () => {
        const byState = new Map<string, number>();
        for (const c of this.driver.replicas())
          byState.set(c.status, (byState.get(c.status) ?? 0) + 1);
        return [...byState].map(([state, value]) => ({ labels: { state }, value }));
      },
      ['state'],
    );
    m.counterFrom(
      'coxswain_stats_reads_total',
      'Container stats reads, by source.',
      () => [
        { labels: { source: 'cgroup' }, value: this.stats.counters.cgroupReads },
        { labels: { source: 'streaming' }, value: this.stats.counters.streamingReads },
        { labels: { source: 'failed' }, value: this.stats.counters.failedReads },
      ],
      ['source'],
    );
    m.counterFrom(
      'coxswain_scrape_failures_total',
      "Failed scrapes of a replica's metrics endpoint.",
      () => this.sampler.counters.scrapeFailures,
    );
  }

  #registerRoutes(): void {
    const r = this.http.router;
    r.add('GET', '/healthz', () => json({ ok: true }));
    r.add('GET', '/readyz', () => {
      const ready = this.ready;
      return json(
        { ok: ready.nats && ready.docker, ...ready },
        ready.nats && ready.docker ? 200 : 503,
      );
    });
    r.add('GET', '/metrics', async () =>
      text(await this.metrics.render(), this.metrics.contentType),
    );
    r.add('GET', '/v1/node', () => {
      const report = this.#lastReport;
      if (!report)
        return json({ error: { code: 'COX_NO_REPORT_YET', message: 'no sample taken yet' } }, 503);
      return json(report);
    });
    r.add('GET', '/v1/traces', (ctx) => {
      const out = recentSpansResponse(activeTelemetry(), ctx.query);
      return json(out.body, out.status);
    });
  }

  /** Graceful stop: no new cycles, wait for the running one, drain NATS, close the event stream and HTTP. */
  async stop(): Promise<void> {
    this.#running = false;
    this.heartbeat.stop();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#cycle;
    await this.#memberJoining;
    this.#clusterApi?.close();
    await this.member?.stop();
    this.reports.close();
    await this.link.stop();
    await this.driver.stop();
    this.stats.close();
    await this.http.close();
    await this.#telemetry?.shutdown();
    this.logger.info('agent stopped');
  }
}
