import { describe, expect, it } from 'vitest';
import { apiBaseUrl } from '../src/api/cluster-member-view.js';
import { FigureHistory } from '../src/api/figure-history.js';
import { report } from './api-memory-view.js';

describe('FigureHistory', () => {
  it('keeps each node series, answers a window on the monotonic clock, and the latest report', () => {
    const h = new FigureHistory(10_000, 100);
    h.record(report('n1', 1000, 1, 10), 0);
    h.record(report('n2', 1000, 1, 20), 500);
    h.record(report('n1', 2000, 2, 30), 1000);
    const all = h.figures('web', 5000, 1000);
    expect(all.n1!.map((f) => f.requestRatePerSecond)).toEqual([10, 30]);
    expect(all.n2!.map((f) => f.requestRatePerSecond)).toEqual([20]);
    expect(Object.keys(h.figures('web', 600, 1000))).toEqual(['n1', 'n2']);
    expect(h.figures('web', 600, 1000).n1).toHaveLength(1);
    expect(h.figures('nope', 5000, 1000)).toEqual({});
    const latest = h.latest(1600);
    expect(latest.get('n1')).toMatchObject({ ageMs: 600, report: { time: 2000 } });
    // A late, older report joins the history but does not replace the latest view.
    h.record(report('n1', 1500, 5, 99), 1700);
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
});

describe('apiBaseUrl', () => {
  it('turns a node address into the base URL of its API', () => {
    expect(apiBaseUrl('10.77.0.11', 7070)).toBe('http://10.77.0.11:7070');
    expect(apiBaseUrl('10.77.0.11:7171', 7070)).toBe('http://10.77.0.11:7171');
    expect(apiBaseUrl('https://a.example/', 7070)).toBe('https://a.example');
    expect(apiBaseUrl('fe80::1', 7070)).toBe('http://[fe80::1]:7070');
  });
});
