import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { HeapAfterMajorGc } from '../src/heap-after-gc.js';
import { MetricsRegistry } from '../src/index.js';

// A real major collection, forced the way Node's own tests do it without --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('heap after the latest major collection', () => {
  it('is unknown before a major collection is seen, then the heap V8 kept', async () => {
    const heap = new HeapAfterMajorGc();
    try {
      expect(heap.collections).toBe(0);
      gc();
      await tick();
      expect(heap.collections).toBeGreaterThanOrEqual(1);
      expect(heap.bytes).toBeGreaterThan(1024 * 1024);
    } finally {
      heap.stop();
    }
  });

  it('is exported with the default metrics', async () => {
    const m = new MetricsRegistry();
    gc();
    await tick();
    const text = await m.registry.metrics();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('nodejs_heap_used_after_major_gc_bytes '));
    expect(Number(line?.split(' ')[1])).toBeGreaterThan(1024 * 1024);
  });
});
