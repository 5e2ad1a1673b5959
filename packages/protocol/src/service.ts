import { z } from 'zod';
import { ByteSize, DataRecord, DurationMs, Name } from './common.js';

export const PortMapping = z.object({
  containerPort: z.number().int().min(1).max(65535),
  hostPort: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
});

export const HealthCheck = z.object({
  /** Run inside the container, as Docker's CMD form; exit 0 means healthy. */
  command: z.array(z.string()).min(1),
  intervalMs: DurationMs.default(1000),
  timeoutMs: DurationMs.default(1000),
  retries: z.number().int().min(1).default(3),
  startPeriodMs: DurationMs.default(0),
});

export const MetricsEndpoint = z.object({
  /** Port inside the container serving Prometheus text. */
  port: z.number().int().min(1).max(65535),
  path: z.string().startsWith('/').default('/metrics'),
  /** Counter of handled requests. */
  requestCounter: z.string().default('http_requests_total'),
  /** Histogram of request latency in seconds. */
  latencyHistogram: z.string().default('http_request_duration_seconds'),
});

/** `predictive` by default: a forecast over the measured lead time, with a reactive floor (@coxswain/forecast). */
export const ScalingPolicyRef = z.object({
  name: z.string().min(1).default('predictive'),
  params: DataRecord.default({}),
});

/** What a user declares with `coxswain service apply`: everything needed to run and scale one service. */
export const ServiceSpec = z
  .object({
    name: Name,
    image: z.string().min(1),
    command: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).default({}),
    ports: z.array(PortMapping).default([]),
    labels: z.record(z.string(), z.string()).default({}),
    resources: z
      .object({
        cpus: z.number().positive().max(1024).optional(),
        memoryBytes: ByteSize.optional(),
      })
      .default({}),
    healthCheck: HealthCheck.optional(),
    minReplicas: z.number().int().min(0).default(1),
    maxReplicas: z.number().int().min(0).default(10),
    metrics: MetricsEndpoint.optional(),
    sloP95Ms: z.number().positive().optional(),
    policy: ScalingPolicyRef.default({ name: 'predictive', params: {} }),
  })
  .refine((s) => s.minReplicas <= s.maxReplicas, {
    message: 'minReplicas must not exceed maxReplicas',
    path: ['minReplicas'],
  });

/** Docker labels coxswain puts on (and reads from) every replica it manages. */
export const LABELS = {
  service: 'coxswain.service',
  specVersion: 'coxswain.spec-version',
  cluster: 'coxswain.cluster',
  node: 'coxswain.node',
  /**
   * Where the replica serves Prometheus metrics, copied from the spec's
   * `metrics` at create time, so an agent that restarts (or adopts a replica
   * it did not create) can scrape it without the spec.
   */
  metricsPort: 'coxswain.metrics.port',
  metricsPath: 'coxswain.metrics.path',
  metricsCounter: 'coxswain.metrics.counter',
  metricsHistogram: 'coxswain.metrics.histogram',
} as const;
