/**
 * One async mutex per key. The executor and the supervisor take the same
 * service's lock, so a leader's command and a local restart never act on one
 * service at once on this agent (and the executor's count includes whatever
 * the supervisor just started).
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  busy(key: string): boolean {
    return this.#tails.has(key);
  }
}
