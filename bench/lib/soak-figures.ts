/**
 * The soak's figures from one run (pure, so the slope and the percentiles are tested apart
 * from a run): leader CPU and RSS, reports lost, decision latency, command round trip, and each
 * voter's memory slope after warm-up with the verdict (flat only if every voter is flat: a leak
 * on the leader shows on whichever voter led, and leadership can move).
 */
import { type Figure, percentile } from './results.js';
import type { ProcSample, SoakResult } from './soak-run.js';

/** Under this, RSS counts as flat: 5 MiB over a 10-minute soak. */
export const FLAT_MIB_PER_MIN = 0.5;

/** Least-squares slope of RSS over time, in MiB per minute, of the samples after `warmupS` (one process's). */
export function rssSlopeMiBPerMin(
  samples: readonly Pick<ProcSample, 't' | 'rssMiB'>[],
  warmupS: number,
): number {
  const xs = samples.filter((s) => s.t >= warmupS);
  if (xs.length < 2) return Number.NaN;
  const n = xs.length;
  const mt = xs.reduce((a, s) => a + s.t, 0) / n;
  const mr = xs.reduce((a, s) => a + s.rssMiB, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of xs) {
    num += (s.t - mt) * (s.rssMiB - mr);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? Number.NaN : (num / den) * 60;
}

function dist(name: string, unit: string, xs: readonly number[], target?: string): Figure {
  return {
    name,
    value: percentile(xs, 50),
    unit,
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    samples: xs.length,
    ...(target ? { target } : {}),
  };
}

export function soakFigures(
  r: Pick<
    SoakResult,
    | 'samples'
    | 'sent'
    | 'received'
    | 'accepted'
    | 'lost'
    | 'commands'
    | 'commandsFailed'
    | 'commandMs'
    | 'steps'
  > & { readonly voterExits: readonly string[]; readonly progress?: SoakResult['progress'] },
  o: { readonly warmupS: number },
): {
  figures: Figure[];
  slopeMiBPerMin: number;
  slopes: Record<string, number>;
  flat: boolean;
} {
  const voters = [...new Set(r.samples.map((s) => s.voter))].sort();
  const slopes = Object.fromEntries(
    voters.map((v) => [
      v,
      rssSlopeMiBPerMin(
        r.samples.filter((s) => s.voter === v),
        o.warmupS,
      ),
    ]),
  );
  // The worst voter decides; NaN (too few samples) is not flat.
  const worst = Object.values(slopes).reduce(
    (a, x) => (Number.isNaN(a) || Number.isNaN(x) ? Number.NaN : Math.abs(x) > Math.abs(a) ? x : a),
    0,
  );
  const flat = voters.length > 0 && Math.abs(worst) < FLAT_MIB_PER_MIN;
  const leading = r.samples.filter((s) => s.leading);
  const decided = r.steps.flatMap((s) => (s.decisionMs === undefined ? [] : [s.decisionMs]));
  const perVoter: Figure[] = voters.flatMap((v) => {
    const mine = r.samples.filter((s) => s.voter === v);
    const after = mine.filter((s) => s.t >= o.warmupS);
    const led = mine.filter((s) => s.leading).length;
    const slope = slopes[v] ?? Number.NaN;
    return [
      {
        name: `${v} RSS, first and last sample after warm-up`,
        value: after.at(-1)?.rssMiB ?? Number.NaN,
        unit: `MiB (from ${after[0]?.rssMiB.toFixed(1) ?? '?'})`,
      },
      {
        name: `${v} RSS slope after warm-up (led ${((100 * led) / Math.max(1, mine.length)).toFixed(0)} % of samples)`,
        value: slope,
        unit: 'MiB/min',
        samples: after.length,
        target: `|slope| < ${FLAT_MIB_PER_MIN} (${Math.abs(slope) < FLAT_MIB_PER_MIN ? 'flat' : 'NOT flat'})`,
      },
    ];
  });
  // The live heap (V8 heap in use just after its latest major collection), 30 s samples: the
  // figure a leak shows in, apart from garbage not yet collected and heap V8 keeps committed.
  const live: Figure[] = voters.flatMap((v) => {
    const xs = (r.progress ?? []).flatMap((p) => {
      const x = p.memoryMiB?.[v]?.liveHeap;
      return x === undefined || Number.isNaN(x) ? [] : [{ t: p.t, rssMiB: x }];
    });
    if (xs.length === 0) return [];
    const slope = rssSlopeMiBPerMin(xs, o.warmupS);
    const after = xs.filter((x) => x.t >= o.warmupS);
    return [
      {
        name: `${v} live heap (after the latest major GC), first and last sample after warm-up`,
        value: after.at(-1)?.rssMiB ?? Number.NaN,
        unit: `MiB (from ${after[0]?.rssMiB.toFixed(1) ?? '?'})`,
      },
      {
        name: `${v} live heap slope after warm-up`,
        value: slope,
        unit: 'MiB/min',
        samples: after.length,
        target: `|slope| < ${FLAT_MIB_PER_MIN} (${Math.abs(slope) < FLAT_MIB_PER_MIN ? 'flat' : 'NOT flat'})`,
      },
    ];
  });
  const figures: Figure[] = [
    dist(
      'leader CPU (percent of one core, 5 s samples of whichever voter led)',
      '%',
      leading.map((s) => s.cpuPercent),
    ),
    dist(
      'leader RSS (whichever voter led)',
      'MiB',
      leading.map((s) => s.rssMiB),
    ),
    ...perVoter,
    ...live,
    { name: 'reports sent by the simulated hosts', value: r.sent, unit: 'reports' },
    {
      name: 'report messages received by the leader (hosts and voters)',
      value: r.received,
      unit: 'messages',
    },
    { name: 'reports decoded and taken in while leading', value: r.accepted, unit: 'reports' },
    {
      name: 'reports lost',
      value: r.lost,
      unit: `reports (${((100 * r.lost) / Math.max(1, r.sent)).toFixed(3)} %)`,
      target: '0',
    },
    dist('decision latency (load step to first command issued)', 'ms', decided),
    {
      name: 'load steps with no command before the next step',
      value: r.steps.length - decided.length,
      unit: `of ${r.steps.length} steps`,
    },
    dist('command round trip (issuedAt to the host reply)', 'ms', r.commandMs),
    {
      name: 'commands answered',
      value: r.commands,
      unit: `commands (${r.commandsFailed} refused by the host)`,
    },
    { name: 'voter crashes', value: r.voterExits.length, unit: 'exits', target: '0' },
  ];
  return { figures, slopeMiBPerMin: worst, slopes, flat };
}
