// The pure half of bench/policies-real.ts on made-up access-log lines and samples: the per-copy
// figures, the start-up measured from the samples, the replayed trace, the CPU reading, and the
// side-by-side rows with predictive's value and hpa's as the peer.
import { join } from 'node:path';
import { parseAccessLog, type ReplicaSample, serviceReport } from '@coxswain/cli';
import { DEMO_SAMPLES_DIR, loadServiceSpec } from '@coxswain/lab';
import type { DemoServiceReport } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import {
  busyCores,
  CHAIN,
  COPIES,
  type CopyOutcome,
  capacitySamplesOf,
  copyName,
  copySpec,
  cpuJiffies,
  figuresOf,
  labTotals,
  medianOf,
  type RealRun,
  ratioOf,
  replayedTrace,
  runTable,
  simulateCopy,
  startupSecondsOf,
} from '../lib/policies-real-figures.js';

const spec = (name: string) => loadServiceSpec(join(DEMO_SAMPLES_DIR, `${name}.yaml`));

function sample(atMs: number, counts: Record<string, [number, number]>): ReplicaSample {
  return {
    atMs,
    services: new Map(
      Object.entries(counts).map(([k, [running, desired]]) => [k, { running, desired }]),
    ),
  };
}

describe('copies of the chain', () => {
  it('renames the hpa copy with -h and declares it under hpa, predictive under its own spec', () => {
    expect(COPIES.map((c) => CHAIN.map((s) => copyName(s, c)))).toEqual([
      ['order', 'storage', 'account'],
      ['order-h', 'storage-h', 'account-h'],
    ]);
    const order = spec('order');
    const h = copySpec(order, COPIES[1]!, { ...order.env, STORAGE_URL: 'http://x:1' });
    expect(h.name).toBe('order-h');
    expect(h.policy.name).toBe('hpa');
    expect(h.env.STORAGE_URL).toBe('http://x:1');
    expect(h.sloP95Ms).toBe(order.sloP95Ms);
    expect(copySpec(order, COPIES[0]!).policy).toEqual(order.policy);
  });
});

describe('startupSecondsOf', () => {
  it('times each scale-up from the desired count rising to running reaching it', () => {
    const samples = [
      sample(0, { order: [1, 1], 'order-h': [1, 1] }),
      sample(1000, { order: [1, 3], 'order-h': [1, 1] }),
      sample(2000, { order: [2, 3], 'order-h': [1, 2] }),
      sample(4500, { order: [3, 3], 'order-h': [2, 2] }),
      // A scale-up undone before it was reached is not a start-up.
      sample(5000, { order: [3, 4], 'order-h': [2, 2] }),
      sample(6000, { order: [3, 3], 'order-h': [2, 2] }),
    ];
    expect(startupSecondsOf(samples, ['order', 'order-h'])).toEqual([3.5, 2.5]);
    expect(medianOf([3.5, 2.5, 1])).toBe(2.5);
    expect(medianOf([])).toBeNull();
  });
});

describe('replayedTrace', () => {
  it('holds what the load offered per trace bin, so compress = speed-up replays it at the same req/s', () => {
    const t = replayedTrace((s) => (s < 60 ? 10 : 20), 120, 60, 60, 'x');
    expect(t.counts.length).toBe(120);
    expect(t.stepSeconds).toBe(60);
    expect(t.counts[0]).toBe(600); // 10 req/s × 60 s of trace per bin
    expect(t.counts[119]).toBe(1200);
  });
});

describe('capacitySamplesOf', () => {
  it('takes req/s per replica over the CPU share, leaving near-idle and incomplete figures out', () => {
    const f = (containerCount: number, cpuPercent?: number, requestRatePerSecond?: number) => ({
      time: 1,
      containerCount,
      ...(cpuPercent === undefined ? {} : { cpuPercent }),
      ...(requestRatePerSecond === undefined ? {} : { requestRatePerSecond }),
    });
    expect(
      capacitySamplesOf([f(2, 50, 40), f(1, 10, 5), f(1, undefined, 5), f(0, 50, 5), f(1, 80, 0)]),
    ).toEqual([40]); // 20 req/s per replica at 50 % of its limit: 40 at 100 %
    expect(capacitySamplesOf([f(1, 10, 5)], 5)).toEqual([50]);
  });
});

describe('the machine CPU from /proc/stat', () => {
  it('counts idle and iowait as idle, the rest as busy, in cores', () => {
    const a = cpuJiffies('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n');
    const b = cpuJiffies('cpu  200 0 200 1200 200 0 0 0 0 0\n');
    expect(a).toEqual({ busy: 200, total: 1000 });
    expect(busyCores(a, b, 2)).toBeCloseTo(0.5, 9); // 200 busy of 800 jiffies on 2 CPUs
    expect(busyCores(a, a, 2)).toBe(0);
  });
});

/** Access-log lines for one service: `n` requests per second for `seconds`, each `ms` long. */
function lines(
  port: number,
  fromEpochS: number,
  seconds: number,
  n: number,
  ms: (s: number) => number,
) {
  const out: string[] = [];
  for (let s = 0; s < seconds; s++)
    for (let k = 0; k < n; k++)
      out.push(
        `${fromEpochS + s}.${String(100 + k).padStart(3, '0')} ${port} 200 ${(ms(s) / 1000).toFixed(3)}`,
      );
  return out;
}

describe('figures side by side', () => {
  // predictive's order: 2 of 10 seconds slow (400 ms > its 300 ms SLO); hpa's: 5 of 10.
  const ports = new Map<number, string>([
    [1, 'order'],
    [2, 'storage'],
    [3, 'account'],
    [4, 'order-h'],
    [5, 'storage-h'],
    [6, 'account-h'],
  ]);
  const log = [
    ...lines(1, 1000, 10, 20, (s) => (s < 2 ? 400 : 30)),
    ...lines(2, 1000, 10, 20, () => 10),
    ...lines(3, 1000, 10, 20, () => 10),
    ...lines(4, 1000, 10, 20, (s) => (s < 5 ? 400 : 30)),
    ...lines(5, 1000, 10, 20, () => 10),
    ...lines(6, 1000, 10, 20, () => 250),
    'not a line',
  ].join('\n');
  const accesses = parseAccessLog(log, ports);
  const samples = Array.from({ length: 11 }, (_, i) =>
    sample(i * 1000, {
      order: [i < 5 ? 1 : 2, i < 5 ? 1 : 2],
      storage: [2, 2],
      account: [2, 2],
      'order-h': [1, 1],
      'storage-h': [2, 2],
      'account-h': [2, 2],
    }),
  );
  const decisions = [{ atMs: 5000, service: 'order', from: 1, to: 2 }];
  const trace = replayedTrace(() => 10, 10, 60, 60, 'flat');
  const copies: CopyOutcome[] = COPIES.map((copy) => ({
    policy: copy.policy,
    lab: CHAIN.map(
      (s): DemoServiceReport => ({
        ...serviceReport(copyName(s, copy), spec(s).sloP95Ms, accesses, samples, decisions, 0),
        name: s,
      }),
    ),
    sim: new Map(CHAIN.map((s) => [s, simulateCopy(trace, spec(s), copy.policy, 60, 2)])),
    // Only order was measured: storage and account have no measured-capacity simulation.
    simMeasured: new Map([['order', simulateCopy(trace, spec('order'), copy.policy, 60, 2, 44)]]),
  }));
  const run = (cores: number[]): RealRun => ({
    startedAt: '2026-12-03T00:00:00.000Z',
    loadAverageBefore: [1, 1, 1],
    loadAverageAfter: [0.5, 0.5, 0.5],
    busyCores: cores,
    startupSeconds: 2,
    startupSamples: 1,
    capacity: {
      order: { median: 44, samples: 3, spec: 22 },
      storage: { median: null, samples: 0, spec: 60 },
      account: { median: null, samples: 0, spec: 45 },
    },
    peakRps: 20,
    speedup: 60,
    loadSeconds: 10,
    copies,
  });

  it('counts seconds over the SLO, replica-seconds and scale actions per copy from the log and samples', () => {
    const [p, h] = copies;
    const order = p!.lab.find((r) => r.name === 'order')!;
    expect(order.secondsOverSlo).toBe(2);
    expect(order.secondsWithRequests).toBe(10);
    expect(order.replicaSeconds).toBe(15); // 1 replica for 5 s, 2 for 5 s
    expect(order.okPercent).toBe(100);
    expect(labTotals(p!.lab)).toEqual({ secondsOverSlo: 2, replicaSeconds: 55, scaleActions: 1 });
    // hpa's account (250 ms > 200 ms) is over every second, its order 5 of 10.
    expect(labTotals(h!.lab)).toEqual({ secondsOverSlo: 15, replicaSeconds: 50, scaleActions: 0 });
    expect(ratioOf(2, 15)).toBeCloseTo(2 / 15, 9);
    expect(ratioOf(0, 0)).toBeNull();
  });

  it('rows carry predictive’s mean over the runs and hpa’s as the peer, and the ratios', () => {
    const figures = figuresOf([run([0.4, 0.6]), run([1])]);
    const byName = new Map(figures.map((f) => [f.name, f]));
    const slo = byName.get('order: time over SLO, lab')!;
    expect(slo.value).toBe(2);
    expect(slo.samples).toBe(10);
    expect(slo.peer).toEqual({ name: 'hpa', value: 5 });
    const p95 = byName.get('order: latency p95 (p50, p99 beside), lab')!;
    expect(p95.value).toBe(400);
    expect(p95.p50).toBe(30);
    expect(p95.unit).toBe('ms');
    const ratio = byName.get('chain: time over SLO predictive/hpa, lab')!;
    expect(ratio.value).toBeCloseTo(2 / 15, 9);
    expect(ratio.samples).toBe(2);
    const rs = byName.get('chain (sum of 3 services): replica-seconds, lab')!;
    expect(rs).toMatchObject({ value: 55, peer: { value: 50 } });
    const simRs = byName.get('chain (sum of 3 services): replica-seconds, simulator')!;
    const simSum = [...copies[0]!.sim.values()].reduce((a, r) => a + r.replicaSeconds, 0);
    expect(simRs.value).toBeCloseTo(simSum, 9);
    const cpu = byName.get('machine CPU busy during the load (both chains, nginx, agents, load)')!;
    expect(cpu.value).toBeCloseTo((0.4 + 0.6 + 1) / 3, 9);
    expect(cpu.samples).toBe(3);
    expect(cpu.p99).toBe(1);
    const measured = byName.get('order: replica-seconds, simulator at the measured capacity')!;
    expect(measured.value).toBeCloseTo(copies[0]!.simMeasured.get('order')!.replicaSeconds, 9);
    expect(
      byName.get('storage: time over SLO, simulator at the measured capacity')!.value,
    ).toBeNaN();
    const cap = byName.get('order: capacity per replica at 100 % CPU, measured (spec 22)')!;
    expect(cap).toMatchObject({ value: 44, unit: 'req/s', samples: 6 });
  });

  it('renders a run as a markdown table with the chain and the ratio rows', () => {
    const text = runTable(run([0.5]), 0);
    expect(text).toMatch(/^Run 1 \(2026-12-03T00:00:00.000Z; load average 1.00 1.00 1.00 before/);
    expect(text).toContain('| order | 2 / 5 (of 10 / 10) |');
    expect(text).toContain('| chain | 2 / 15 |');
    expect(text).toContain('| predictive/hpa | lab 0.13 |');
    expect(text).toContain('| order | 44.0 over 3 figures (22) |');
    expect(text).toContain('| storage | — over 0 figures (60) | — / — |');
  });
});
