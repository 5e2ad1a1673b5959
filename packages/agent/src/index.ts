export { Agent, type AgentStartOptions, type PeerReport } from './agent.js';
export {
  CgroupStatsSource,
  type ContainerFigures,
  ContainerStatsCollector,
  parseNetDev,
  parseProcCgroup,
  type RawCounters,
  type StatsSource,
  StreamingStatsSource,
} from './container-stats.js';
export {
  containerCreateOptions,
  DockerDriver,
  type DockerDriverOptions,
  type DriverCounters,
  type DriverEvents,
  type TrackedContainer,
} from './docker-driver.js';
export {
  AgentConfigError,
  DockerOperationError,
  HealthTimeoutError,
  ReplicaExitedError,
} from './errors.js';
export {
  errorResponse,
  HttpError,
  type HttpMethod,
  type HttpResponse,
  HttpServer,
  type InjectResult,
  json,
  type RequestContext,
  type RouteHandler,
  Router,
  text,
} from './http-server.js';
export { type InboundCounters, RateLimitedLog, subscribeValidated } from './inbound.js';
export {
  createLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  silentLogger,
} from './logger.js';
export { Counter, Gauge, Histogram, type Labels, MetricsRegistry } from './metrics-registry.js';
export {
  extractRequestMetrics,
  histogramDelta,
  histogramQuantile,
  MetricsParseError,
  mergeHistogramDeltas,
  type PromSample,
  parsePrometheusText,
  type RequestMetrics,
  requestFigures,
  ScrapeError,
  scrapeMetrics,
} from './prometheus-scrape.js';
export { CounterRate, cpuPercent, memoryPercent, ratePerSecond } from './rates.js';
export { NatsLink, type PublishOutcome, Reporter, reconnectDelayMs } from './reporter.js';
export {
  aggregateServices,
  countsTowardService,
  metricsFromLabels,
  metricsUrl,
  Sampler,
} from './sampler.js';
