import { decode, NodeReport, PROTOCOL_VERSION, subjects } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';

describe('decode', () => {
  it('names the path of a bad field', () => {
    const result = decode(NodeReport, JSON.stringify({ v: PROTOCOL_VERSION, nodeId: 'a b' }), {
      where: 'cox.x.report.a',
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/at nodeId: /);
  });
  it('builds subjects', () => {
    expect(subjects('lab').report('n1')).toBe('cox.lab.report.n1');
  });
});
