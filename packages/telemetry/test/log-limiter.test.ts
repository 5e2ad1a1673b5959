import { describe, expect, it } from 'vitest';
import { LogLimiter } from '../src/index.js';

describe('LogLimiter', () => {
  it('lets one line per key per window through and counts the rest', () => {
    let now = 0;
    const log = new LogLimiter({ now: () => now });
    expect(log.take('a')).toBe(0);
    expect(log.take('a')).toBeUndefined();
    expect(log.take('b')).toBe(0);
    now = 59_999;
    expect(log.take('a')).toBeUndefined();
    now = 60_000;
    expect(log.take('a')).toBe(2);
    expect(log.take('a')).toBeUndefined();
  });

  it('lets perWindow lines through per window, then reports how many it suppressed', () => {
    let now = 0;
    const l = new LogLimiter({ perWindow: 2, windowMs: 1000, now: () => now });
    const taken = [0, 1, 2, 3].map((t) => {
      now = t;
      return l.take();
    });
    expect(taken).toEqual([0, 0, undefined, undefined]);
    now = 1000;
    expect(l.take()).toBe(2);
    now = 1001;
    expect(l.take()).toBe(0);
  });
});
