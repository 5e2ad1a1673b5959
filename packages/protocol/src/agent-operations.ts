import { z } from 'zod';
import { EpochMs, NodeId } from './common.js';

/** One scale command as this agent's executor handled it (its operation log). */
export const AgentOperation = z.object({
  id: z.string(),
  service: z.string(),
  token: z.number().int().nonnegative(),
  term: z.number().int().nonnegative(),
  leaderId: NodeId,
  replicas: z.number().int().nonnegative(),
  startedAtEpochMs: EpochMs,
  endedAtEpochMs: EpochMs,
  /** done: acted on; refused: stale token or expired, nothing changed; failed: an error while acting. */
  outcome: z.enum(['done', 'refused', 'failed']),
  code: z.string().optional(),
});

/**
 * `GET /v1/agent/operations`: this agent's recent operations (at most 1,000,
 * oldest first) and, per service, the fencing tokens it accepted (acted on or
 * tried to) and refused, for a fencing audit across agents.
 */
export const AgentOperationsReply = z.object({
  node: NodeId,
  operations: z.array(AgentOperation),
  tokens: z.record(
    z.string(),
    z.object({
      accepted: z.array(z.number().int().nonnegative()),
      refused: z.array(z.number().int().nonnegative()),
      /** The highest token this agent has stored for the service (its fencing floor). */
      highest: z.number().int().nonnegative(),
    }),
  ),
});
