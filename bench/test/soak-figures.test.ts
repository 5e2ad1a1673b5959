// The pure half of the soak (lib/soak-figures.ts): the RSS slope after warm-up and its verdict,
// and the figures' counts, on made-up samples.
import { describe, expect, it } from 'vitest';
import { FLAT_MIB_PER_MIN, rssSlopeMiBPerMin, soakFigures } from '../lib/soak-figures.js';

const samples = (mibPerMin: number, noise = 0, voter = 'v1', leading = true) =>
  Array.from({ length: 120 }, (_, i) => ({
    t: i * 5,
    voter,
    leading,
    cpuPercent: 20,
    // A fast warm-up over the first 2 minutes, then the slope under test.
    rssMiB: (i * 5 < 120 ? i : 24) + 100 + (mibPerMin * i * 5) / 60 + (i % 2 ? noise : -noise),
  }));

/** A run with no losses, commands or steps: only the memory figures differ between tests. */
const quietRun = {
  sent: 1,
  received: 1,
  accepted: 1,
  lost: 0,
  commands: 0,
  commandsFailed: 0,
  commandMs: [],
  steps: [],
  voterExits: [],
};

describe('soak figures', () => {
  it('measures the slope after warm-up only, in MiB per minute', () => {
    expect(rssSlopeMiBPerMin(samples(0), 120)).toBeCloseTo(0, 6);
    expect(rssSlopeMiBPerMin(samples(2), 120)).toBeCloseTo(2, 6);
    expect(rssSlopeMiBPerMin(samples(0, 3), 120)).toBeLessThan(FLAT_MIB_PER_MIN);
  });

  it('is NaN with fewer than two samples after warm-up', () => {
    expect(rssSlopeMiBPerMin(samples(0).slice(0, 25), 120)).toBeNaN();
  });

  it('says flat or not, and counts losses and undecided steps', () => {
    const base = {
      sent: 1000,
      received: 990,
      accepted: 990,
      lost: 10,
      commands: 3,
      commandsFailed: 1,
      commandMs: [5, 10, 400],
      steps: [
        { service: 'a', at: 0, from: 1, to: 2, decisionMs: 100 },
        { service: 'b', at: 0, from: 1, to: 2 },
      ],
      voterExits: [],
    };
    const flat = soakFigures({ ...base, samples: samples(0.1) }, { warmupS: 120 });
    expect(flat.flat).toBe(true);
    const growing = soakFigures({ ...base, samples: samples(1) }, { warmupS: 120 });
    expect(growing.flat).toBe(false);
    const by = new Map(flat.figures.map((f) => [f.name, f]));
    expect(by.get('reports lost')?.value).toBe(10);
    expect(by.get('load steps with no command before the next step')?.value).toBe(1);
    expect(by.get('decision latency (load step to first command issued)')?.samples).toBe(1);
    expect(by.get('command round trip (issuedAt to the host reply)')?.p99).toBe(400);
  });

  it('judges every voter: one growing follower makes the run not flat', () => {
    const r = soakFigures(
      { ...quietRun, samples: [...samples(0, 0, 'v1', true), ...samples(2, 0, 'v2', false)] },
      { warmupS: 120 },
    );
    expect(r.flat).toBe(false);
    expect(r.slopes.v1).toBeCloseTo(0, 6);
    expect(r.slopeMiBPerMin).toBeCloseTo(2, 6);
    const by = new Map(r.figures.map((f) => [f.name, f]));
    expect(by.get('leader RSS (whichever voter led)')?.samples).toBe(120);
    expect(by.get('v2 RSS slope after warm-up (led 0 % of samples)')?.value).toBeCloseTo(2, 6);
  });

  it('gives each voter a live-heap slope from the 30 s progress samples', () => {
    const progress = Array.from({ length: 20 }, (_, i) => ({
      t: i * 30,
      sent: 0,
      accepted: 0,
      natsReconnects: 0,
      commands: 0,
      memoryMiB: {
        v1: { heapTotal: 80 + i, heapUsed: 50, liveHeap: 40, external: 5, rss: 150 + i },
      },
    }));
    const r = soakFigures({ ...quietRun, samples: samples(0), progress }, { warmupS: 120 });
    const by = new Map(r.figures.map((f) => [f.name, f]));
    expect(by.get('v1 live heap slope after warm-up')?.value).toBeCloseTo(0, 6);
    expect(by.get('v1 live heap slope after warm-up')?.samples).toBe(16);
  });
});
