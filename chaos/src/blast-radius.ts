/**
 * The blast radius, decided before a fault fires (pure): never fewer live
 * voters than a quorum unless the file allows it, never more hosts down than
 * `maxHostsDown`.
 */
import type { ChaosBlastRadius } from '@coxswain/protocol';

export interface BlastState {
  readonly voters: readonly string[];
  /** Hosts already down (killed, cut off, agent killed or frozen) by faults not undone yet. */
  readonly down: ReadonlySet<string>;
}

/** Why the fault is refused, or undefined when it may fire. */
export function blastRadiusRefusal(
  state: BlastState,
  takesDown: readonly string[],
  limits: ChaosBlastRadius,
): string | undefined {
  const after = new Set([...state.down, ...takesDown]);
  if (after.size > limits.maxHostsDown)
    return `${after.size} hosts would be down (${[...after].join(', ')}), more than maxHostsDown ${limits.maxHostsDown}`;
  const quorum = Math.floor(state.voters.length / 2) + 1;
  const live = state.voters.filter((v) => !after.has(v)).length;
  if (live < quorum && !limits.allowQuorumLoss)
    return `${live} of ${state.voters.length} voters would stay live, fewer than a quorum of ${quorum} (set blastRadius.allowQuorumLoss: true to allow it)`;
  return undefined;
}
