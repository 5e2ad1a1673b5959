/**
 * Invariants of the node simulator, fed from what each node stores (every save
 * call, not only what reaches a Ready), what storage acknowledged, and what
 * state machines apply.
 */
import { crc32c } from '../src/storage/crc32c.js';
import type {
  Entry,
  HardState,
  InitialState,
  NodeId,
  RaftStorage,
  Snapshot,
  Status,
} from '../src/types.js';

export class Violation extends Error {}

/** Terms of a log from base+1, with the base's term when known. */
class TermLog {
  base = 0;
  terms: number[] = [];
  last(): number {
    return this.base + this.terms.length;
  }
  at(i: number): number | undefined {
    return i > this.base ? this.terms[i - this.base - 1] : undefined;
  }
  put(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    this.terms.length = Math.max(0, Math.min(this.terms.length, first.index - this.base - 1));
    for (const e of entries) if (e.index > this.base) this.terms.push(e.term);
  }
  snapshot(index: number, term: number): void {
    if (index <= this.base) return;
    this.terms = this.at(index) === term ? this.terms.slice(index - this.base) : [];
    this.base = index;
  }
  reset(state: InitialState): void {
    this.base = state.snapshot?.index ?? 0;
    this.terms = state.entries.map((e) => e.term);
  }
}

const hash = (data: Uint8Array): number => crc32c(data) ^ data.length;

export class Invariants {
  readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly entryAt = new Map<string, { hash: number; prevTerm: number | undefined }>();
  /** Entries applied anywhere; `commitTerm` bounds the term they were committed in (see apply). */
  readonly committed = new Map<number, { term: number; hash: number; commitTerm: number }>();
  maxCommitted = 0;
  checks = 0;
  private readonly completenessChecked = new Set<string>();

  leader(node: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other === undefined) this.leaderOfTerm.set(term, node);
    else if (other !== node)
      throw new Violation(`election safety: ${other} and ${node} both lead term ${term}`);
  }

  /**
   * `term` is the applying node's current term. A node applies an entry only once a leader of
   * some term L counted it committed, and its own term is then at least L; the entry was
   * committed in a term no later than L. So the least such term over all nodes bounds from
   * above the term in which the entry was committed, the term that Leader Completeness is about.
   */
  apply(node: NodeId, e: Entry, term: number): void {
    const h = hash(e.data);
    const seen = this.committed.get(e.index);
    if (seen === undefined)
      this.committed.set(e.index, { term: e.term, hash: h, commitTerm: term });
    else if (seen.term !== e.term || seen.hash !== h)
      throw new Violation(
        `state machine safety: ${node} applied (${e.index}, t${e.term}), another node (${e.index}, t${seen.term})`,
      );
    else if (term < seen.commitTerm) seen.commitTerm = term;
    if (e.index > this.maxCommitted) this.maxCommitted = e.index;
  }

  /** Log Matching over every stored entry; Leader Append-Only; Leader Completeness at a leader's first own entry. */
  stored(node: NodeId, log: TermLog, entries: readonly Entry[], status: Status | undefined): void {
    this.checks++;
    const first = entries[0];
    if (first === undefined) return;
    if (status?.role === 'leader') {
      for (let i = first.index; i <= log.last(); i++) {
        if (log.at(i) === status.term)
          throw new Violation(
            `leader append-only: ${node}, leader of term ${status.term}, overwrote its entry ${i}`,
          );
      }
    }
    let prev = first.index - 1 > log.base ? log.at(first.index - 1) : undefined;
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const h = hash(e.data);
      const known = this.entryAt.get(key);
      if (known === undefined) this.entryAt.set(key, { hash: h, prevTerm: prev });
      else {
        if (known.hash !== h)
          throw new Violation(`log matching: (${e.index}, t${e.term}) has two payloads (${node})`);
        if (known.prevTerm !== undefined && prev !== undefined && known.prevTerm !== prev)
          throw new Violation(
            `log matching: (${e.index}, t${e.term}) follows t${prev} on ${node}, t${known.prevTerm} elsewhere`,
          );
        if (known.prevTerm === undefined && prev !== undefined) known.prevTerm = prev;
      }
      prev = e.term;
    }
    log.put(entries);
    // Leader Completeness, once per leader and term, at its first own entry (by then every entry it
    // held when elected has gone through save()): entries applied anywhere that were committed in
    // an earlier term. Not every entry of an earlier term: a candidate paused with the votes
    // of its term on their way wins that term after a later term's leader committed more entries
    // of old terms (node simulator seed 15428: n1 wins term 5 at the heal, after n2 committed
    // (10, t3) in term 6); Raft promises those to leaders of terms after 6 only.
    if (status?.role !== 'leader' || !entries.some((e) => e.term === status.term)) return;
    const key = `${node}:${status.term}`;
    if (this.completenessChecked.has(key)) return;
    this.completenessChecked.add(key);
    for (const [index, c] of this.committed) {
      if (index <= log.base || c.commitTerm >= status.term) continue;
      if (log.at(index) !== c.term)
        throw new Violation(
          `leader completeness: ${node} leads term ${status.term} without (${index}, t${c.term}), committed by term ${c.commitTerm}; has t${log.at(index) ?? 'none'}`,
        );
    }
  }
}

export interface StorageHooks {
  readonly node: NodeId;
  readonly inv: Invariants;
  /** What the node says it is at the moment of a save (undefined before it started). */
  readonly status: () => Status | undefined;
  /** What the node's storage acknowledged, across restarts of its process. */
  readonly acked: {
    hardState: HardState;
    log: TermLog;
    /** A save or snapshot issued but not acknowledged: after a kill it may still have landed whole. */
    inflight?: readonly Entry[] | 'snapshot';
  };
}

export function newAcked(): StorageHooks['acked'] {
  return { hardState: { term: 0, vote: null, commit: 0 }, log: new TermLog() };
}

/**
 * Wraps a node's FileStorage: checks what is stored, remembers what was
 * acknowledged, and on load checks that nothing acknowledged is gone.
 */
export class CheckedStorage implements RaftStorage {
  private readonly stored = new TermLog();
  loadedState: (InitialState & { snapshotData?: Uint8Array }) | undefined;

  constructor(
    private readonly inner: RaftStorage,
    private readonly hooks: StorageHooks,
  ) {}

  async load(): Promise<InitialState & { readonly snapshotData?: Uint8Array }> {
    const state = await this.inner.load();
    const { acked, node } = this.hooks;
    const hs = state.hardState;
    if (
      hs.term < acked.hardState.term ||
      (hs.term === acked.hardState.term &&
        acked.hardState.vote !== null &&
        hs.vote !== acked.hardState.vote)
    )
      throw new Violation(
        `durability: ${node} acknowledged term ${acked.hardState.term} vote ${acked.hardState.vote}, loaded term ${hs.term} vote ${hs.vote}`,
      );
    const base = state.snapshot?.index ?? 0;
    if (base < acked.log.base)
      throw new Violation(`durability: ${node} lost snapshot ${acked.log.base} (loaded ${base})`);
    const loaded = new TermLog();
    loaded.reset(state);
    const inflight = acked.inflight;
    const snapshotLanded = inflight === 'snapshot' && base > acked.log.base;
    const first = inflight !== undefined && inflight !== 'snapshot' ? inflight[0] : undefined;
    // An unacknowledged save is one record: it landed whole (its entries replace the log from its first index) or not at all.
    const landed =
      first !== undefined &&
      (inflight as readonly Entry[]).every((e) => e.index <= base || loaded.at(e.index) === e.term);
    const checkTo = landed && first !== undefined ? first.index - 1 : acked.log.last();
    for (let i = Math.max(base, acked.log.base) + 1; !snapshotLanded && i <= checkTo; i++) {
      if (loaded.at(i) !== acked.log.at(i))
        throw new Violation(
          `durability: ${node} acknowledged entry ${i} (t${acked.log.at(i)}), loaded t${loaded.at(i) ?? 'none'}`,
        );
    }
    acked.hardState = hs;
    acked.log.reset(state);
    acked.inflight = undefined;
    this.stored.reset(state);
    this.loadedState = state;
    return state;
  }

  async save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    this.hooks.inv.stored(this.hooks.node, this.stored, entries, this.hooks.status());
    const { acked } = this.hooks;
    if (entries.length > 0) acked.inflight = entries;
    await this.inner.save(hardState, entries);
    acked.inflight = undefined;
    if (
      hardState &&
      (hardState.term !== acked.hardState.term || hardState.vote !== acked.hardState.vote)
    )
      acked.hardState = hardState;
    acked.log.put(entries);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.meta;
    this.stored.snapshot(index, term);
    this.hooks.acked.inflight = 'snapshot';
    await this.inner.saveSnapshot(snapshot);
    this.hooks.acked.inflight = undefined;
    this.hooks.acked.log.snapshot(index, term);
  }

  compact(index: number): Promise<void> {
    return this.inner.compact(index);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Whether two loads saw the same state (for the bit-flip oracle). */
export function sameState(a: InitialState, b: InitialState): boolean {
  if (JSON.stringify(a.hardState) !== JSON.stringify(b.hardState)) return false;
  if ((a.snapshot?.index ?? 0) !== (b.snapshot?.index ?? 0)) return false;
  if ((a.snapshot?.term ?? 0) !== (b.snapshot?.term ?? 0)) return false;
  if (a.entries.length !== b.entries.length) return false;
  return a.entries.every((e, i) => {
    const f = b.entries[i] as Entry;
    return (
      e.index === f.index && e.term === f.term && e.type === f.type && hash(e.data) === hash(f.data)
    );
  });
}
