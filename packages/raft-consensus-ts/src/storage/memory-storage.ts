import type {
  Entry,
  HardState,
  InitialState,
  RaftStorage,
  Snapshot,
  SnapshotMeta,
} from '../types.js';

/**
 * Storage that lives in memory: for tests and simulations. It keeps the same
 * semantics as FileStorage (truncate-on-overwrite, snapshot drops covered
 * entries) so a node restarted from the same instance behaves like one restarted
 * from disk.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private entries: Entry[] = [];
  private snapshot: Snapshot | undefined;
  /** Count of save() calls, for tests that check batching. */
  saves = 0;

  async load(): Promise<InitialState & { readonly snapshotData?: Uint8Array }> {
    const snapshot: SnapshotMeta | undefined = this.snapshot?.meta;
    return {
      hardState: { ...this.hardState },
      entries: [...this.entries],
      ...(snapshot ? { snapshot, snapshotData: this.snapshot?.data } : {}),
    };
  }

  async save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    this.saves++;
    const first = entries[0];
    if (first) {
      const base = this.snapshot?.meta.index ?? 0;
      const keep = Math.max(0, first.index - base - 1);
      if (keep > this.entries.length)
        throw new RangeError(
          `entries from ${first.index} leave a gap after ${base + this.entries.length}`,
        );
      this.entries.length = keep;
      for (const e of entries) if (e.index > base) this.entries.push(e);
    }
    if (hardState) this.hardState = { ...hardState };
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.meta;
    const base = this.snapshot?.meta.index ?? 0;
    if (index <= base) return;
    const at = this.entries[index - base - 1];
    this.entries = at && at.term === term ? this.entries.slice(index - base) : [];
    this.snapshot = snapshot;
  }

  async compact(_index: number): Promise<void> {
    // saveSnapshot already dropped what the snapshot covers; nothing else is held.
  }

  async close(): Promise<void> {}
}
