import { type NodeReport, PROTOCOL_VERSION } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { FigureHistory } from '../src/figure-history.js';

function report(nodeId: string, time: number, services: number, requestRate: number): NodeReport {
  return {
    v: PROTOCOL_VERSION,
    cluster: 'test',
    nodeId,
    address: nodeId,
    role: 'client',
    capacity: { cpus: 2, memoryBytes: 2 ** 31 },
    labels: {},
    time,
    seq: 1,
    dockerReachable: true,
    containers: [],
    services: Object.fromEntries(
      Array.from({ length: services }, (_, i) => [
        i === 0 ? 'web' : `svc-${i}`,
        { time, containerCount: 1, requestRatePerSecond: requestRate },
      ]),
    ),
  };
}

describe('FigureHistory', () => {
  it('keeps each node series, answers a window on the monotonic clock, and the latest report', () => {
    const h = new FigureHistory(10_000, 100);
    h.record(report('n1', 1000, 1, 10), 0);
    h.record(report('n2', 1000, 1, 20), 500);
    h.record(report('n1', 2000, 1, 30), 1000);
    const all = h.figures('web', 5000, 1000);
    expect(all.n1!.map((f) => f.requestRatePerSecond)).toEqual([10, 30]);
    expect(all.n2!.map((f) => f.requestRatePerSecond)).toEqual([20]);
    expect(Object.keys(h.figures('web', 600, 1000))).toEqual(['n1', 'n2']);
    expect(h.figures('web', 600, 1000).n1).toHaveLength(1);
    expect(h.figures('nope', 5000, 1000)).toEqual({});
    const latest = h.latest(1600);
    expect(latest.get('n1')).toMatchObject({ ageMs: 600, report: { time: 2000 } });
    // A late, older report joins the history but does not replace the latest view.
    h.record(report('n1', 1500, 1, 99), 1700);
    expect(h.latest(1700).get('n1')!.report.time).toBe(2000);
    expect(h.lastSeenMs('n2')).toBe(500);
  });

  it('drops samples older than it keeps, and beyond its count', () => {
    const h = new FigureHistory(1000, 3);
    for (let i = 0; i < 10; i++) h.record(report('n1', i, 1, i), i * 100);
    expect(h.figures('web', 10_000, 900).n1!.map((f) => f.requestRatePerSecond)).toEqual([7, 8, 9]);
    h.record(report('n1', 50, 1, 50), 5000);
    expect(h.figures('web', 10_000, 5000).n1!.map((f) => f.requestRatePerSecond)).toEqual([50]);
  });

  it('with few nodes keeps every report of the window', () => {
    const h = new FigureHistory();
    for (let t = 0; t < 600; t += 1)
      for (const n of ['a', 'b', 'c']) h.record(report(n, t, 3, t), t * 1000);
    expect(h.stepMs()).toBeLessThan(1000);
    expect(h.figures('web', 3_600_000, 600_000).a).toHaveLength(600);
  });

  it('stays within its figure budget under 600,000 reports of 1,000 nodes × 20 services (the soak)', () => {
    const maxFigures = 60_000;
    const h = new FigureHistory({ maxFigures });
    let held = 0;
    // 10 minutes of 1,000 hosts at 1 Hz.
    for (let t = 0; t < 600; t += 1) {
      for (let n = 0; n < 1000; n += 1) h.record(report(`h${n}`, t, 20, t), t * 1000 + n * 0.5);
      held = Math.max(held, h.heldFigures);
    }
    // Before the bound, 12,000,000 figures (and 72,000,000 over the hour it keeps).
    expect(held).toBeLessThanOrEqual(maxFigures + 20 * 1000);
    // An hour's window at this size: a sample every 20 min per node; the latest stays exact.
    expect(h.stepMs()).toBe(20 * 60_000);
    expect(h.latest(600_000).get('h7')?.report.time).toBe(599);
    expect(h.latest(600_000).size).toBe(1000);
    // And it does not grow past the hour.
    for (let t = 600; t < 4200; t += 60)
      for (let n = 0; n < 1000; n += 1) h.record(report(`h${n}`, t, 20, t), t * 1000 + n * 0.5);
    expect(h.heldFigures).toBeLessThanOrEqual(maxFigures + 20 * 1000);
  });

  it('keeps at most maxNodes nodes', () => {
    const h = new FigureHistory({ maxNodes: 2 });
    h.record(report('a', 0, 1, 1), 0);
    h.record(report('b', 0, 1, 1), 1);
    h.record(report('c', 0, 1, 1), 2);
    expect([...h.latest(3).keys()]).toEqual(['b', 'c']);
    expect(Object.keys(h.figures('web', 10, 3))).toEqual(['b', 'c']);
  });
});
