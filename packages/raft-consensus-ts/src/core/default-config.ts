import type { NodeId, RaftConfig } from '../types.js';
import { hashSeed } from './prng.js';

/**
 * NATS refuses payloads over its max_payload (1 MiB by default). Entries are
 * counted by their data bytes plus ENTRY_OVERHEAD_BYTES, and 64 KiB are left
 * for the envelope; a transport that base64-encodes data must lower this by a quarter.
 */
export const DEFAULT_MAX_BYTES_PER_MESSAGE = 1024 * 1024 - 64 * 1024;

/** What one entry's framing (index, term, type, JSON keys) is assumed to cost in a message. */
export const ENTRY_OVERHEAD_BYTES = 64;

export function defaultConfig(
  id: NodeId,
  overrides: Partial<Omit<RaftConfig, 'id'>> = {},
): RaftConfig {
  const electionTicks = overrides.electionTicks ?? 10;
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    maxInflightMessages: 256,
    maxEntriesPerMessage: 1024,
    maxBytesPerMessage: DEFAULT_MAX_BYTES_PER_MESSAGE,
    randomSeed: hashSeed(id),
    // For drivers that never call reportSnapshot (RaftNode always does, and sets 0).
    snapshotRetryTicks: 4 * electionTicks,
    ...overrides,
  };
}
