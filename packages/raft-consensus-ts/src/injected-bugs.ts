/**
 * Mutation switches for the simulator's own tests: each re-introduces one known
 * bug, so a test can show the simulator catches it. Off unless a test (or the
 * sim CLI's --bug flag) turns one on; not exported from the package's index.
 */
export type InjectedBug =
  /** FileStorage acknowledges a save after a short write (issue 15, item 1). */
  | 'short-write-unchecked'
  /** A bad length field anywhere in the newest segment is taken for a torn tail (item 4). */
  | 'mid-segment-corruption-as-torn'
  /** The runtime sends a Ready's messages before persisting it. */
  | 'send-before-fsync'
  /** A vote is granted without comparing the candidate's log with ours (§5.4.1). */
  | 'vote-without-log-check';

export const INJECTED_BUGS: readonly InjectedBug[] = [
  'short-write-unchecked',
  'mid-segment-corruption-as-torn',
  'send-before-fsync',
  'vote-without-log-check',
];

const active = new Set<InjectedBug>();

/** Replaces the set of injected bugs (empty: none, the normal state). */
export function setInjectedBugs(bugs: Iterable<InjectedBug>): void {
  active.clear();
  for (const b of bugs) active.add(b);
}

export function bugInjected(bug: InjectedBug): boolean {
  return active.size > 0 && active.has(bug);
}
