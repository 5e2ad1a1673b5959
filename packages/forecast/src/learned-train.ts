import { type ComparisonSetup, comparisonSetup } from './comparison.js';
import {
  emptyLearnedTable,
  LearnedParams,
  type LearnedState,
  type LearnedTable,
  learnedPolicy,
} from './learned-policy.js';
import type { PolicyRunner } from './policies.js';
import { simulate } from './simulator.js';
import { SYNTHETIC_FAMILIES, syntheticTrace } from './synthetic.js';
import type { Trace } from './trace.js';

export interface TrainOptions {
  /** Exploration seed; the same seed and traces give the same table. */
  readonly seed?: number;
  /** Passes over the training traces. */
  readonly epochs?: number;
  readonly explore?: number;
  readonly learningRate?: number;
  readonly sloPenalty?: number;
  readonly discount?: number;
  /** The simulated service per trace; default comparisonSetup (the benchmark's rules). */
  readonly setup?: (trace: Trace) => ComparisonSetup;
  /** Recorded in the table's `trainedOn`. */
  readonly description?: string;
}

/** Seeds of the synthetic training traces: per family, seeds 1..perFamily (far below EVALUATION_SEED_BASE). */
export function trainingTraces(perFamily = 4): Trace[] {
  const out: Trace[] = [];
  for (let seed = 1; seed <= perFamily; seed++)
    for (const family of SYNTHETIC_FAMILIES) out.push(syntheticTrace(family, seed));
  return out;
}

/**
 * Trains the learned policy's Q table in the simulator: every epoch replays
 * each training trace in order under ε-greedy exploration, carrying the table
 * from run to run. Pure and deterministic for the seed and the traces.
 */
export function trainLearnedTable(
  traces: readonly Trace[],
  options: TrainOptions = {},
): LearnedTable {
  const epochs = options.epochs ?? 3;
  const seed = options.seed ?? 1;
  let table = emptyLearnedTable();
  for (let epoch = 0; epoch < epochs; epoch++) {
    traces.forEach((trace, i) => {
      const setup = (options.setup ?? comparisonSetup)(trace);
      const params = LearnedParams.parse({
        ...setup.policyParams.predictive,
        table,
        explore: options.explore ?? 0.1,
        learningRate: options.learningRate ?? 0.1,
        ...(options.sloPenalty === undefined ? {} : { sloPenalty: options.sloPenalty }),
        ...(options.discount === undefined ? {} : { discount: options.discount }),
        seed: seed * 100_003 + epoch * 1009 + i,
      });
      let state: LearnedState = learnedPolicy.initialState(params);
      const runner: PolicyRunner = {
        name: 'learned',
        decide(ctx) {
          const d = learnedPolicy.decide(ctx, state, params);
          state = d.state;
          return d;
        },
      };
      simulate(trace, runner, setup.simulation);
      table = state.table;
    });
  }
  return {
    ...table,
    q: table.q.map((r) => r.map((v) => Math.round(v * 1e4) / 1e4)),
    trainedOn:
      options.description ??
      `${traces.length} traces (${traces.map((t) => t.name).join(', ')}), ${epochs} epochs, seed ${seed}`,
  };
}
