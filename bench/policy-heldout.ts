// Honest evaluation of the scaling policies. The rule, fixed before the run whose figures are in
// bench/RESULTS.md (see RULE below): the predictive defaults that ship are the candidate the tuning
// procedure selects on ALL training items (the three real traces plus the synthetic tuning seeds
// 1–3 per family; never an evaluation seed, 1000000 on); leave-one-out over the three real traces
// (the same procedure on two of them plus the tuning seeds, judged on the third) estimates how
// that procedure does on a trace it never saw. Every policy is then judged on each held-out real
// trace (at its fold's choice) and on 20 generated traces per synthetic family (at the shipped
// default). Also the forecast's MASE against seasonal naive per trace and family.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  backtest,
  type ComparisonEntry,
  comparisonSetup,
  EVALUATION_SEED_BASE,
  type Fold,
  finalCandidate,
  goalDistance,
  leaveOneOut,
  PredictiveParams,
  runEntry,
  type SimulationResult,
  SYNTHETIC_FAMILIES,
  type SyntheticFamily,
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
 * Nothing in it feeds a choice (RULE does that). Rewrite it when the figures change.
 */
const ANALYSIS = `### What the verdicts say, and why the goal is missed where it is

**Shipped default** (run of 2026-12-04, by the rule stated under "How the predictive default was
chosen" below): \`predictive\` at target 0.8, p90 forecast, 180 s scale-down stabilization, no burst
headroom, horizon 'arrival'. It is the candidate with the lowest summed tuning score over every
training item (0.9394; next the same with horizon 'window', 0.9413, then target 0.75 with
'arrival', 0.9690). Against the code before this run only the horizon changed ('window' →
'arrival'). The folds chose as in the previous run (same grid, same tuning items): target 0.75
with 'arrival' holding out Azure and NASA, 0.8 with 'arrival' holding out Wikipedia. The warm pool
is opt-in per service; \`learned\` is not the default. Every predictive row of the synthetic tables
is of this default; the held-out real rows are of each fold's own choice, which is what estimates
the procedure on a trace it never saw.

The goal: at most 50 % of hpa's time over the SLO at no more than 100 % of its replica-seconds.

| held out (fold's choice) | SLO vs hpa | cost vs hpa | goal | shipped default, in-sample |
| --- | --- | --- | --- | --- |
| azure_functions_1day_per_minute (0.75, arrival) | 65.3 % | 127.7 % | NOT met | 68.7 % / 120.9 %: NOT met |
| nasa_jul95_per_minute (0.75, arrival) | 20.6 % | 104.6 % | NOT met | 36.8 % / 98.7 %: met |
| wikipedia_hourly (0.8, arrival) | 3.2 % | 87.7 % | met | the same setting: met |

| synthetic family, shipped default (20 evaluation seeds, pooled) | SLO vs hpa | cost vs hpa | goal | traces meeting it |
| --- | --- | --- | --- | --- |
| diurnal | 18.5 % | 94.9 % | met | 16/20 |
| trend | ∞ (14 s against hpa's 0 s) | 93.8 % | NOT met | 19/20 |
| flash | 78.2 % | 92.7 % | NOT met | 1/20 |
| onoff | 50.7 % | 150.0 % | NOT met | 0/20 |
| ramp | 94.4 % (575 s against 609 s) | 94.6 % | NOT met | 14/20 |

Met held out on **wikipedia_hourly** and on **synthetic diurnal**; not met on the other four
families and the other two real traces. Where, by how much and why:

- **nasa_jul95_per_minute**: the SLO half holds with room (20.6 % of hpa's time over the SLO); the
  cost half misses by 4.6 % (104.6 % of hpa's replica-seconds). The fold that never saw NASA chose
  target 0.75, which buys SLO the goal does not need on this trace. The shipped 0.8 meets it on
  NASA (36.8 % at 98.7 %), but in-sample: it was fit with NASA among the training items, so that
  figure is not an estimate. Borderline: about 5 % of cost either way.
- **azure_functions_1day_per_minute** (short by 15.3 points of SLO, 27.7 % over on cost) and
  **synthetic onoff** (short by 0.7 points, 50.0 % over on cost): 98–99 % of the time lost is at
  burst onsets (episode cause \`burst\`). The bursts last 1–5 minutes; a cold-started replica serves
  75 s after an onset (60 s start-up + up to 15 s to the next decision), so the replicas a burst
  calls for arrive for its end and are then held for the 180 s stabilization window: that is the
  extra cost. No forecast sees an on/off burst coming (Azure MASE 1.45 at the lead horizon).
  Burst-aware headroom (p95 of the rises over the lead time) was in the grid; neither the folds
  nor the fit on every training item chose it: on the training items its standing replicas
  cost more than the SLO they bought.
- **synthetic flash**: short by 28.2 points (78.2 % of hpa's time over the SLO) at 92.7 % of its
  cost. A 5–50× rise within minutes is faster than the start-up: every policy loses the onset (99 %
  of predictive's time over the SLO is \`burst\`), and the plateau after it is reached by both, so
  with 1–4 flash crowds a day they differ little.
- **synthetic ramp**: 575 s over the SLO against hpa's 609 s in 1.73 million simulated seconds
  (0.033 % against 0.035 %), at 94.6 % of the cost; 14 of 20 traces meet the goal, the pooled
  ratio (94.4 %) does not. Both are nearly perfect; 67 % of predictive's seconds come soon after a
  scale-down (noise near capacity on a ramp that resumes after a pause), 90 % of hpa's from growth.
- **synthetic trend**: hpa had 0 s over the SLO in all 20 traces, predictive 14 s in one (19 of 20
  traces meet the goal), so the pooled ratio is ∞ and the verdict formally NOT met, at 93.8 % of
  the cost. Trend and ramp do not separate the policies: slow change is what a reactive policy
  already handles.
- The **warm pool** (opt-in, \`predictive+warm\` rows) is the lever that moves the bursty cases:
  20.8 % of hpa's time over the SLO on onoff and 29.4 % on Azure (at the fold's target), 7.3 % on
  NASA, but at 252.6 %, 183.8 % and 110.5 % of the replica-seconds with standbys at 0.25 of a
  replica, because the pool, sized at the p99 forecast over the start-up time, stands at burst
  size all day. It meets the goal on Wikipedia and diurnal (6.7 % at 98.5 %), and nearly on ramp
  (50.6 % at 97.2 %); it does not help flash (73.6 %). The leader keeps such a pool on real hosts
  (ScaleCommand.standby; test/warm-pool-leader.test.ts).
- **learned** (Q-learning, trained on seeds 1–4 of every family, never on a real trace) is no better
  than predictive anywhere and worse on the smooth families (119.5 % of hpa's time over the SLO on
  diurnal, 825.5 % on ramp): its reward rarely sees a miss, and a miss lands a start-up after the
  action that caused it. Its table does not depend on the horizon (it plans over its own p90
  window), so the default's change left it as it was: \`coxswain policy train\` still writes
  packages/forecast/src/learned-table.json byte for byte. A reproducible baseline, not a default.

For the record, not used for any choice: with horizon 'window' (the previous default, rows of the
2026-12-02 run) every family's verdict was the same and the ratios within 1.7 points (diurnal
16.8 % at 95.6 %, onoff 50.7 % at 150.1 %, flash 78.2 % at 93.0 %, ramp 94.4 % at 94.7 %); at a
60 s lead time and 60 s forecast steps 'arrival' only leaves out the first forecast step, the
one no replica started now could serve.

**Forecast (item 6).** The automatic choice beats seasonal naive at the lead horizon on every real
trace and on the mean of every family (MAE ratio 0.51–0.97). MASE < 1 holds on NASA (0.536),
Wikipedia (0.705) and diurnal (20/20), not on Azure (1.453), flash (mean 4.78; 4/20), trend
(1.006; 9/20), onoff (0.946; 13/20) and ramp (0.811; 16/20): the MASE scale is the one-step
seasonal-naive MAE of the calm first 20 %, and a burst, flash crowd or ramp usually starts after
it, while the score is taken at h = 2, where an onset costs every forecast alike.

What would close the remaining gap on bursty traffic is not a better forecaster: a start-up
shorter than the bursts (the warm pool, at the stated standby cost; a cheaper standby moves the
cost side directly), or shedding/queueing at the edge. \`coxswain simulate --standby-weight\` shows
the trade-off on one's own trace.`;

/** The selection rule, printed with the results; it was written before the run that applies it. */
const RULE = `The rule (fixed in bench/policy-heldout.ts before this run): **the shipped predictive default is
the candidate the tuning procedure selects when applied to every training item** — the three
real traces and the synthetic tuning seeds 1–3 of each family, never an evaluation seed (1000000
on). The procedure: for each candidate of the grid, sum over the items its tuning score (distance
from the goal against hpa, plus 0.01 × the capped SLO and cost ratios so that among candidates
meeting the goal the better one wins; a family's traces are pooled into one item); pick the
lowest sum; **tie-break: the earlier candidate in the grid's stated order** (sums within 1e-12).
The three leave-one-out folds run the same procedure without one real trace and are judged on it:
that estimates how the procedure does on a trace it never saw (the folds score the procedure; the
model that ships is fit on everything). The held-out rows below are therefore at each fold's own
choice; the synthetic rows are at the shipped default. No held-out or evaluation figure enters the
choice, and the grid was fixed before this run.`;

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
  // training items) to make room for the horizon option. The order is the tie-break's (RULE):
  // lower target first, then lower quantile, shorter stabilization, burst off, horizon 'window'.
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
  /** The candidate fit on every training item: what ships. */
  readonly shipped: number;
  /** Each candidate's summed score over every training item. */
  readonly shippedScores: readonly number[];
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
  // What ships: the same procedure on every training item (see RULE).
  const final = finalCandidate(
    real.map((t) => t.name),
    candidates.length,
    score,
    [...tuning.keys()],
  );
  if (cacheFile) writeFileSync(cacheFile, JSON.stringify([...memo]));
  console.log(
    `tuning: ${candidates.length} candidates × ${items.size} items in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  return { candidates, folds, shipped: final.chosen, shippedScores: final.scores };
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
    const ranked = t.shippedScores.map((v, c) => [c, v] as const).sort((a, b) => a[1] - b[1]);
    for (const [c, v] of ranked.slice(0, 5))
      console.log(`  on every training item: ${v.toFixed(4)}  ${label(t.candidates[c]!)}`);
    console.log(`shipped: ${label(shipped)}; PredictiveParams defaults match: ${shippedIsDefault}`);
    return;
  }
  // The rows must be of the default that ships: refuse to record them otherwise.
  if (!shippedIsDefault && process.env.GRID !== 'small')
    throw new Error(
      `the procedure selects ${label(shipped)} but PredictiveParams' defaults differ: make it the default first (TUNE_ONLY=1 prints the choice)`,
    );
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
    shippedScore: t.shippedScores[t.shipped],
  };

  notes.push('### How the predictive default was chosen', '', RULE, '');
  notes.push(
    `- **shipped** (fit on the three real traces and ${TUNING_SEEDS_PER_FAMILY} tuning seeds per synthetic family, ${t.candidates.length} candidates): ${label(shipped)}; PredictiveParams' defaults ${shippedIsDefault ? 'are' : 'are NOT'} this setting.`,
  );
  for (const f of t.folds)
    notes.push(
      `- fold holding out ${f.heldOut}: the same procedure on the other two real traces and the tuning seeds → ${label(t.candidates[f.chosen]!)}`,
    );
  notes.push('');

  const verdicts: string[] = [];
  const perTrace: Record<string, unknown> = {};
  for (const f of t.folds) {
    const trace = real.find((x) => x.name === f.heldOut)!;
    const params = t.candidates[f.chosen]!;
    const rows = evaluateTrace(trace, params);
    perTrace[trace.name] = rows;
    notes.push(`#### ${trace.name} (held out; predictive at ${label(params)})`, '');
    notes.push(...table(trace.name, rows, figures), '');
    // In-sample, not an estimate: the shipped default was fit on this trace too.
    const hpa = rows.find((r) => r.entry === 'hpa')!.cost;
    const inSample =
      t.shipped === f.chosen
        ? rows[0]!.cost
        : slim(
            runEntry(trace, 'predictive', comparisonSetup(trace, { predictiveParams: shipped })),
          );
    const v = verdict(inSample, hpa);
    notes.push(
      `In-sample (the shipped default, which was fit on this trace as well${t.shipped === f.chosen ? '; the same setting as the fold chose' : ''}): predictive ${pct(v.sloRatio)} of hpa's time over the SLO at ${pct(v.costRatio)} of its replica-seconds: ${v.met ? 'met' : 'NOT met'}.`,
      '',
    );
    perTrace[`${trace.name} (in-sample, shipped default)`] = inSample;
    verdicts.push(verdictLine(trace.name, rows));
    console.log(verdicts[verdicts.length - 1]);
  }
  for (const family of SYNTHETIC_FAMILIES) {
    const rows = evaluateFamily(family, shipped);
    perTrace[`synthetic:${family}`] = rows;
    notes.push(
      `#### synthetic ${family} (${EVAL_SEEDS_PER_FAMILY} traces, seeds ${EVALUATION_SEED_BASE}–${EVALUATION_SEED_BASE + EVAL_SEEDS_PER_FAMILY - 1}, pooled; predictive at the shipped default)`,
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
