import { z } from 'zod';
import { EpochMs } from './common.js';

export const ContainerStatus = z.enum([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);
export const ContainerHealth = z.enum(['none', 'starting', 'healthy', 'unhealthy']);

/** A TCP port of a replica published on its host: where a load balancer outside the host reaches it. */
export const PublishedPort = z.object({
  containerPort: z.number().int().min(1).max(65535),
  hostPort: z.number().int().min(1).max(65535),
});

/** One replica as its host's agent sees it. Rates are absent until two samples exist. */
export const ContainerState = z.object({
  id: z.string().min(1),
  name: z.string(),
  service: z.string(),
  image: z.string(),
  status: ContainerStatus,
  health: ContainerHealth,
  specVersion: z.number().int().nonnegative().optional(),
  startedAt: EpochMs.optional(),
  cpuPercent: z.number().nonnegative().optional(),
  memoryBytes: z.number().nonnegative().optional(),
  memoryPercent: z.number().nonnegative().optional(),
  rxBytesPerSecond: z.number().nonnegative().optional(),
  txBytesPerSecond: z.number().nonnegative().optional(),
  /**
   * Published TCP ports, once Docker has bound them (after start). Optional so
   * that reports of agents older than this field still decode.
   */
  ports: z.array(PublishedPort).max(64).optional(),
});
