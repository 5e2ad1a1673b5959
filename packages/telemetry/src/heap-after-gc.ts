import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/**
 * The V8 heap in use just after the latest major (mark-compact) collection: the live heap, the
 * figure a leak shows in. RSS and heap used at a random moment also carry garbage V8 has not
 * collected yet and heap it keeps committed, so they can climb for minutes without a leak.
 * Read in the observer's callback, a tick after the collection, so it is a close upper bound.
 */
export class HeapAfterMajorGc {
  #bytes: number | undefined;
  #collections = 0;
  readonly #observer: PerformanceObserver;

  constructor() {
    this.#observer = new PerformanceObserver((list) => {
      const major = list
        .getEntries()
        .some(
          (e) =>
            (e as { detail?: { kind?: number } }).detail?.kind ===
            constants.NODE_PERFORMANCE_GC_MAJOR,
        );
      if (!major) return;
      this.#bytes = getHeapStatistics().used_heap_size;
      this.#collections++;
    });
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Bytes, or undefined before the first major collection. */
  get bytes(): number | undefined {
    return this.#bytes;
  }

  /** Major collections seen. */
  get collections(): number {
    return this.#collections;
  }

  stop(): void {
    this.#observer.disconnect();
  }
}
