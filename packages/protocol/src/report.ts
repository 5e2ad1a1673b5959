import { z } from 'zod';
import { EpochMs, NodeId, VersionField } from './common.js';
import { ContainerState } from './container.js';
import { ServiceFigures } from './figures.js';

export const NodeRole = z.enum(['voter', 'client']);

export const NodeCapacity = z.object({
  cpus: z.number().positive(),
  memoryBytes: z.number().int().positive(),
  /** Upper bound on replicas this node accepts, whatever their size. */
  maxReplicas: z.number().int().positive().optional(),
});

/** Published by every agent every sample interval on `cox.<cluster>.report.<node>`. */
export const NodeReport = z.object({
  v: VersionField,
  cluster: z.string(),
  nodeId: NodeId,
  address: z.string(),
  role: NodeRole,
  capacity: NodeCapacity,
  labels: z.record(z.string(), z.string()).default({}),
  time: EpochMs,
  /** Increases by one per report from one agent process; a restart starts again at 0. */
  seq: z.number().int().nonnegative(),
  /** False when the agent cannot reach its Docker engine: container data is then stale or empty. */
  dockerReachable: z.boolean(),
  containers: z.array(ContainerState).max(10_000),
  services: z.record(z.string(), ServiceFigures),
});

/** Reports carry every container of a host; 256 KiB holds ~1,000 containers with room to spare. */
export const MAX_REPORT_BYTES = 256 * 1024;
