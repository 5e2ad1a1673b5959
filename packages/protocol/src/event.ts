import { z } from 'zod';
import { DataRecord, EpochMs, NodeId, VersionField } from './common.js';

export const ClusterEventType = z.enum([
  'leader.elected',
  'leader.stepped_down',
  'node.joined',
  'node.dead',
  'node.returned',
  'command.issued',
  'command.done',
  'command.refused',
  'container.died',
  'container.restarted',
  'chaos.fault',
  'chaos.verdict',
]);

/** Published on `cox.<cluster>.events` and streamed at `/v1/events`. */
export const ClusterEvent = z.object({
  v: VersionField,
  type: ClusterEventType,
  time: EpochMs,
  /** The node that emitted the event. */
  nodeId: NodeId,
  message: z.string().max(2000),
  data: DataRecord.default({}),
});
