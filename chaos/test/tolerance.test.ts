import { describe, expect, it } from 'vitest';
import {
  blastRadiusRefusal,
  meetsTolerance,
  pick,
  seededRandom,
  valueAtPath,
} from '../src/index.js';

describe('tolerances', () => {
  it('checks a value, a range, a regex and a JSON path', () => {
    expect(meetsTolerance(3, 3).met).toBe(true);
    expect(meetsTolerance(2, 3).met).toBe(false);
    expect(meetsTolerance(true, true).met).toBe(true);
    expect(meetsTolerance(120, { range: [100, 200] }).met).toBe(true);
    expect(meetsTolerance(201, { range: [100, 200] }).met).toBe(false);
    expect(meetsTolerance('leader host-2', { regex: '^leader host-\\d$' }).met).toBe(true);
    expect(meetsTolerance({ a: { b: [{ c: 7 }] } }, { jsonPath: 'a.b[0].c', equals: 7 }).met).toBe(
      true,
    );
    expect(
      meetsTolerance({ a: { b: [{ c: 7 }] } }, { jsonPath: '$.a.b[0].c', range: [8, 9] }).met,
    ).toBe(false);
    expect(
      meetsTolerance({ running: 3, desired: 3 }, { equals: { running: 3, desired: 3 } }).met,
    ).toBe(true);
  });

  it('reads missing paths as undefined', () => {
    expect(valueAtPath({ a: 1 }, 'a.b.c')).toBeUndefined();
    expect(meetsTolerance({ a: 1 }, { jsonPath: 'x' }).met).toBe(false);
  });
});

describe('blast radius', () => {
  const voters = ['host-1', 'host-2', 'host-3'];
  const limits = { maxHostsDown: 2, allowQuorumLoss: false };

  it('allows one of three voters down', () => {
    expect(blastRadiusRefusal({ voters, down: new Set() }, ['host-1'], limits)).toBeUndefined();
  });

  it('refuses a second voter down (no quorum left) unless allowed', () => {
    const down = new Set(['host-1']);
    expect(blastRadiusRefusal({ voters, down }, ['host-2'], limits)).toMatch(
      /fewer than a quorum of 2/,
    );
    expect(
      blastRadiusRefusal({ voters, down }, ['host-2'], { ...limits, allowQuorumLoss: true }),
    ).toBeUndefined();
  });

  it('refuses more hosts down than maxHostsDown, and counts a host once', () => {
    const down = new Set(['host-4']);
    expect(
      blastRadiusRefusal({ voters, down }, ['host-5'], { maxHostsDown: 1, allowQuorumLoss: true }),
    ).toMatch(/maxHostsDown 1/);
    expect(
      blastRadiusRefusal({ voters, down }, ['host-4'], { maxHostsDown: 1, allowQuorumLoss: false }),
    ).toBeUndefined();
  });
});

describe('seeded choice', () => {
  it('picks the same items for the same seed and never twice', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    expect(pick(items, 3, seededRandom(7))).toEqual(pick(items, 3, seededRandom(7)));
    expect(new Set(pick(items, 5, seededRandom(1))).size).toBe(5);
  });
});
