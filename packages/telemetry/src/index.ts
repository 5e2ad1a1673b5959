export {
  TelemetryAlreadyStartedError,
  TelemetryShutdownTimeoutError,
  TraceExportError,
} from './errors.js';
export {
  ExportFailureReporter,
  type ExportFailureReporterOptions,
  type WarnLogger,
} from './export-failures.js';
export { LogLimiter, type LogLimiterOptions } from './log-limiter.js';
export {
  createLogger,
  type LogFields,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from './logger.js';
export { Counter, Histogram, type Labels, MetricsRegistry } from './metrics-registry.js';
export {
  extractTraceContext,
  injectTraceContext,
  natsHeaders,
  publishTraced,
  requestTraced,
  traceHeaders,
  withConsumerSpan,
} from './nats-context.js';
export { type RecentSpansHttpResult, recentSpansResponse } from './recent-spans-response.js';
export { ReportingSpanExporter } from './reporting-span-exporter.js';
export { RingSpanProcessor } from './ring-span-processor.js';
export {
  ATTR_COXSWAIN_CLUSTER,
  ATTR_COXSWAIN_NODE,
  ATTR_HOST_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_SERVICE_INSTANCE_ID,
  MESSAGING_SYSTEM_NATS,
} from './semconv.js';
export {
  RecentSpansQuery,
  RecentSpansResponse,
  SpanAttributes,
  SpanEventRecord,
  SpanKindName,
  SpanRecord,
} from './span-record.js';
export { SpanRing } from './span-ring.js';
export {
  activeTelemetry,
  otlpTracesEndpoint,
  type StartTelemetryOptions,
  startTelemetry,
  type Telemetry,
  TelemetryOptions,
} from './start-telemetry.js';
export { toSpanRecord } from './to-span-record.js';
export { recordFailure, withSpan } from './with-span.js';
