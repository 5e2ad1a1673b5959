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

/**
 * Election timeout in ticks: a follower campaigns after [n, 2n) ticks without a
 * leader, 200–400 ms at the default 20 ms tick. Not shorter: under 100 ± 20 ms
 * of latency per message (a 200 ms round trip) 5 ticks gave 332 elections and 9
 * leader changes a minute with a healthy leader, 10 gave none (bench
 * raft-false-elections, bench/RESULTS.md). Pre-vote and check-quorum stop a cut-off
 * node from disrupting, not a timeout shorter than two round trips.
 */
export const DEFAULT_ELECTION_TICKS = 10;

export function defaultConfig(
  id: NodeId,
  overrides: Partial<Omit<RaftConfig, 'id'>> = {},
): RaftConfig {
  const electionTicks = overrides.electionTicks ?? DEFAULT_ELECTION_TICKS;
  return {
    id,
    electionTicks,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    maxInflightMessages: 256,
    maxEntriesPerMessage: 1024,
    maxBytesPerMessage: DEFAULT_MAX_BYTES_PER_MESSAGE,
    randomSeed: hashSeed(id),
    // For drivers that never call reportSnapshot (RaftNode always does, and sets 0).
    snapshotRetryTicks: 4 * electionTicks,
    // Within a RaftNode's snapshotKeepEntries default (1,000) this changes nothing on a healthy
    // cluster; it matters when the kept tail is shorter than what one slow follower lags.
    compactionHoldEntries: 10_000,
    ...overrides,
  };
}
