import type { Entry } from '../types.js';
import { ProposalDroppedError } from './runtime-errors.js';

/** A caller waiting for the entry it proposed at some index, in some term. */
export interface Waiter<T> {
  readonly term: number;
  readonly resolve: (v: T) => void;
  readonly reject: (e: unknown) => void;
}

/** Settles the waiter of `entry`'s index: resolved if its entry committed there, rejected if another did. */
export function settle<T>(waiters: Map<number, Waiter<T>>, entry: Entry, value: () => T): void {
  const w = waiters.get(entry.index);
  if (!w) return;
  waiters.delete(entry.index);
  if (w.term === entry.term) w.resolve(value());
  else
    w.reject(
      new ProposalDroppedError(
        entry.index,
        w.term,
        `index ${entry.index} was committed with an entry of term ${entry.term}`,
      ),
    );
}

/** Rejects with ProposalDroppedError(`why`) every waiter `drop` picks. */
export function rejectWhere(
  maps: readonly Map<number, Waiter<never>>[],
  drop: (index: number, w: Waiter<never>) => boolean,
  why: string,
): void {
  for (const map of maps) {
    for (const [i, w] of map) {
      if (!drop(i, w)) continue;
      map.delete(i);
      w.reject(new ProposalDroppedError(i, w.term, why));
    }
  }
}

/** Rejects with `err` every waiter of every collection (the caller empties them). */
export function rejectAll(
  err: Error,
  groups: readonly Iterable<{ readonly reject: (e: unknown) => void }>[],
): void {
  for (const g of groups) for (const w of g) w.reject(err);
}
