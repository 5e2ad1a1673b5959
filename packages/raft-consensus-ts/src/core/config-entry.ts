import { MalformedConfigEntryError } from '../errors.js';
import type { ConfigChange, Entry, Membership, NodeId } from '../types.js';
import { membershipProblem } from './membership-shape.js';

/**
 * A config entry carries both the change and the membership that results from
 * it. Membership takes effect when the entry is appended (single-server changes,
 * dissertation §4.1), and a follower that truncates its log must fall back to the
 * previous config: storing the full result makes that a lookup, not a replay.
 */
export interface ConfigEntryData {
  /** `bootstrap`: the first entry of a brand-new cluster's log, holding its initial membership. */
  readonly change: ConfigChange | { readonly type: 'bootstrap' };
  readonly membership: Membership;
}

const CHANGE_TYPES = new Set(['addVoter', 'addLearner', 'promoteLearner', 'removeNode']);

/**
 * The entry at index 1 of a brand-new node's log (term 0, committed by
 * construction): the bootstrap membership becomes part of the log, as etcd and
 * hashicorp/raft do, so a later `bootstrap` option cannot change the quorum.
 * Sorted so that every node bootstrapped with the same set writes the same bytes.
 */
export function bootstrapEntry(membership: Membership): Entry {
  const sorted: Membership = {
    voters: [...new Set(membership.voters)].sort(),
    learners: [...new Set(membership.learners)].sort(),
  };
  return {
    index: 1,
    term: 0,
    type: 'config',
    data: encodeConfigEntry({ change: { type: 'bootstrap' }, membership: sorted }),
  };
}

/** Same voters and learners, in any order. */
export function sameMembership(a: Membership, b: Membership): boolean {
  const same = (x: readonly string[], y: readonly string[]) => {
    const sx = new Set(x);
    const sy = new Set(y);
    return sx.size === sy.size && [...sx].every((v) => sy.has(v));
  };
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

export function encodeConfigEntry(data: ConfigEntryData): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(data));
}

function isNodeList(value: unknown): value is NodeId[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

export function decodeConfigEntry(bytes: Uint8Array, index: number): ConfigEntryData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new MalformedConfigEntryError(index, `not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new MalformedConfigEntryError(index, 'not an object');
  const { change, membership } = parsed as { change?: unknown; membership?: unknown };
  const isBootstrap =
    typeof change === 'object' &&
    change !== null &&
    (change as { type?: unknown }).type === 'bootstrap';
  if (
    !isBootstrap &&
    (typeof change !== 'object' ||
      change === null ||
      !CHANGE_TYPES.has((change as { type?: unknown }).type as string) ||
      typeof (change as { node?: unknown }).node !== 'string')
  ) {
    throw new MalformedConfigEntryError(index, 'change must be {type, node}');
  }
  if (
    typeof membership !== 'object' ||
    membership === null ||
    !isNodeList((membership as { voters?: unknown }).voters) ||
    !isNodeList((membership as { learners?: unknown }).learners)
  ) {
    throw new MalformedConfigEntryError(
      index,
      'membership must be {voters: string[], learners: string[]}',
    );
  }
  const problem = membershipProblem(membership as Membership);
  if (problem) throw new MalformedConfigEntryError(index, `membership: ${problem}`);
  if (!isBootstrap && (change as { node: string }).node.length === 0)
    throw new MalformedConfigEntryError(index, 'change.node is empty');
  return { change: change as ConfigEntryData['change'], membership: membership as Membership };
}

/** The membership after `change`, or a reason it cannot apply. Pure, shared by the leader's check and tests. */
export function applyConfigChange(current: Membership, change: ConfigChange): Membership | string {
  const isVoter = current.voters.includes(change.node);
  const isLearner = current.learners.includes(change.node);
  switch (change.type) {
    case 'addVoter':
      if (isVoter) return 'already a voter';
      if (isLearner) return 'is a learner; use promoteLearner';
      return { voters: [...current.voters, change.node], learners: [...current.learners] };
    case 'addLearner':
      if (isVoter || isLearner) return 'already a member';
      return { voters: [...current.voters], learners: [...current.learners, change.node] };
    case 'promoteLearner':
      if (!isLearner) return 'not a learner';
      return {
        voters: [...current.voters, change.node],
        learners: current.learners.filter((n) => n !== change.node),
      };
    case 'removeNode':
      if (!isVoter && !isLearner) return 'not a member';
      if (isVoter && current.voters.length === 1) return 'cannot remove the last voter';
      return {
        voters: current.voters.filter((n) => n !== change.node),
        learners: current.learners.filter((n) => n !== change.node),
      };
  }
}
