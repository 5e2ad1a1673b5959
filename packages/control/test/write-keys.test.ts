import { describe, expect, it } from 'vitest';
import { WriteKeys } from '../src/write-keys.js';

describe('WriteKeys', () => {
  it('keeps the first application of a key, and forgets the oldest keys beyond its bound', () => {
    const keys = new WriteKeys(3);
    keys.record('k1', 10, 'scale.set');
    keys.record('k1', 11, 'scale.set');
    expect(keys.get('k1')).toEqual({ key: 'k1', index: 10, op: 'scale.set' });
    keys.record('k2', 12, 'service.put');
    keys.record('k3', 13, 'service.delete');
    keys.record('k4', 14, 'scale.set');
    expect(keys.size).toBe(3);
    expect(keys.get('k1')).toBeUndefined();
    expect(keys.toArray().map((k) => k.key)).toEqual(['k2', 'k3', 'k4']);
    for (let i = 0; i < 10_000; i++) keys.record(`x${i}`, 100 + i, 'scale.set');
    expect(keys.size).toBe(3);
    const copy = new WriteKeys(3);
    copy.load(keys.toArray());
    expect(copy.toArray()).toEqual(keys.toArray());
  });
});
