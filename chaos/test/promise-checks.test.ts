import { ApiRequestError, ApiUnreachableError } from '@coxswain/client';
import type { ChaosWriteRecord } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import {
  type ApiRunningSample,
  apiRunningVerdict,
  type EngineSample,
  lastWriteVerdict,
  maxBoundVerdict,
  outcomeOf,
} from '../src/index.js';

function write(
  seq: number,
  replicas: number,
  outcome: ChaosWriteRecord['outcome'],
  applied: boolean,
  appliedIndex: number | null,
  extra: Partial<ChaosWriteRecord> = {},
): ChaosWriteRecord {
  return {
    seq,
    service: 'web',
    replicas,
    key: `k${seq}`,
    via: 'host-1',
    sentAtMs: seq * 1000,
    answeredAtMs: seq * 1000 + 500,
    outcome,
    status: outcome === 'acked' ? 200 : outcome === 'uncertain' ? 504 : 409,
    code: outcome === 'acked' ? null : outcome === 'uncertain' ? 'COX_TIMEOUT' : 'COX_SUPERSEDED',
    applied,
    appliedIndex,
    ...extra,
  };
}

const converged = { ok: true, detail: 'engines 3, API 3, want 3' };

describe('last-write promise', () => {
  it('issue #16 item 1: a 504 write applied after the newer acknowledged write is resurrected', () => {
    const v = lastWriteVerdict({
      writes: [
        write(0, 2, 'acked', true, 10),
        write(1, 7, 'uncertain', true, 40),
        write(2, 3, 'acked', true, 30),
      ],
      finalManual: 7,
      converged,
      samples: [],
    });
    expect(v.ok).toBe(false);
    expect(v.value.resurrected).toBe(1);
    expect(v.violations[0]).toMatch(/resurrected: write #1 \(7/);
    expect(v.violations.some((x) => /final count 7.*asked 3/.test(x))).toBe(true);
  });

  it('holds when the older 504 write never applied, or applied before the newer one', () => {
    for (const older of [
      write(1, 7, 'uncertain', false, null),
      write(1, 7, 'uncertain', true, 20),
    ]) {
      const v = lastWriteVerdict({
        writes: [write(0, 2, 'acked', true, 10), older, write(2, 3, 'acked', true, 30)],
        finalManual: 3,
        converged,
        samples: [],
      });
      expect(v.violations).toEqual([]);
      expect(v.value).toMatchObject({ resurrected: 0, expected: 3, final: 3 });
    }
  });

  it('a later uncertain write that applied is the one the count must show', () => {
    const v = lastWriteVerdict({
      writes: [write(0, 3, 'acked', true, 10), write(1, 5, 'uncertain', true, 20)],
      finalManual: 5,
      converged,
      samples: [],
    });
    expect(v.ok).toBe(true);
    expect(v.value.expected).toBe(5);
  });

  it('a refused write that applied, an ack with no record, and no convergence are violations', () => {
    const v = lastWriteVerdict({
      writes: [write(0, 4, 'refused', true, 5), write(1, 3, 'acked', false, null)],
      finalManual: 3,
      converged: { ok: false, detail: 'engines 4, API 3, want 3' },
      samples: [],
    });
    expect(v.violations).toHaveLength(3);
    expect(v.violations.join('\n')).toMatch(/refused.*yet applied/);
    expect(v.violations.join('\n')).toMatch(/acknowledged but is not recorded/);
    expect(v.violations.join('\n')).toMatch(/did not converge/);
  });

  it('a node that had applied the last ack and showed an older count is a transient resurrection', () => {
    const writes = [write(0, 5, 'uncertain', true, 20), write(1, 9, 'acked', true, 30)];
    const ok = lastWriteVerdict({
      writes,
      finalManual: 9,
      converged,
      // Behind the ack (index 25): an older count is only lag, not a resurrection.
      samples: [{ atMs: 2000, node: 'host-2', appliedIndex: 25, manualReplicas: 5 }],
    });
    expect(ok.ok).toBe(true);
    const bad = lastWriteVerdict({
      writes,
      finalManual: 9,
      converged,
      samples: [
        { atMs: 2000, node: 'host-2', appliedIndex: 30, manualReplicas: 9 },
        { atMs: 2200, node: 'host-2', appliedIndex: 33, manualReplicas: 5 },
      ],
    });
    expect(bad.violations).toEqual([
      '1 samples after the last ack showed an older count (first: host-2 at 2200 ms: 5)',
    ]);
  });

  it('classifies answers: 2xx acked elsewhere, 504 and no answer uncertain, others refused', () => {
    expect(outcomeOf(new ApiRequestError(504, 'COX_TIMEOUT', 'deadline')).outcome).toBe(
      'uncertain',
    );
    expect(outcomeOf(new ApiUnreachableError('http://x', new Error('timeout'))).outcome).toBe(
      'uncertain',
    );
    expect(outcomeOf(new ApiRequestError(503, 'COX_NO_LEADER', 'none'))).toEqual({
      outcome: 'refused',
      status: 503,
      code: 'COX_NO_LEADER',
    });
  });
});

const engines = (
  atMs: number,
  counts: Record<string, number | null>,
  down: string[] = [],
): EngineSample => ({
  atMs,
  counts,
  down,
});

describe('max-bound promise', () => {
  it('allows max + what a frozen or cut-off host runs, until it is trimmed', () => {
    const v = maxBoundVerdict(
      [
        engines(0, { a: 3, b: 3, c: 3 }),
        // c frozen with its 3: the others get 9 between them.
        engines(100, { a: 5, b: 4, c: 3 }, ['c']),
        // c back: its 3 still count until trimmed.
        engines(200, { a: 5, b: 4, c: 3 }),
        engines(300, { a: 5, b: 4, c: 0 }),
      ],
      9,
      15_000,
    );
    expect(v.violations).toEqual([]);
    expect(v.value).toMatchObject({ peak: 12, boundAtPeak: 12, samplesOver: 0 });
  });

  it('a killed host restarting its old assignment above max breaks it (issue #16 item 3)', () => {
    const v = maxBoundVerdict(
      [
        // Killed: its engine does not answer; no allowance.
        engines(0, { a: 5, b: 4, c: null }, ['c']),
        // Restarted (no longer down): it brings its 3 back before the leader tells it 0.
        engines(3000, { a: 5, b: 4, c: 3 }),
      ],
      9,
      15_000,
    );
    expect(v.ok).toBe(false);
    expect(v.value).toMatchObject({ peak: 12, boundAtPeak: 9, samplesOver: 1, worstOver: 3 });
    expect(v.violations[0]).toMatch(/^12 running at 3000 ms > bound 9/);
  });

  it('more than max on connected hosts breaks it; a returned host not trimmed in time too', () => {
    expect(maxBoundVerdict([engines(0, { a: 6, b: 4 })], 9, 1000).ok).toBe(false);
    const late = maxBoundVerdict(
      [
        engines(0, { a: 5, b: 4, c: 2 }, ['c']),
        engines(100, { a: 5, b: 4, c: 2 }),
        engines(1200, { a: 5, b: 4, c: 2 }),
      ],
      9,
      1000,
    );
    expect(late.value).toMatchObject({ samplesOver: 1 });
    expect(late.violations[0]).toMatch(/at 1200 ms > bound 9/);
  });
});

const api = (
  atMs: number,
  running: Record<string, number>,
  enginesNow: Record<string, number | null>,
  downSinceMs: Record<string, number> = {},
  unknown: Record<string, number> = {},
): ApiRunningSample => ({
  atMs,
  node: 'host-1',
  running,
  unknown,
  engines: enginesNow,
  downSinceMs,
});

describe('api-running-truth promise', () => {
  it('a dead host counted as running after the stale window breaks it (issue #16 item 5)', () => {
    const v = apiRunningVerdict(
      [
        api(1000, { a: 3, b: 3, c: 3 }, { a: 3, b: 3, c: null }, { c: 0 }),
        api(7000, { a: 3, b: 3, c: 3 }, { a: 3, b: 3, c: null }, { c: 0 }),
      ],
      6000,
      5000,
    );
    expect(v.violations).toEqual(['host-1 counted 3 running on c 7000 ms after it went down']);
    expect(v.value).toMatchObject({ deadHostCounted: 1 });
  });

  it('holds when the down host moves to unknown, and a short over-count is report lag', () => {
    const v = apiRunningVerdict(
      [
        api(1000, { a: 3, b: 3, c: 3 }, { a: 3, b: 3, c: 3 }, { c: 0 }),
        api(7000, { a: 3, b: 3 }, { a: 3, b: 3, c: 3 }, { c: 0 }, { c: 3 }),
        // b lost a container; the API still says 3 for 2 s.
        api(8000, { a: 3, b: 3 }, { a: 3, b: 2, c: 3 }, { c: 0 }, { c: 3 }),
        api(10_000, { a: 3, b: 2 }, { a: 3, b: 2, c: 3 }, { c: 0 }, { c: 3 }),
      ],
      6000,
      5000,
    );
    expect(v.violations).toEqual([]);
    expect(v.value).toMatchObject({ samplesWithUnknown: 3, longestOverCountMs: 0 });
  });

  it('a live host counted above its engine for longer than the lag breaks it', () => {
    const v = apiRunningVerdict(
      [api(0, { a: 3 }, { a: 1 }), api(3000, { a: 3 }, { a: 1 }), api(6000, { a: 3 }, { a: 1 })],
      6000,
      5000,
    );
    expect(v.violations).toEqual([
      'host-1 counted 3 running on a whose engine runs 1, for 6000 ms',
    ]);
  });
});
