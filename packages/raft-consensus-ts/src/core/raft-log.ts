import type { Entry, Membership, SnapshotMeta } from '../types.js';
import { decodeConfigEntry } from './config-entry.js';

/**
 * The core's in-memory view of the log: everything after the last compaction
 * point, plus the membership history needed to roll a config back when a
 * follower truncates an uncommitted config entry.
 */
export class RaftLog {
  private snapIndex: number;
  private snapTerm: number;
  /** Membership as of snapIndex (from the snapshot, or the bootstrap membership). */
  private baseMembership: Membership;
  private entries: Entry[] = [];
  /** Config entries still in `entries`, ascending by index. */
  private configs: { index: number; membership: Membership }[] = [];

  constructor(
    snapshot: SnapshotMeta | undefined,
    bootstrap: Membership,
    entries: readonly Entry[],
  ) {
    this.snapIndex = snapshot?.index ?? 0;
    this.snapTerm = snapshot?.term ?? 0;
    this.baseMembership = snapshot?.membership ?? bootstrap;
    this.appendAt(this.snapIndex + 1, entries);
  }

  get snapshotIndex(): number {
    return this.snapIndex;
  }
  get snapshotTerm(): number {
    return this.snapTerm;
  }
  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }
  lastTerm(): number {
    return this.entries.length === 0
      ? this.snapTerm
      : (this.entries[this.entries.length - 1] as Entry).term;
  }
  /** Term of `index`, or undefined when it is compacted or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return (this.entries[index - this.snapIndex - 1] as Entry).term;
  }
  entry(index: number): Entry | undefined {
    if (index <= this.snapIndex) return undefined;
    return this.entries[index - this.snapIndex - 1];
  }
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }
  /** Entries in [lo, hi]; lo must be above the snapshot. */
  slice(lo: number, hi: number): Entry[] {
    if (lo > hi) return [];
    return this.entries.slice(lo - this.snapIndex - 1, hi - this.snapIndex);
  }
  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Appends `entries` starting at `index`, dropping whatever was at and after it. Returns whether membership changed. */
  appendAt(index: number, entries: readonly Entry[]): boolean {
    let changed = false;
    if (index <= this.lastIndex()) changed = this.truncateFrom(index) || changed;
    for (const e of entries) {
      this.entries.push(e);
      if (e.type === 'config') {
        this.configs.push({
          index: e.index,
          membership: decodeConfigEntry(e.data, e.index).membership,
        });
        changed = true;
      }
    }
    return changed;
  }

  private truncateFrom(index: number): boolean {
    this.entries.length = Math.max(0, index - this.snapIndex - 1);
    let changed = false;
    while (
      this.configs.length > 0 &&
      (this.configs[this.configs.length - 1] as { index: number }).index >= index
    ) {
      this.configs.pop();
      changed = true;
    }
    return changed;
  }

  /** The latest membership in the log, committed or not (config takes effect on append). */
  membership(): Membership {
    return this.configs.length === 0
      ? this.baseMembership
      : (this.configs[this.configs.length - 1] as { membership: Membership }).membership;
  }
  /** Index of the latest config entry in the log (0 if only the base membership). */
  membershipIndex(): number {
    return this.configs.length === 0
      ? this.snapIndex
      : (this.configs[this.configs.length - 1] as { index: number }).index;
  }
  membershipAt(index: number): Membership {
    let result = this.baseMembership;
    for (const c of this.configs) {
      if (c.index > index) break;
      result = c.membership;
    }
    return result;
  }

  /** Drops entries up to `index` (inclusive), keeping their term and membership as the new base. */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    const term = this.term(index) as number;
    this.baseMembership = this.membershipAt(index);
    this.entries = this.entries.slice(index - this.snapIndex);
    this.configs = this.configs.filter((c) => c.index > index);
    this.snapIndex = index;
    this.snapTerm = term;
  }

  /** Replaces the whole log with a snapshot's state (a follower installing a snapshot that does not match its log). */
  restore(meta: SnapshotMeta): void {
    this.entries = [];
    this.configs = [];
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.baseMembership = meta.membership;
  }
}
