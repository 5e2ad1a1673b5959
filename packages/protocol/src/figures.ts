import { z } from 'zod';
import { EpochMs } from './common.js';

/**
 * The nine per-service figures of a report. A figure that is not known (no
 * metrics endpoint, no sample yet) is absent, never 0: 0 is a measurement.
 */
export const ServiceFigures = z.object({
  time: EpochMs,
  containerCount: z.number().int().nonnegative(),
  cpuPercent: z.number().nonnegative().optional(),
  memoryPercent: z.number().nonnegative().optional(),
  ingressBytesPerSecond: z.number().nonnegative().optional(),
  egressBytesPerSecond: z.number().nonnegative().optional(),
  p95LatencyMs: z.number().nonnegative().optional(),
  requestRatePerSecond: z.number().nonnegative().optional(),
  /** Filled by the leader from its forecast. */
  predictedRequestRatePerSecond: z.number().nonnegative().optional(),
});
