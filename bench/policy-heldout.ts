// Honest evaluation of the scaling policies: the predictive defaults are chosen by leave-one-out
// over the three real traces (tune on two plus synthetic tuning traces, judge on the third), then
// every policy is judged on each held-out real trace and on 20 generated traces per synthetic
// family whose seeds no default or table was tuned or trained on. Also the forecast's MASE against
// seasonal naive per trace and family.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  backtest,
  type ComparisonEntry,
  comparisonSetup,
  EVALUATION_SEED_BASE,
  type Fold,
  goalDistance,
  leaveOneOut,
  PredictiveParams,
  runEntry,
  type SimulationResult,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
  shippedCandidate,
  syntheticTraces,
  type Trace,
  toRates,
  verdict,
} from '@coxswain/forecast';
import { loadTraces } from './forecast-traces.js';
import { type Figure, recordResult } from './lib/results.js';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
const ENTRIES: ComparisonEntry[] = [
  'predictive',
  'predictive+warm',
  'learned',
  'hpa',
  'threshold',
  'score',
];
/**
 * Written after looking at the run's figures (bench/RESULTS.md): why the goal is met or missed.
 * Rewrite it when the figures change.
 */
const ANALYSIS = `### What the verdicts say, and why the goal is missed where it is

Shipped default: \`predictive\` at target 0.8, p90 forecast, 180 s scale-down stabilization, no
burst headroom — the setting two of the three folds chose (the folds holding out Azure and
Wikipedia); the fold holding out NASA chose target 0.75. 72 candidates (target 0.75/0.8/0.85/0.9
× quantile 0.5/0.8/0.9 × stabilization 60/180/300 s × burst headroom off/p95), each fold scored on
the two other real traces plus 3 tuning seeds (1–3) of each synthetic family, by distance from
the goal. Warm pool: opt-in per service, off by default. \`learned\` is not the default.

The goal is met held out on **wikipedia_hourly** (96.9 % less time over the SLO at 89.4 % of
hpa's replica-seconds) and **synthetic diurnal** (83.2 % less at 95.6 %, 17 of 20 traces). It is
**not met** on the other held-out cases:

- **nasa_jul95_per_minute** (fold choice target 0.75): 79.4 % less time over the SLO, but at
  104.6 % of hpa's replica-seconds — 4.6 % too expensive. At the shipped 0.8 it is 63.2 % less at
  98.7 % (met), but that figure is not held out: the folds that chose 0.8 trained on NASA. So
  NASA is borderline: the SLO half has room, the cost half has about 5 % of margin either way.
- **azure_functions_1day_per_minute**: 31.3 % less at 120.9 % (short by 18.7 points of SLO and
  20.9 % over on cost). **synthetic onoff** (Azure-like, 20 traces): 49.3 % less at 150.1 %.
  **synthetic flash**: 21.8 % less at 93.0 % (short by 28 points). Why: most of the time lost is
  at burst onsets (the episode causes say \`burst\`), which no forecast sees coming: a cold-started
  replica serves 75 s after the burst starts (60 s start-up + up to 15 s to the next decision),
  and Azure/onoff bursts last 1–5 minutes. The predictive policy still cuts time over the SLO
  because it sizes from the request rate where hpa sees CPU pinned at 100 % and grows by at most
  ×1.43 per step; but the replicas it starts arrive late and are held 180 s, which is its extra
  cost on on/off traffic. Flash crowds are rare (1–4 a day), so after each onset is lost both
  policies reach the plateau and differ little. The **warm pool** is the one lever that moves
  these: time over the SLO falls to 31.7 % of hpa's on Azure, 20.8 % on onoff (the SLO half of
  the goal met), but the pool, sized at the p99 forecast over the start-up time, stands at burst
  size all day: 171.8 % and 252.6 % of hpa's replica-seconds with standbys at 0.25 of a replica.
  Burst-aware headroom (p95 of the rises over the lead time) was in the grid and no fold chose it:
  on the training traces its standing replicas cost more than the SLO they bought.
- **synthetic trend** and **synthetic ramp**: both policies are nearly perfect (≤ 0.035 % of
  the time over the SLO; a few seconds per trace, from Poisson noise near capacity). Trend: hpa
  had 0 s over the SLO in all 20 traces, predictive 14 s in one trace (19 of 20 met),
  so the ratio is ∞ and the pooled verdict is formally NOT met; ramp: 575 s against hpa's 609 s over
  1.73 million simulated seconds (14 of 20 traces met). Both at about
  94–95 % of hpa's replica-seconds. These families do not separate the policies; slow change is
  what a reactive policy already handles.
- **learned** (Q-learning; trained on seeds 1–4 of every family, 6 epochs, never on a real
  trace): no better than predictive anywhere and worse on the smooth families (119 % of hpa's time
  over the SLO on diurnal, 825 % on ramp). Its reward (−1 per report over the SLO against the
  over-provisioning ratio) rarely sees a miss, and a miss lands a start-up after the action that
  caused it, so the table learns to run hot (target 0.9) in many states. Shipped as a working,
  reproducible baseline (\`coxswain policy train\`), not as a default.

**Forecast (item 6).** The automatic choice beats seasonal naive at the lead horizon on every
real trace and on the mean of every family (MAE ratio 0.51–0.97). MASE < 1 (the scale being the
in-sample one-step seasonal-naive MAE of the first 20 %) holds on NASA (0.536), Wikipedia (0.705)
and diurnal (20/20), but **not on Azure (1.453, was 1.72 before the median model), nor on the
flash (mean 4.78; 4/20 below 1), trend (1.006; 9/20), onoff (0.946; 13/20) and ramp (0.811;
16/20) families**. Why: the scale is measured on a window that is calmer than what follows — on
Azure the out-of-sample one-step naive MAE is 3.43 req/s against 2.00 in the first 576 minutes,
and a flash crowd or a ramp usually starts after the first 20 % — while the score is at h = 2
(the lead time), where a burst's onset and end cost every forecast alike. No model can make up
for a scale taken before the bursts; the median model (window fitted from 3–31) is the best we
found on spiky traffic (Azure MAE 0.80 of seasonal naive at the same horizon). On flash crowds
the automatic choice beats seasonal naive on only 7 of 20 traces (MAE ratio 0.974): after a
sudden plateau the model chosen on the calm part lags until the next reselection (every 24
points).

What would close the remaining gap on bursty traffic is not a better forecaster: a start-up
shorter than the bursts (the warm pool does that, at the stated standby cost; a cheaper standby
— e.g. a checkpointed process at a lower memory weight — moves the cost side directly), or
shedding/queueing at the edge. \`coxswain simulate --standby-weight\` shows the trade-off on one's
own trace.`;

const TUNING_SEEDS_PER_FAMILY = Number(process.env.TUNING_SEEDS ?? 3);
const EVAL_SEEDS_PER_FAMILY = Number(process.env.EVAL_SEEDS ?? 20);

/** The candidate predictive settings (what leave-one-out chooses among). */
function grid(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (process.env.GRID === 'small')
    return [
      {
        targetUtilization: 0.8,
        quantile: 0.9,
        scaleDownStabilizationSeconds: 180,
        burstQuantile: 'off',
      },
      {
        targetUtilization: 0.85,
        quantile: 0.8,
        scaleDownStabilizationSeconds: 60,
        burstQuantile: 0.95,
      },
    ];
  // Narrowed from the first run's 72 (target 0.9, p50 and 300 s were never a fold's choice on its
  // training items) to make room for the horizon option.
  for (const targetUtilization of [0.75, 0.8, 0.85])
    for (const quantile of [0.8, 0.9])
      for (const scaleDownStabilizationSeconds of [60, 180])
        for (const burstQuantile of ['off', 0.95] as const)
          for (const horizon of ['window', 'arrival'] as const)
            out.push({
              targetUtilization,
              quantile,
              scaleDownStabilizationSeconds,
              burstQuantile,
              horizon,
            });
  return out;
}

const label = (c: Record<string, unknown>): string =>
  `target ${c.targetUtilization}, p${Math.round(Number(c.quantile) * 100)}, stabilization ${c.scaleDownStabilizationSeconds} s, burst ${c.burstQuantile}, horizon ${c.horizon ?? 'window'}`;

type Cost = Pick<SimulationResult, 'overSloSeconds' | 'replicaSeconds' | 'simulatedSeconds'> & {
  /** Seconds over the SLO by episode cause (the longest episodes the simulator kept). */
  readonly causes?: Readonly<Record<string, number>>;
};
const slim = (r: SimulationResult): Cost => {
  const causes: Record<string, number> = {};
  for (const e of r.episodes) causes[e.cause] = (causes[e.cause] ?? 0) + e.overSloSeconds;
  return {
    overSloSeconds: r.overSloSeconds,
    replicaSeconds: r.replicaSeconds,
    simulatedSeconds: r.simulatedSeconds,
    causes,
  };
};
const sum = (rs: readonly Cost[]): Cost => {
  const causes: Record<string, number> = {};
  for (const r of rs)
    for (const [k, v] of Object.entries(r.causes ?? {})) causes[k] = (causes[k] ?? 0) + v;
  return {
    overSloSeconds: rs.reduce((s, r) => s + r.overSloSeconds, 0),
    replicaSeconds: rs.reduce((s, r) => s + r.replicaSeconds, 0),
    simulatedSeconds: rs.reduce((s, r) => s + r.simulatedSeconds, 0),
    causes,
  };
};
const causeText = (c: Cost): string => {
  const total = Object.values(c.causes ?? {}).reduce((a, b) => a + b, 0);
  if (total === 0) return 'never over the SLO';
  return Object.entries(c.causes ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${((v / total) * 100).toFixed(0)} %`)
    .join(', ');
};
/** The tuning score: distance from the goal, and a little of the ratios so ties prefer better. */
const tuningScore = (p: Cost, hpa: Cost): number => {
  const v = verdict(p, hpa);
  return goalDistance(v) + 0.01 * (Math.min(v.sloRatio, 10) + Math.min(v.costRatio, 10));
};

function runPredictive(trace: Trace, params: Record<string, unknown>): Cost {
  return slim(runEntry(trace, 'predictive', comparisonSetup(trace, { predictiveParams: params })));
}

interface Tuning {
  readonly candidates: Record<string, unknown>[];
  readonly folds: Fold[];
  readonly shipped: number;
  readonly heldOutScore: (c: number, item: string) => number;
}

function tune(real: readonly Trace[]): Tuning {
  const candidates = grid();
  const tuning = new Map<string, Trace[]>(
    SYNTHETIC_FAMILIES.map((f) => [
      `synthetic:${f}`,
      syntheticTraces(f, 1, TUNING_SEEDS_PER_FAMILY),
    ]),
  );
  const items = new Map<string, Trace[]>([
    ...real.map((t): [string, Trace[]] => [t.name, [t]]),
    ...tuning,
  ]);
  const cacheFile = process.env.TUNING_CACHE;
  const hpa = new Map<string, Cost[]>();
  for (const [name, traces] of items)
    if (!cacheFile || !existsSync(cacheFile))
      hpa.set(
        name,
        traces.map((t) => slim(runEntry(t, 'hpa', comparisonSetup(t)))),
      );
  const started = performance.now();
  // TUNING_CACHE=file reuses the scores of an earlier run (they depend only on the candidates,
  // the traces and the policies' code, not on the shipped defaults or the learned table).
  const memo = new Map<string, number>(
    cacheFile && existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : [],
  );
  const score = (c: number, item: string): number => {
    const key = `${c}/${item}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const traces = items.get(item)!;
    const peers = hpa.get(item) ?? traces.map((t) => slim(runEntry(t, 'hpa', comparisonSetup(t))));
    const runs = traces.map((t) => runPredictive(t, candidates[c]!));
    // A family is one item: its traces pooled, so each family weighs like one real trace.
    const v = tuningScore(sum(runs), sum(peers));
    memo.set(key, v);
    return v;
  };
  const folds = leaveOneOut(
    real.map((t) => t.name),
    candidates.length,
    score,
    [...tuning.keys()],
  );
  // Held-out scores, only ever of a fold's own held-out trace.
  const heldOutScore = (c: number, item: string): number => score(c, item);
  const shipped = shippedCandidate(folds, heldOutScore);
  if (cacheFile) writeFileSync(cacheFile, JSON.stringify([...memo]));
  console.log(
    `tuning: ${candidates.length} candidates × ${items.size} items in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  return { candidates, folds, shipped, heldOutScore };
}

interface Row {
  readonly entry: ComparisonEntry;
  readonly cost: Cost;
  readonly met?: number;
  readonly of?: number;
}

function evaluateTrace(trace: Trace, params: Record<string, unknown>): Row[] {
  const setup = comparisonSetup(trace, { predictiveParams: params });
  return ENTRIES.map((entry) => ({ entry, cost: slim(runEntry(trace, entry, setup)) }));
}

function evaluateFamily(family: SyntheticFamily, params: Record<string, unknown>): Row[] {
  const traces = syntheticTraces(family, EVALUATION_SEED_BASE, EVAL_SEEDS_PER_FAMILY);
  const per = traces.map((t) => evaluateTrace(t, params));
  return ENTRIES.map((entry, i) => {
    const runs = per.map((rows) => rows[i]!.cost);
    const met = per.filter((rows) => verdict(rows[i]!.cost, rows[3]!.cost).met).length;
    return { entry, cost: sum(runs), met, of: traces.length };
  });
}

function mase(trace: Trace): { auto: number; snaive: number; relative: number; lead: number } {
  const setup = comparisonSetup(trace);
  const sim = setup.simulation;
  const leadTrace =
    (Number(sim.startupSeconds) + Number(sim.controlIntervalSeconds)) * Number(sim.compress);
  const lead = Math.max(1, Math.ceil(leadTrace / trace.stepSeconds));
  const r = backtest(toRates(trace.counts, trace.stepSeconds), {
    horizons: [1, lead],
    selectHorizon: lead,
    nonNegative: true,
  });
  const at = r.rows.filter((x) => x.horizon === lead);
  const auto = at.find((x) => x.model === 'auto')!;
  // The seasonal-naive row at the detected season (plain naive when none was found).
  const snaive = at.find((x) => x.kind === 'seasonal-naive') ?? at.find((x) => x.kind === 'naive')!;
  return { auto: auto.mase, snaive: snaive.mase, relative: auto.mae / snaive.mae, lead };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

function table(name: string, rows: Row[], figures: Figure[]): string[] {
  const hpa = rows.find((r) => r.entry === 'hpa')!.cost;
  const lines = [
    `| ${name} | time over SLO | replica-seconds | SLO vs hpa | cost vs hpa | goal |${rows[0]!.of ? ' traces meeting it |' : ''}`,
    `| --- | --- | --- | --- | --- | --- |${rows[0]!.of ? ' --- |' : ''}`,
  ];
  for (const r of rows) {
    const v = verdict(r.cost, hpa);
    const over = r.cost.overSloSeconds / r.cost.simulatedSeconds;
    lines.push(
      `| ${r.entry} | ${(over * 100).toFixed(3)} % | ${r.cost.replicaSeconds.toFixed(0)} | ${r.entry === 'hpa' ? '' : Number.isFinite(v.sloRatio) ? pct(v.sloRatio) : '∞'} | ${r.entry === 'hpa' ? '' : pct(v.costRatio)} | ${r.entry === 'hpa' ? '' : v.met ? 'met' : 'NOT met'} |${r.of ? (r.entry === 'hpa' ? '  |' : ` ${r.met}/${r.of} |`) : ''}`,
    );
    const isPeer = r.entry === 'hpa';
    const hpaOver = hpa.overSloSeconds / hpa.simulatedSeconds;
    figures.push(
      {
        name: `${name} ${r.entry}: time over SLO`,
        value: over * 100,
        unit: '%',
        ...(isPeer ? {} : { peer: { name: 'hpa', value: hpaOver * 100 } }),
      },
      {
        name: `${name} ${r.entry}: replica-seconds`,
        value: r.cost.replicaSeconds,
        unit: 'replica-s',
        ...(isPeer ? {} : { peer: { name: 'hpa', value: hpa.replicaSeconds } }),
      },
    );
  }
  return lines;
}

export async function run(): Promise<void> {
  const real = loadTraces();
  const t = tune(real);
  const shipped = t.candidates[t.shipped]!;
  const defaults = PredictiveParams.parse({});
  const shippedIsDefault = Object.entries(shipped).every(
    ([k, v]) => (defaults as Record<string, unknown>)[k] === v,
  );
  if (process.env.TUNE_ONLY) {
    for (const f of t.folds)
      console.log(`held out ${f.heldOut}: ${label(t.candidates[f.chosen]!)}`);
    console.log(`shipped: ${label(shipped)}; PredictiveParams defaults match: ${shippedIsDefault}`);
    return;
  }
  const figures: Figure[] = [];
  const notes: string[] = [];
  const detail: Record<string, unknown> = {
    candidates: t.candidates.map(label),
    folds: t.folds.map((f) => ({
      heldOut: f.heldOut,
      chosen: label(t.candidates[f.chosen]!),
      trainingScore: f.trainingScores[f.chosen],
    })),
    shipped: label(shipped),
  };

  notes.push('### Leave-one-out choice of the predictive defaults', '');
  for (const f of t.folds)
    notes.push(
      `- held out ${f.heldOut}: tuned on the other two real traces and ${TUNING_SEEDS_PER_FAMILY} tuning seeds per synthetic family → ${label(t.candidates[f.chosen]!)}`,
    );
  notes.push(
    '',
    `Shipped: ${label(shipped)} (the choice most folds made; ties broken by the summed held-out score of each fold's choice). PredictiveParams' defaults ${shippedIsDefault ? 'are' : 'are NOT (yet)'} this setting.`,
    '',
  );

  const verdicts: string[] = [];
  const perTrace: Record<string, unknown> = {};
  for (const f of t.folds) {
    const trace = real.find((x) => x.name === f.heldOut)!;
    const params = t.candidates[f.chosen]!;
    const rows = evaluateTrace(trace, params);
    perTrace[trace.name] = rows;
    notes.push(`#### ${trace.name} (held out; predictive at ${label(params)})`, '');
    notes.push(...table(trace.name, rows, figures), '');
    verdicts.push(verdictLine(trace.name, rows));
    console.log(verdicts[verdicts.length - 1]);
  }
  for (const family of SYNTHETIC_FAMILIES) {
    const rows = evaluateFamily(family, shipped);
    perTrace[`synthetic:${family}`] = rows;
    notes.push(
      `#### synthetic ${family} (${EVAL_SEEDS_PER_FAMILY} traces, seeds ${EVALUATION_SEED_BASE}–${EVALUATION_SEED_BASE + EVAL_SEEDS_PER_FAMILY - 1}, pooled; shipped predictive)`,
      '',
    );
    notes.push(...table(`synthetic ${family}`, rows, figures), '');
    verdicts.push(verdictLine(`synthetic ${family}`, rows));
    console.log(verdicts[verdicts.length - 1]);
  }
  detail.results = perTrace;

  const forecast: string[] = [];
  for (const trace of real) forecast.push(maseLine(trace.name, [mase(trace)], figures));
  for (const family of SYNTHETIC_FAMILIES) {
    const ms = syntheticTraces(family, EVALUATION_SEED_BASE, EVAL_SEEDS_PER_FAMILY).map(mase);
    forecast.push(maseLine(`synthetic ${family}`, ms, figures));
  }
  console.log(forecast.join('\n'));
  writeFileSync(
    join(resultsDir, 'policy-heldout-detail.json'),
    `${JSON.stringify(detail, null, 2)}\n`,
  );
  recordResult({
    benchmark: 'policy-heldout',
    figures,
    notes: [
      '### Verdicts (goal: at least 50 % less time over the SLO than hpa at no more than its replica-seconds)',
      '',
      ...verdicts,
      '',
      ANALYSIS,
      '',
      ...notes,
      '### Forecast: MASE of the automatic choice against seasonal naive, at the lead horizon',
      '',
      ...forecast,
    ].join('\n'),
  });
}

function verdictLine(name: string, rows: Row[]): string {
  const hpa = rows.find((r) => r.entry === 'hpa')!.cost;
  const parts = (['predictive', 'predictive+warm', 'learned'] as const).map((e) => {
    const v = verdict(rows.find((r) => r.entry === e)!.cost, hpa);
    const cut = Number.isFinite(v.sloRatio)
      ? `${((1 - v.sloRatio) * 100).toFixed(1)} % less`
      : 'more (hpa had none)';
    return `${e} ${cut} time over the SLO at ${pct(v.costRatio)} of the replica-seconds: ${v.met ? 'met' : 'NOT met'}`;
  });
  const p = rows.find((r) => r.entry === 'predictive')!.cost;
  return `- ${name}: ${parts.join('; ')}. Time over the SLO by cause: predictive ${causeText(p)}; hpa ${causeText(hpa)}.`;
}

function maseLine(
  name: string,
  ms: { auto: number; snaive: number; relative: number; lead: number }[],
  figures: Figure[],
): string {
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const auto = mean(ms.map((m) => m.auto));
  const snaive = mean(ms.map((m) => m.snaive));
  const rel = mean(ms.map((m) => m.relative));
  const below = ms.filter((m) => m.auto < 1).length;
  const beats = ms.filter((m) => m.relative < 1).length;
  figures.push(
    {
      name: `${name}: auto MASE (h=${ms[0]!.lead})`,
      value: auto,
      unit: '',
      samples: ms.length,
      target: '< 1',
      peer: { name: 'seasonal naive', value: snaive },
    },
    {
      name: `${name}: auto MAE ÷ seasonal-naive MAE`,
      value: rel,
      unit: '',
      samples: ms.length,
      target: '< 1',
    },
  );
  return `- ${name}: auto MASE ${auto.toFixed(3)} vs seasonal naive ${snaive.toFixed(3)} at h=${ms[0]!.lead}; MAE ratio to seasonal naive ${rel.toFixed(3)}${ms.length > 1 ? ` (mean of ${ms.length}; MASE < 1 on ${below}/${ms.length}, beats seasonal naive on ${beats}/${ms.length})` : ''}.`;
}
