import { z } from 'zod';
import { EpochMs, NodeId, VersionField } from './common.js';
import { ServiceSpec } from './service.js';

/**
 * An ed25519 signature over the command's canonical bytes (see
 * command-signature.ts): `keyId` is the signing voter's node id, `sig` the 64
 * signature bytes in base64url without padding.
 */
export const CommandSignature = z.object({
  keyId: NodeId,
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/, '64 bytes of ed25519 signature, base64url'),
});

/**
 * Leader → agent on `cox.<cluster>.cmd.<node>`: run exactly `replicas` replicas
 * of the service at `specVersion` on this node. "Set to N" rather than "start
 * N more" makes a retried or duplicated command harmless.
 */
export const ScaleCommand = z.object({
  v: VersionField,
  /** Unique per command; a retry reuses it and gets the first result back. */
  id: z.string().min(1).max(128),
  service: z.string().min(1),
  spec: ServiceSpec,
  specVersion: z.number().int().nonnegative(),
  replicas: z.number().int().nonnegative(),
  /** The Raft commit index of the lock acquisition: the fencing token. */
  token: z.number().int().positive(),
  term: z.number().int().nonnegative(),
  leaderId: NodeId,
  issuedAt: EpochMs,
  /**
   * How long after `issuedAt` (on the leader's wall clock) the command may
   * still start work. The agent refuses it (COX_COMMAND_EXPIRED) once its own
   * wall clock passes issuedAt + ttlMs, before storing the token and again
   * before each create or remove. The leader records the command "failed" only
   * after issuedAt + ttlMs + the cluster's clock-skew bound. Absent: no expiry
   * (commands from older leaders).
   */
  ttlMs: z.number().int().positive().optional(),
  /** The policy's explanation, for logs and traces. */
  reason: z.string().max(2000).optional(),
  /**
   * Paused warm standbys of the service to keep on this node: the leader's share of the
   * service's warm pool (a service that opted in). Absent: the node keeps the count a previous
   * command set, or else the agent's own standby setting.
   */
  standby: z.number().int().nonnegative().optional(),
  /** Absent from leaders that do not sign yet; agents that require signatures refuse such commands. */
  signature: CommandSignature.optional(),
});

export const CommandErrorCode = z.enum([
  'COX_STALE_TOKEN',
  'COX_INVALID_PAYLOAD',
  'COX_DOCKER_ERROR',
  'COX_HEALTH_TIMEOUT',
  'COX_WRONG_NODE',
  'COX_COMMAND_EXPIRED',
  'COX_INTERNAL',
  'COX_SIG_MISSING',
  'COX_SIG_INVALID',
  'COX_SIG_UNKNOWN_SIGNER',
]);

export const ScaleReply = z.discriminatedUnion('ok', [
  z.object({
    v: VersionField,
    id: z.string(),
    ok: z.literal(true),
    nodeId: NodeId,
    /** Replicas of the service running (and healthy, where declared) when the agent replied. */
    running: z.number().int().nonnegative(),
    started: z.number().int().nonnegative(),
    stopped: z.number().int().nonnegative(),
    durationMs: z.number().nonnegative(),
  }),
  z.object({
    v: VersionField,
    id: z.string(),
    ok: z.literal(false),
    nodeId: NodeId,
    code: CommandErrorCode,
    message: z.string(),
    /** With COX_STALE_TOKEN: the highest token this agent has stored for the service. */
    highestToken: z.number().int().nonnegative().optional(),
  }),
]);

export const MAX_COMMAND_BYTES = 64 * 1024;
