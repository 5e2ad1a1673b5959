import { describe, expect, it } from 'vitest';
import { bytes, TestCluster, text } from './core-harness.js';

describe('RaftCore smoke', () => {
  it('elects a leader, replicates and commits on all three nodes', () => {
    const c = new TestCluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.core('a').status().role).toBe('leader');
    const { index } = c.core('a').propose(bytes('x=1'));
    c.deliverAll();
    for (const id of ['a', 'b', 'c']) {
      const applied = c.node(id).applied;
      expect(applied.map((e) => e.index)).toContain(index);
      expect(text(applied.find((e) => e.index === index)?.data ?? new Uint8Array())).toBe('x=1');
    }
  });

  it('a single node elects itself and commits at once', () => {
    const c = new TestCluster(['solo']);
    c.elect('solo');
    c.core('solo').propose(bytes('v'));
    c.flush();
    expect(c.node('solo').applied.map((e) => e.type)).toEqual(['config', 'noop', 'normal']);
  });
});
