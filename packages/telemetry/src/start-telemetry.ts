import { validate } from '@coxswain/protocol';
import {
  context,
  DiagConsoleLogger,
  diag,
  propagation,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import {
  diagLogLevelFromString,
  loggingErrorHandler,
  setGlobalErrorHandler,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { TelemetryAlreadyStartedError, TelemetryShutdownTimeoutError } from './errors.js';
import { bridgeEsmTracerProvider } from './esm-api-bridge.js';
import { ExportFailureReporter, type WarnLogger } from './export-failures.js';
import { ReportingSpanExporter } from './reporting-span-exporter.js';
import { RingSpanProcessor } from './ring-span-processor.js';
import {
  ATTR_COXSWAIN_CLUSTER,
  ATTR_COXSWAIN_NODE,
  ATTR_HOST_NAME,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
} from './semconv.js';
import type { RecentSpansQuery, SpanRecord } from './span-record.js';
import { SpanRing } from './span-ring.js';

export const TelemetryOptions = z.object({
  serviceName: z.string().min(1),
  cluster: z.string().min(1),
  nodeId: z.string().min(1),
  host: z.string().min(1),
  ringSize: z.number().int().min(1).max(1_000_000).default(2000),
  /**
   * How long `shutdown()` waits for the last spans to reach the collector. With the
   * collector down the exporter retries for seconds; an agent stopping should not.
   */
  shutdownTimeoutMs: z.number().int().nonnegative().max(600_000).default(3_000),
});
export type TelemetryOptions = z.input<typeof TelemetryOptions>;

export interface StartTelemetryOptions extends TelemetryOptions {
  /** Where export failures are logged (rate-limited); defaults to stderr. */
  readonly log?: WarnLogger;
  /** Environment to read `OTEL_*` from; defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  readonly serviceName: string;
  /** A tracer of this process's SDK; take spans from it, or from `trace.getTracer` anywhere. */
  readonly tracer: Tracer;
  /** The OTLP traces URL spans are exported to, when an endpoint is configured. */
  readonly otlpEndpoint: string | undefined;
  /** Recent finished spans, oldest first (see `SpanRing.recent`). */
  recentSpans(query?: RecentSpansQuery): SpanRecord[];
  /** Export failures so far (failed batches and SDK errors), each counted once. */
  readonly exportFailures: number;
  /** Sends spans still queued for OTLP; failures are reported, never thrown. */
  flush(): Promise<void>;
  /** Flushes, stops the SDK and frees the process-wide OTel globals so telemetry can start again. */
  shutdown(): Promise<void>;
}

const stderrLogger: WarnLogger = {
  warn(message, fields) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', message, ...fields })}\n`);
  },
};

/**
 * The OTLP traces URL as the OTel spec derives it: the signal-specific variable
 * is used as is, the general one gets `/v1/traces` appended. Undefined when
 * neither is set, or when `OTEL_TRACES_EXPORTER` says `none`.
 */
export function otlpTracesEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim());
  if (exporters.includes('none')) return undefined;
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return specific;
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (general) return `${general.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** The one live SDK of this process (OTel's globals allow no more). */
let active: Telemetry | undefined;

/**
 * The telemetry this process is running, if any. Several agents in one test
 * process share the first one's (their spans carry its resource); only the one
 * that started it shuts it down.
 */
export function activeTelemetry(): Telemetry | undefined {
  return active;
}

/**
 * Starts OpenTelemetry tracing for this process: a Node tracer provider with our
 * resource attributes, the W3C trace-context propagator, an in-memory ring of
 * recent spans (always) and an OTLP/HTTP JSON exporter (when an endpoint is set).
 * No auto-instrumentation, no metrics or logs exporters: spans come only from
 * code that asks for them. That is why this is the trace SDK alone and not
 * `@opentelemetry/sdk-node`, which loads every exporter and instrumentation
 * package it could build from env (~20 MB of an agent's RSS); the OTLP exporter
 * is imported only when an endpoint is configured.
 */
export async function startTelemetry(options: StartTelemetryOptions): Promise<Telemetry> {
  const checked = validate(TelemetryOptions, options, 'telemetry options');
  if (!checked.ok) throw checked.error;
  const { serviceName, cluster, nodeId, host, ringSize, shutdownTimeoutMs } = checked.value;
  if (active !== undefined) throw new TelemetryAlreadyStartedError(active.serviceName);

  const env = options.env ?? process.env;
  const failures = new ExportFailureReporter({ log: options.log ?? stderrLogger });
  const ring = new SpanRing(ringSize);
  const spanProcessors: SpanProcessor[] = [new RingSpanProcessor(ring)];
  const otlpEndpoint = otlpTracesEndpoint(env);
  if (otlpEndpoint !== undefined) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const exporter = new OTLPTraceExporter({ url: otlpEndpoint });
    spanProcessors.push(
      new BatchSpanProcessor(new ReportingSpanExporter(exporter, (e) => failures.report(e))),
    );
  }

  // Detectors are off: the resource is exactly what we say, the same on every host.
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: serviceName,
      [ATTR_SERVICE_INSTANCE_ID]: nodeId,
      [ATTR_HOST_NAME]: host,
      [ATTR_COXSWAIN_CLUSTER]: cluster,
      [ATTR_COXSWAIN_NODE]: nodeId,
    }),
  );
  // The two OTEL_* variables NodeSDK handled itself (the provider reads the sampler,
  // span limits and OTEL_BSP_*; the exporter its headers and timeout).
  const logLevel = env.OTEL_LOG_LEVEL?.trim();
  if (logLevel)
    diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const provider = new NodeTracerProvider({ resource, spanProcessors });
  // Batch time-outs and SDK-internal errors arrive here; send them to the same handler.
  setGlobalErrorHandler((error) => failures.report(error));
  if (!disabled) {
    // Sets the global tracer provider, the AsyncLocalStorage context manager and the propagator.
    provider.register({ propagator: new W3CTraceContextPropagator() });
    bridgeEsmTracerProvider();
  }

  let stopped: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    await Promise.all(
      spanProcessors.map((p) => p.forceFlush().catch((error: unknown) => failures.report(error))),
    );
  };
  const shutdown = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), shutdownTimeoutMs);
    });
    try {
      // Spans still in flight when the time is up are lost, and said to be.
      const outcome = await Promise.race([provider.shutdown(), timedOut]);
      if (outcome === 'timeout')
        failures.report(new TelemetryShutdownTimeoutError(shutdownTimeoutMs));
    } catch (error) {
      failures.report(error);
    } finally {
      clearTimeout(timer);
    }
    trace.disable();
    context.disable();
    propagation.disable();
    setGlobalErrorHandler(loggingErrorHandler());
    if (active === telemetry) active = undefined;
  };

  const telemetry: Telemetry = {
    serviceName,
    tracer: trace.getTracer('coxswain'),
    otlpEndpoint,
    recentSpans: (query) => ring.recent(query),
    get exportFailures() {
      return failures.count;
    },
    flush,
    shutdown: () => {
      stopped ??= shutdown();
      return stopped;
    },
  };
  active = telemetry;
  return telemetry;
}
