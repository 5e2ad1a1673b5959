import { describe, expect, it } from 'vitest';
import {
  deadAtMs,
  isHeard,
  lastHeardMs,
  nextDeathAtMs,
  type ObservedNode,
  REPORT_STALE_AFTER_MS,
  withHeartbeat,
} from '../src/liveness.js';
import { nodeReport } from './lock-fixtures.js';

const node = (receivedAtMs: number, heartbeatAtMs?: number): ObservedNode => ({
  report: nodeReport('a', [], {}),
  receivedAtMs,
  ...(heartbeatAtMs !== undefined ? { heartbeatAtMs } : {}),
});

describe('liveness', () => {
  it('a heartbeat after the report keeps the node heard past the report’s dead-after', () => {
    const n = node(1000, 1900);
    expect(lastHeardMs(n)).toBe(1900);
    expect(isHeard(n, 2800, 1000)).toBe(true);
    expect(isHeard(n, 2901, 1000)).toBe(false);
    expect(deadAtMs(n, 1000)).toBe(2900);
  });

  it('without heartbeats the report alone decides, as before', () => {
    const n = node(1000);
    expect(isHeard(n, 2000, 1000)).toBe(true);
    expect(isHeard(n, 2001, 1000)).toBe(false);
  });

  it('heartbeats do not keep alive a node whose reports stopped (a stuck sampler)', () => {
    const n = node(1000, 1000 + REPORT_STALE_AFTER_MS + 500);
    expect(isHeard(n, 1000 + REPORT_STALE_AFTER_MS, 1000)).toBe(true);
    expect(isHeard(n, 1000 + REPORT_STALE_AFTER_MS + 1, 1000)).toBe(false);
  });

  it('a long dead-after is not cut short by the report bound', () => {
    const n = node(1000, 1000);
    expect(isHeard(n, 1000 + 10_000, 10_000)).toBe(true);
  });

  it('withHeartbeat never moves the time back (a late-delivered heartbeat)', () => {
    const n = withHeartbeat(node(0), 500);
    expect(withHeartbeat(n, 400).heartbeatAtMs).toBe(500);
    expect(withHeartbeat(n, 700).heartbeatAtMs).toBe(700);
  });

  it('nextDeathAtMs is the earliest deadline among alive nodes; unheard ones count from observing', () => {
    const observed = new Map([
      ['a', node(1000, 1500)],
      ['b', node(1200)],
    ]);
    expect(nextDeathAtMs(['a', 'b'], observed, 0, 1000)).toBe(2200);
    expect(nextDeathAtMs(['a'], observed, 0, 1000)).toBe(2500);
    expect(nextDeathAtMs(['a', 'c'], observed, 300, 1000)).toBe(1300);
    expect(nextDeathAtMs([], observed, 0, 1000)).toBeUndefined();
  });
});
