/**
 * The idempotency keys of recent writes, part of the replicated state: a write
 * repeated with the same key (a client retrying after a 504 or a lost
 * connection) is answered from here and applies nothing again. Bounded: the
 * oldest keys are forgotten first, so a retry must come within the last
 * `limit` keyed writes (thousands; a client retries within seconds).
 */
import { type AppliedWrite, WRITE_KEYS_KEPT } from '@coxswain/protocol';

export class WriteKeys {
  readonly #limit: number;
  #order: AppliedWrite[] = [];
  #byKey = new Map<string, AppliedWrite>();

  constructor(limit: number = WRITE_KEYS_KEPT) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): AppliedWrite | undefined {
    return this.#byKey.get(key);
  }

  /** Remembers the first application of `key`; a repeat keeps the first. */
  record(key: string, index: number, op: string): void {
    if (this.#byKey.has(key)) return;
    const entry: AppliedWrite = { key, index, op };
    this.#order.push(entry);
    this.#byKey.set(key, entry);
    while (this.#order.length > this.#limit) this.#byKey.delete(this.#order.shift()!.key);
  }

  toArray(): AppliedWrite[] {
    return [...this.#order];
  }

  load(entries: readonly AppliedWrite[]): void {
    this.#order = [];
    this.#byKey = new Map();
    for (const e of entries) this.record(e.key, e.index, e.op);
  }
}
