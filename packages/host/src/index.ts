export { type Assignment, AssignmentStore } from './assignment-store.js';
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
export { engineStandby } from './engine-standby.js';
export { DockerOperationError, HealthTimeoutError, ReplicaExitedError } from './errors.js';
export {
  CommandExpiredError,
  type CommandRefusal,
  Executor,
  type ExecutorOptions,
  isActive,
  type OperationLogEntry,
  type ReplicaDriver,
} from './executor.js';
export {
  type FencingReset,
  FencingStore,
  FencingStoreCorruptError,
  FencingStoreInUseError,
  StaleFencingTokenError,
  writeFileDurable,
} from './fencing-store.js';
export { KeyedMutex } from './keyed-mutex.js';
export { type HostLogFields, type HostLogger, silentHostLogger } from './logger.js';
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
export { ContainerRates, CounterRate, cpuPercent, memoryPercent, ratePerSecond } from './rates.js';
export {
  aggregateServices,
  countsTowardService,
  metricsFromLabels,
  metricsUrl,
  Sampler,
} from './sampler.js';
export {
  type AbsenceOptions,
  type DiedEvent,
  type HealResult,
  type HeldAssignment,
  type StandbyOptions,
  type SupervisedDriver,
  Supervisor,
  type SupervisorOptions,
} from './supervisor.js';
