/**
 * Builds this node's report each sample interval: every labelled container with
 * its rates, and per service the figures of the report (see ServiceFigures).
 *
 * Aggregation rules, per service on this host:
 *  - containerCount counts replicas that are running and healthy (or running
 *    without a health check): "health before counting";
 *  - cpuPercent and memoryPercent are means over running replicas with a sample;
 *  - ingress/egress bytes/s and the request rate are sums;
 *  - p95 comes from the replicas' latency histograms merged for the interval,
 *    so a busy replica weighs more than an idle one;
 *  - a figure nobody could measure is absent, never 0.
 *
 * The aggregation (`aggregateServices`) is pure; `Sampler.sample()` does the I/O.
 */
import { cpus as osCpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type AgentConfig,
  type ContainerState,
  LABELS,
  type MetricsEndpoint,
  type NodeReport,
  PROTOCOL_VERSION,
  type ServiceFigures,
} from '@coxswain/protocol';
import type { ContainerFigures, ContainerStatsCollector } from './container-stats.js';
import type { DockerDriver, TrackedContainer } from './docker-driver.js';
import { type HostLogger, silentHostLogger } from './logger.js';
import {
  histogramDelta,
  histogramQuantile,
  mergeHistogramDeltas,
  type RequestMetrics,
  type ScrapeSnapshot,
  scrapeMetrics,
} from './prometheus-scrape.js';

/** What one replica contributed to its service in one interval. */
export interface ReplicaSample {
  readonly state: ContainerState;
  readonly figures?: ContainerFigures;
  readonly requestRatePerSecond?: number;
  readonly latencyDelta?: ReadonlyArray<{ le: number; count: number }>;
}

function mean(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function sum(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  return values.reduce((a, b) => a + b, 0);
}

/** Counts toward the service: running and healthy, or running with no health check. */
export function countsTowardService(state: ContainerState): boolean {
  return state.status === 'running' && (state.health === 'healthy' || state.health === 'none');
}

/** Per-service figures from one interval's replica samples (pure). */
export function aggregateServices(
  samples: readonly ReplicaSample[],
  timeMs: number,
): Record<string, ServiceFigures> {
  const byService = new Map<string, ReplicaSample[]>();
  for (const s of samples) {
    const list = byService.get(s.state.service) ?? [];
    list.push(s);
    byService.set(s.state.service, list);
  }
  const out: Record<string, ServiceFigures> = {};
  for (const [service, list] of byService) {
    const running = list.filter((s) => s.state.status === 'running');
    const pick = (f: (s: ReplicaSample) => number | undefined): number[] =>
      running.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const cpu = mean(pick((s) => s.figures?.cpuPercent));
    const mem = mean(pick((s) => s.figures?.memoryPercent));
    const rx = sum(pick((s) => s.figures?.rxBytesPerSecond));
    const tx = sum(pick((s) => s.figures?.txBytesPerSecond));
    const rate = sum(pick((s) => s.requestRatePerSecond));
    const deltas = running
      .map((s) => s.latencyDelta)
      .filter((d): d is ReadonlyArray<{ le: number; count: number }> => d !== undefined);
    const merged = mergeHistogramDeltas(deltas);
    const p95Seconds = merged ? histogramQuantile(0.95, merged) : undefined;
    out[service] = {
      time: timeMs,
      containerCount: list.filter((s) => countsTowardService(s.state)).length,
      ...(cpu !== undefined ? { cpuPercent: cpu } : {}),
      ...(mem !== undefined ? { memoryPercent: mem } : {}),
      ...(rx !== undefined ? { ingressBytesPerSecond: rx } : {}),
      ...(tx !== undefined ? { egressBytesPerSecond: tx } : {}),
      ...(p95Seconds !== undefined ? { p95LatencyMs: p95Seconds * 1000 } : {}),
      ...(rate !== undefined ? { requestRatePerSecond: rate } : {}),
    };
  }
  return out;
}

/** The metrics endpoint a replica declares through its labels (set from the spec at create time). */
export function metricsFromLabels(
  labels: Readonly<Record<string, string>>,
): MetricsEndpoint | undefined {
  const port = Number(labels[LABELS.metricsPort]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return {
    port,
    path: labels[LABELS.metricsPath] ?? '/metrics',
    requestCounter: labels[LABELS.metricsCounter] ?? 'http_requests_total',
    latencyHistogram: labels[LABELS.metricsHistogram] ?? 'http_request_duration_seconds',
  };
}

/** Where to reach a replica's metrics port from this host, if anywhere. */
export function metricsUrl(t: TrackedContainer, endpoint: MetricsEndpoint): string | undefined {
  if (t.ipAddress) return `http://${t.ipAddress}:${endpoint.port}${endpoint.path}`;
  const hostPort = t.hostPorts.get(endpoint.port);
  if (hostPort !== undefined) return `http://127.0.0.1:${hostPort}${endpoint.path}`;
  if (t.networkMode === 'host') return `http://127.0.0.1:${endpoint.port}${endpoint.path}`;
  return undefined;
}

export interface SamplerOptions {
  readonly config: AgentConfig;
  readonly driver: DockerDriver;
  readonly stats: ContainerStatsCollector;
  readonly logger?: HostLogger;
  /** Overrides the labels' metrics endpoint, e.g. from the replicated service specs. */
  readonly metricsFor?: (
    service: string,
    container: TrackedContainer,
  ) => MetricsEndpoint | undefined;
  readonly scrapeTimeoutMs?: number;
}

export class Sampler {
  readonly #options: SamplerOptions;
  readonly #logger: HostLogger;
  readonly #lastScrape = new Map<string, ScrapeSnapshot>();
  #seq = 0;
  readonly counters = { scrapeFailures: 0, scrapes: 0 };

  constructor(options: SamplerOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentHostLogger).child({ component: 'sampler' });
  }

  async #scrape(
    t: TrackedContainer,
  ): Promise<Pick<ReplicaSample, 'requestRatePerSecond' | 'latencyDelta'>> {
    if (t.state.status !== 'running') return {};
    const endpoint = this.#options.metricsFor?.(t.state.service, t) ?? metricsFromLabels(t.labels);
    if (!endpoint) return {};
    const url = metricsUrl(t, endpoint);
    if (!url) return {};
    let metrics: RequestMetrics;
    this.counters.scrapes++;
    try {
      metrics = await scrapeMetrics(
        url,
        endpoint.requestCounter,
        endpoint.latencyHistogram,
        this.#options.scrapeTimeoutMs ?? Math.max(100, this.#options.config.sampleIntervalMs * 0.8),
      );
    } catch (error) {
      this.counters.scrapeFailures++;
      this.#logger.debug('scrape failed', { id: t.state.id.slice(0, 12), error });
      return {};
    }
    const current: ScrapeSnapshot = { atMs: performance.now(), metrics };
    const previous = this.#lastScrape.get(t.state.id);
    this.#lastScrape.set(t.state.id, current);
    if (!previous) return {};
    const elapsedMs = current.atMs - previous.atMs;
    const out: {
      requestRatePerSecond?: number;
      latencyDelta?: Array<{ le: number; count: number }>;
    } = {};
    const a = previous.metrics.requests;
    const b = metrics.requests;
    // A counter that fell means the app restarted: no figure this interval rather than a wrong one.
    if (a !== undefined && b !== undefined && b >= a && elapsedMs > 0)
      out.requestRatePerSecond = ((b - a) * 1000) / elapsedMs;
    if (previous.metrics.buckets && metrics.buckets) {
      const delta = histogramDelta(previous.metrics.buckets, metrics.buckets);
      if (delta) out.latencyDelta = delta;
    }
    return out;
  }

  /** One full sample: container figures, scrapes, aggregates; the report is ready to publish. */
  async sample(): Promise<NodeReport> {
    const { config, driver, stats } = this.#options;
    const tracked = driver.trackedAll();
    const [figures, scrapes] = await Promise.all([
      stats.sample(tracked),
      Promise.all(tracked.map((t) => this.#scrape(t))),
    ]);
    const live = new Set(tracked.map((t) => t.state.id));
    for (const id of [...this.#lastScrape.keys()]) if (!live.has(id)) this.#lastScrape.delete(id);
    const samples: ReplicaSample[] = tracked.map((t, i) => {
      const f = figures.get(t.state.id);
      const state: ContainerState = {
        ...t.state,
        ...(f?.cpuPercent !== undefined ? { cpuPercent: f.cpuPercent } : {}),
        ...(f?.memoryBytes !== undefined ? { memoryBytes: f.memoryBytes } : {}),
        ...(f?.memoryPercent !== undefined ? { memoryPercent: f.memoryPercent } : {}),
        ...(f?.rxBytesPerSecond !== undefined ? { rxBytesPerSecond: f.rxBytesPerSecond } : {}),
        ...(f?.txBytesPerSecond !== undefined ? { txBytesPerSecond: f.txBytesPerSecond } : {}),
      };
      return { state, ...(f ? { figures: f } : {}), ...scrapes[i] };
    });
    const time = Date.now();
    const report: NodeReport = {
      v: PROTOCOL_VERSION,
      cluster: config.cluster,
      nodeId: config.nodeId,
      address: config.address,
      role: config.voters.includes(config.nodeId) ? 'voter' : 'client',
      capacity: {
        cpus: config.capacity.cpus ?? osCpus().length,
        memoryBytes: config.capacity.memoryBytes ?? totalmem(),
        ...(config.capacity.maxReplicas !== undefined
          ? { maxReplicas: config.capacity.maxReplicas }
          : {}),
      },
      labels: config.labels,
      time,
      seq: this.#seq++,
      dockerReachable: driver.streamConnected,
      containers: samples.map((s) => s.state),
      services: aggregateServices(samples, time),
    };
    return report;
  }
}
