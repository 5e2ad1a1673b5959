import type { RecentSpansQuery, SpanRecord } from './span-record.js';

/**
 * A fixed-size ring of the most recent finished spans. Pure: no clock, no I/O;
 * the span processor feeds it, `/v1/traces` reads it. Pushing past capacity
 * overwrites the oldest span, so memory stays bounded however busy the agent is.
 */
export class SpanRing {
  readonly capacity: number;
  readonly #slots: (SpanRecord | undefined)[];
  /** Index the next push writes to. */
  #next = 0;
  #size = 0;
  #evicted = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`span ring capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#slots = new Array<SpanRecord | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.#size;
  }

  /** How many spans have been overwritten since the ring was made. */
  get evicted(): number {
    return this.#evicted;
  }

  push(span: SpanRecord): void {
    if (this.#size === this.capacity) this.#evicted += 1;
    else this.#size += 1;
    this.#slots[this.#next] = span;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /**
   * The newest `limit` spans (all, when no limit) matching the query, returned
   * oldest first: the order they finished in, which is how a trace reads.
   */
  recent(query: RecentSpansQuery = {}): SpanRecord[] {
    const limit = query.limit ?? this.#size;
    const out: SpanRecord[] = [];
    // Walk back from the newest so a small limit costs only what it returns.
    for (let i = 1; i <= this.#size && out.length < limit; i++) {
      const span = this.#slots[(this.#next - i + this.capacity) % this.capacity];
      if (span === undefined) continue;
      if (query.traceId !== undefined && span.traceId !== query.traceId) continue;
      out.push(span);
    }
    return out.reverse();
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
