import { z } from 'zod';
import { NodeId } from './common.js';

/**
 * Published by every agent every `heartbeatIntervalMs` on
 * `cox.<cluster>.hb.<node>`: proof of life and nothing else, so it can go five
 * times a second where the full report (up to 256 KiB) goes once. The leader
 * accepts one only when `nodeId` names the node of its subject (the NATS
 * permissions let an agent publish only its own), and counts the rest.
 */
export const NodeHeartbeat = z
  .object({
    /** Must equal the subject's node token. */
    n: NodeId,
    /** Increases by one per heartbeat from one agent process; a restart starts again at 0. */
    s: z.number().int().nonnegative(),
  })
  .strict();

/** A heartbeat is ~30 bytes; anything near this is not one. */
export const MAX_HEARTBEAT_BYTES = 256;
