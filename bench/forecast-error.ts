// MASE of every model at the policy's lead-time horizon on every real trace, against seasonal naive,
// by rolling-origin backtest (the same code as `coxswain forecast backtest`).
import { backtest, comparisonSetup, toRates } from '@coxswain/forecast';
import { loadTraces } from './forecast-traces.js';
import { type Figure, recordResult } from './lib/results.js';

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const trace of loadTraces()) {
    const setup = comparisonSetup(trace);
    const sim = setup.simulation;
    // Lead time of the policy comparison (start-up + one decision interval), in trace steps.
    const leadTraceSeconds =
      (Number(sim.startupSeconds) + Number(sim.controlIntervalSeconds)) * Number(sim.compress);
    const lead = Math.max(1, Math.ceil(leadTraceSeconds / trace.stepSeconds));
    const started = performance.now();
    const result = backtest(toRates(trace.counts, trace.stepSeconds), {
      horizons: [1, lead],
      selectHorizon: lead,
      nonNegative: true,
    });
    const seconds = (performance.now() - started) / 1000;
    const at = result.rows.filter((r) => r.horizon === lead);
    const snaive = at.find((r) => r.kind === 'seasonal-naive')!;
    const auto = at.find((r) => r.model === 'auto')!;
    for (const r of at) {
      figures.push({
        name: `${trace.name} h=${lead} ${r.model}: MASE`,
        value: r.mase,
        unit: '',
        samples: r.count,
        ...(r.model === 'auto' ? { target: `< seasonal naive (${snaive.mase.toFixed(3)})` } : {}),
        ...(r.kind === 'seasonal-naive'
          ? {}
          : { peer: { name: snaive.model, value: snaive.mase } }),
      });
    }
    figures.push({
      name: `${trace.name} h=${lead} auto: interval coverage (nominal 80 %)`,
      value: auto.coverage * 100,
      unit: '%',
      samples: auto.count,
    });
    const verdict = auto.mase < snaive.mase ? 'beats' : 'does NOT beat';
    notes.push(
      `- ${trace.name}: ${trace.counts.length} points at ${trace.stepSeconds} s, lead horizon ${lead} step(s); seasons detected ${result.seasons.join(', ') || 'none'} (seasonal naive is plain naive when none); fitted on the first ${result.initial}; automatic choice per origin: ${Object.entries(
        result.chosen,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ', ',
        )}; the chosen model ${verdict} seasonal naive (MASE ${auto.mase.toFixed(3)} vs ${snaive.mase.toFixed(3)}); backtest took ${seconds.toFixed(1)} s.`,
    );
    console.log(trace.name, at.map((r) => `${r.model} ${r.mase.toFixed(3)}`).join(', '));
  }
  recordResult({
    benchmark: 'forecast-error',
    figures,
    notes: [
      'Rolling-origin backtest with an expanding window: fitted (grid search) on the first 20 % (at least 576 points), then every later point is an origin; models keep updating online and refit on their doubling schedule. MASE is MAE divided by the in-sample one-step seasonal-naive MAE of the fit window; `auto` is whichever model the forecaster had chosen at each origin (lowest recent MAE at the lead horizon). Goal: auto beats seasonal naive on every trace.',
      '',
      ...notes,
    ].join('\n'),
  });
}
