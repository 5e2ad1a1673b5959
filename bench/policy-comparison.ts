// Every policy on every real trace through the same simulated service: time over the p95 SLO,
// replica-seconds, churn and drops, with hpa (the Kubernetes HPA algorithm) as the peer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  comparisonSetup,
  createPolicyRunner,
  type PolicyName,
  PredictiveParams,
  renderComparisonHtml,
  type SimulationResult,
  simulate,
} from '@coxswain/forecast';
import { loadTraces } from './forecast-traces.js';
import { type Figure, recordResult } from './lib/results.js';

const POLICIES: PolicyName[] = ['predictive', 'hpa', 'threshold', 'score'];
// In-sample figures on all three traces; the held-out evaluation is bench/policy-heldout.ts.
// Why the goal is missed where it is, written after looking at the runs and the charts.
const SHORTFALL: Record<string, string> = {
  azure_functions_1day_per_minute:
    "  Why: this trace is bursts of 1–5 minutes at 5–30× the median rate with no daily cycle in one day of data (no season found; the best model, a rolling median, has MASE 1.45 at the lead horizon, worse than in-sample one-step naive). A burst is over, or nearly, by the time a replica started for it is ready (60 s start-up + 15 s decision interval), and its timing cannot be forecast from the past, so the forecast adds no timely capacity. The predictive policy still cuts time over the SLO because it sizes from the request rate (the full demand) where the HPA sees CPU saturated at 100 % and grows at most 100/70 per step; but the replicas it starts for a burst mostly arrive after it and are held through the stabilization window, which is the extra cost. What would help: a start-up shorter than the bursts (pre-warmed or paused replicas) narrows the gap but does not close it (measured with `coxswain simulate --startup 10` on this trace at the shipped defaults: 41.3 % less time over the SLO at 97.2 % of hpa's replica-seconds; at 30 s: 32.4 % less at 106.3 %); beyond that, standing headroom sized from burst statistics (which costs replica-seconds by design) or shedding/queueing at the edge. Not a better forecaster: the bursts carry no signal in the past of this one-day trace.",
};

/** What ships: the rows and the text below are of these, whatever they are. */
const SHIPPED = PredictiveParams.parse({});
const SHIPPED_TARGET = Math.round(SHIPPED.targetUtilization * 100);

const chartsDir = join(dirname(fileURLToPath(import.meta.url)), 'out');

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const verdicts: string[] = [];
  for (const trace of loadTraces()) {
    const setup = comparisonSetup(trace);
    const results: SimulationResult[] = [];
    const wallMs: Record<string, number> = {};
    for (const name of POLICIES) {
      const started = performance.now();
      results.push(
        simulate(trace, createPolicyRunner(name, setup.policyParams[name]), setup.simulation),
      );
      wallMs[name] = performance.now() - started;
    }
    // Sensitivity: the HPA at the predictive policy's shipped target, so the targets are not what differs.
    const hotter = comparisonSetup(trace, { targetPercent: SHIPPED_TARGET });
    const hpa80 = simulate(
      trace,
      createPolicyRunner('hpa', hotter.policyParams.hpa),
      hotter.simulation,
    );

    const hpa = results.find((r) => r.policy === 'hpa')!;
    const peer = (value: number) => ({ name: 'hpa', value });
    for (const r of results) {
      const t = trace.name;
      const isPeer = r.policy === 'hpa';
      figures.push(
        {
          name: `${t} ${r.policy}: time over SLO`,
          value: r.overSloFraction * 100,
          unit: '%',
          ...(isPeer ? {} : { peer: peer(hpa.overSloFraction * 100) }),
        },
        {
          name: `${t} ${r.policy}: replica-seconds`,
          value: r.replicaSeconds,
          unit: 'replica-s',
          ...(isPeer ? {} : { peer: peer(hpa.replicaSeconds) }),
        },
        {
          name: `${t} ${r.policy}: scale actions`,
          value: r.scaleActions,
          unit: 'actions',
          ...(isPeer ? {} : { peer: peer(hpa.scaleActions) }),
        },
        {
          name: `${t} ${r.policy}: dropped`,
          value: (r.dropped / r.arrived) * 100,
          unit: '% of requests',
          ...(isPeer ? {} : { peer: peer((hpa.dropped / hpa.arrived) * 100) }),
        },
      );
    }
    figures.push(
      {
        name: `${trace.name} hpa@${SHIPPED_TARGET}%: time over SLO`,
        value: hpa80.overSloFraction * 100,
        unit: '%',
      },
      {
        name: `${trace.name} hpa@${SHIPPED_TARGET}%: replica-seconds`,
        value: hpa80.replicaSeconds,
        unit: 'replica-s',
      },
    );
    const p = results.find((r) => r.policy === 'predictive')!;
    const sloCut = 1 - p.overSloSeconds / hpa.overSloSeconds;
    const cost = p.replicaSeconds / hpa.replicaSeconds;
    const met = sloCut >= 0.5 && cost <= 1;
    verdicts.push(
      `- ${trace.name}: predictive has ${(sloCut * 100).toFixed(1)} % less time over the SLO than hpa at ${(cost * 100).toFixed(1)} % of its replica-seconds: goal ${met ? 'met' : 'NOT met'}.`,
    );
    if (!met) verdicts.push(SHORTFALL[trace.name] ?? '  (no explanation recorded for this trace)');
    notes.push(
      `**${trace.name}**: ${setup.notes.join('; ')}. Wall time per policy: ${POLICIES.map((n) => `${n} ${(wallMs[n]! / 1000).toFixed(1)} s`).join(', ')}.`,
    );
    const html = renderComparisonHtml(results, {
      title: `policy comparison: ${trace.name}`,
      sloP95Ms: Number(setup.simulation.sloP95Ms),
      capacityPerReplica: Number(setup.simulation.capacityPerReplica),
      notes: setup.notes,
    });
    // Charts are generated output, kept out of git (bench/out/); the JSON figures stay committed.
    mkdirSync(chartsDir, { recursive: true });
    writeFileSync(join(chartsDir, `policy-comparison-${trace.name}.html`), html);
    console.log(
      `${trace.name}:`,
      results
        .map(
          (r) =>
            `${r.policy} over-SLO ${(r.overSloFraction * 100).toFixed(3)} % cost ${r.replicaSeconds.toFixed(0)}`,
        )
        .join(' | '),
    );
    console.log(
      `  hpa@${SHIPPED_TARGET} over-SLO ${(hpa80.overSloFraction * 100).toFixed(3)} % cost ${hpa80.replicaSeconds.toFixed(0)}`,
    );
    verdicts.push(
      `  (hpa at the same ${SHIPPED_TARGET} % target: ${(hpa80.overSloFraction * 100).toFixed(2)} % over the SLO at ${((hpa80.replicaSeconds / hpa.replicaSeconds) * 100).toFixed(1)} % of hpa@70's replica-seconds; predictive has ${((1 - p.overSloSeconds / hpa80.overSloSeconds) * 100).toFixed(1)} % less time over the SLO than it, at ${((p.replicaSeconds / hpa80.replicaSeconds) * 100).toFixed(1)} % of its replica-seconds.)`,
    );
  }
  recordResult({
    benchmark: 'policy-comparison',
    figures,
    notes: [
      'Goal: predictive with at least 50 % less time over the SLO than hpa at no more than its replica-seconds, on every trace.',
      '',
      ...verdicts,
      '',
      `One configuration for every trace and policy, derived by fixed rules (\`comparisonSetup\` in @coxswain/forecast): capacity per replica so the trace's 99.9th-percentile rate needs 20 replicas at 70 %; one trace bin replayed per simulated minute (compression 1× for per-minute traces, 60× for the hourly one); replica start-up 60 s; decisions every 15 s; SLO p95 ≤ 250 ms; replicas 1–50; hpa CPU target 70 % with the Kubernetes defaults (tolerance 0.1, 300 s scale-down stabilization, 4 pods or 100 % per 15 s up); predictive at its shipped defaults: ${describeShipped()}. The predictive target is higher than hpa's because its headroom for growth is in the forecast quantile; \`hpa@${SHIPPED_TARGET}%\` is the HPA at that same target, so the comparison does not rest on the targets differing. These figures are in-sample: the shipped defaults are what the tuning procedure of bench/policy-heldout.ts selects on all three real traces plus synthetic tuning seeds; its leave-one-out folds estimate how that procedure does on a trace it never saw (the rule and the held-out figures are in the policy-heldout section). At the predictive policy's first defaults (target 70 %, stabilization 300 s) predictive cut time over the SLO by 49–99 % but used 9–56 % more replica-seconds than hpa. Charts: bench/out/policy-comparison-<trace>.html (generated, not committed).`,
      '',
      ...notes,
    ].join('\n'),
  });
}

function describeShipped(): string {
  const burst =
    SHIPPED.burstQuantile === 'off'
      ? 'no burst headroom'
      : `burst headroom at p${Math.round(SHIPPED.burstQuantile * 100)} of rises`;
  const horizon =
    SHIPPED.horizon === 'arrival'
      ? "a scale-up provisions for the forecast from the lead time on, when a replica started now could serve (horizon 'arrival'; a scale-down still keeps what the whole window needs)"
      : "a scale-up provisions for every step of the lead time (horizon 'window')";
  return `utilisation target ${SHIPPED_TARGET} % applied to its p${Math.round(SHIPPED.quantile * 100)} forecast over the lead time (= start-up + one decision interval), ${horizon}, ${SHIPPED.scaleDownStabilizationSeconds} s scale-down stabilization (each of its recommendations already looks a lead time ahead), ${burst}`;
}
