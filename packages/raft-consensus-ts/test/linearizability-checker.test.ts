import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  type LockInput,
  type LockOutput,
  lockTableModel,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from '../sim/linearizability.js';
import { Prng } from '../src/core/prng.js';

type RegOp = Operation<RegisterInput, RegisterOutput>;
const w = (key: string, value: string, call: number, ret: number): RegOp => ({
  call,
  ret,
  input: { key, kind: 'write', value },
  output: null,
});
const r = (key: string, output: string | null, call: number, ret: number): RegOp => ({
  call,
  ret,
  input: { key, kind: 'read' },
  output,
});
const check = (h: RegOp[]) => checkLinearizable(registerModel, h).result;

type LockOp = Operation<LockInput, LockOutput>;
const acq = (
  lock: string,
  owner: string,
  ok: boolean | undefined,
  call: number,
  ret: number,
): LockOp => ({
  call,
  ret,
  input: { lock, kind: 'acquire', owner },
  output: ok,
});
const rel = (
  lock: string,
  owner: string,
  ok: boolean | undefined,
  call: number,
  ret: number,
): LockOp => ({
  call,
  ret,
  input: { lock, kind: 'release', owner },
  output: ok,
});
const checkLocks = (h: LockOp[]) => checkLinearizable(lockTableModel, h).result;

describe('linearizability checker: register', () => {
  it('accepts a sequential history', () => {
    expect(
      check([w('x', '1', 1, 2), r('x', '1', 3, 4), w('x', '2', 5, 6), r('x', '2', 7, 8)]),
    ).toBe('ok');
  });

  it('accepts the initial value before any write', () => {
    expect(check([r('x', null, 1, 2), w('x', '1', 3, 4)])).toBe('ok');
  });

  it('rejects a stale read after a completed write', () => {
    expect(check([w('x', '1', 1, 2), w('x', '2', 3, 4), r('x', '1', 5, 6)])).toBe('illegal');
  });

  it('accepts either value for a read concurrent with a write', () => {
    expect(check([w('x', '1', 1, 2), w('x', '2', 3, 10), r('x', '1', 4, 5)])).toBe('ok');
    expect(check([w('x', '1', 1, 2), w('x', '2', 3, 10), r('x', '2', 4, 5)])).toBe('ok');
  });

  it('rejects new-then-old reads even when both overlap the write', () => {
    // Once a read has returned the new value, a read starting later cannot see the old one.
    expect(
      check([w('x', '1', 1, 2), w('x', '2', 3, 20), r('x', '2', 4, 5), r('x', '1', 6, 7)]),
    ).toBe('illegal');
  });

  it('rejects a value nobody wrote', () => {
    expect(check([w('x', '1', 1, 2), r('x', '9', 3, 4)])).toBe('illegal');
  });

  it('treats a write with unknown outcome as possibly applied at any point after its call', () => {
    const unknown: RegOp = {
      call: 3,
      ret: Number.POSITIVE_INFINITY,
      input: { key: 'x', kind: 'write', value: '2' },
      output: undefined,
    };
    expect(check([w('x', '1', 1, 2), unknown, r('x', '1', 5, 6)])).toBe('ok');
    expect(check([w('x', '1', 1, 2), unknown, r('x', '2', 5, 6)])).toBe('ok');
    // But once seen, it cannot be unseen.
    expect(check([w('x', '1', 1, 2), unknown, r('x', '2', 5, 6), r('x', '1', 7, 8)])).toBe(
      'illegal',
    );
    // And it cannot be seen before it was called.
    expect(check([w('x', '1', 1, 2), r('x', '2', 3, 4), { ...unknown, call: 5 }])).toBe('illegal');
  });

  it('checks keys independently (P-compositionality): one bad key fails the history', () => {
    expect(
      check([w('x', '1', 1, 2), r('x', '1', 3, 4), w('y', 'a', 1, 2), r('y', null, 3, 4)]),
    ).toBe('illegal');
    expect(
      check([w('x', '1', 1, 4), w('y', 'a', 1, 2), r('x', null, 2, 3), r('y', 'a', 3, 5)]),
    ).toBe('ok');
  });

  it('accepts a large concurrent history produced by a real register, quickly', () => {
    const rng = new Prng(42);
    const history: RegOp[] = [];
    let value: string | null = null;
    for (let i = 0; i < 400; i++) {
      // Each op takes effect at an instant `at`; its call and return straddle it.
      const at = 10 * (i + 1);
      const call = at - rng.int(1, 40);
      const ret = at + rng.int(1, 40);
      if (rng.next() < 0.5) {
        value = `v${i}`;
        history.push(w('x', value, call, ret));
      } else history.push(r('x', value, call, ret));
    }
    const res = checkLinearizable(registerModel, history);
    expect(res.result).toBe('ok');
  });

  it('rejects the same large history with one read corrupted to a stale value', () => {
    const rng = new Prng(7);
    const history: RegOp[] = [];
    let value: string | null = null;
    for (let i = 0; i < 300; i++) {
      const at = 10 * (i + 1);
      if (rng.next() < 0.5) {
        value = `v${i}`;
        history.push(w('x', value, at - 2, at + 2));
      } else history.push(r('x', value, at - 2, at + 2));
    }
    const readIdx = history.findIndex((op, i) => i > 150 && op.input.kind === 'read');
    const stale = history.find((op) => op.input.kind === 'write') as RegOp;
    history[readIdx] = {
      ...(history[readIdx] as RegOp),
      output: (stale.input as { value: string }).value,
    };
    expect(check(history)).toBe('illegal');
  });
});

describe('linearizability checker: lock table', () => {
  it('accepts acquire, release, acquire by another owner', () => {
    expect(
      checkLocks([acq('L', 'a', true, 1, 2), rel('L', 'a', true, 3, 4), acq('L', 'b', true, 5, 6)]),
    ).toBe('ok');
  });

  it('rejects two owners holding the lock at once', () => {
    expect(checkLocks([acq('L', 'a', true, 1, 2), acq('L', 'b', true, 3, 4)])).toBe('illegal');
  });

  it('rejects a release by a non-owner that succeeds', () => {
    expect(checkLocks([acq('L', 'a', true, 1, 2), rel('L', 'b', true, 3, 4)])).toBe('illegal');
  });

  it('accepts concurrent acquires where exactly one wins, in either real-time order', () => {
    expect(checkLocks([acq('L', 'a', false, 1, 5), acq('L', 'b', true, 2, 6)])).toBe('ok');
    expect(checkLocks([acq('L', 'a', true, 1, 5), acq('L', 'b', false, 2, 6)])).toBe('ok');
    expect(checkLocks([acq('L', 'a', false, 1, 5), acq('L', 'b', false, 2, 6)])).toBe('illegal');
  });

  it('an acquire with unknown outcome may explain a later failure, and locks are independent', () => {
    expect(
      checkLocks([
        acq('L', 'a', undefined, 1, Number.POSITIVE_INFINITY),
        acq('L', 'b', false, 3, 4),
      ]),
    ).toBe('ok');
    expect(
      checkLocks([acq('L', 'a', true, 1, 2), acq('M', 'b', true, 3, 4), rel('M', 'b', true, 5, 6)]),
    ).toBe('ok');
    expect(
      checkLocks([acq('L', 'a', true, 1, 2), acq('M', 'b', true, 3, 4), acq('M', 'c', true, 5, 6)]),
    ).toBe('illegal');
  });

  it('reports unknown rather than running forever when the search budget is exhausted', () => {
    // 16 concurrent writes of distinct values, then a read of a value no one wrote:
    // proving it illegal means trying every order of the writes.
    const ops: RegOp[] = [];
    for (let i = 0; i < 16; i++) ops.push(w('x', `v${i}`, 1, 100));
    ops.push(r('x', 'nobody', 101, 102));
    const res = checkLinearizable(registerModel, ops, { maxExplored: 1000 });
    expect(res.result).toBe('unknown');
    expect(res.explored).toBeLessThanOrEqual(1001);
  });
});
