/**
 * `coxswain policy train`: trains the learned policy's Q table in the
 * simulator and writes it as JSON. With the defaults it reproduces the table
 * shipped in @coxswain/forecast (packages/forecast/src/learned-table.json):
 * synthetic training traces only (seeds 1..4 of each family, far from the
 * evaluation seeds), so every real trace stays held out.
 */
import { writeFileSync } from 'node:fs';
import { trainingTraces, trainLearnedTable } from '@coxswain/forecast';
import type { Command } from 'commander';
import { parsePositive, readTrace } from './forecast.js';
import { parseWholeNumber } from './simulate.js';

export const TRAIN_DEFAULTS = { seed: 1, epochs: 6, perFamily: 4 } as const;

interface TrainFlags {
  out: string;
  seed: number;
  epochs: number;
  perFamily: number;
  trace: string[];
  sloPenalty?: number;
}

export function registerPolicyCommand(program: Command): void {
  const policy = program.command('policy').description('scaling policies: train the learned one');
  policy
    .command('train')
    .description(
      'train the learned policy in the simulator on synthetic traces (and any --trace) and write its table',
    )
    .option('--out <file.json>', 'where to write the table', 'learned-table.json')
    .option('--seed <n>', 'exploration seed', parseWholeNumber('--seed', 0), TRAIN_DEFAULTS.seed)
    .option(
      '--epochs <n>',
      'passes over the training traces',
      parseWholeNumber('--epochs', 1),
      TRAIN_DEFAULTS.epochs,
    )
    .option(
      '--per-family <n>',
      'synthetic training traces per family (seeds 1..n)',
      parseWholeNumber('--per-family', 0),
      TRAIN_DEFAULTS.perFamily,
    )
    .option(
      '--trace <file>',
      'also train on this CSV (t_seconds,requests); repeatable',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--slo-penalty <w>',
      'reward weight of a report over the SLO',
      parsePositive('--slo-penalty'),
    )
    .action((flags: TrainFlags) => {
      try {
        const traces = [...trainingTraces(flags.perFamily), ...flags.trace.map(readTrace)];
        if (traces.length === 0)
          throw new Error('no training traces (--per-family 0 and no --trace)');
        const started = performance.now();
        const table = trainLearnedTable(traces, {
          seed: flags.seed,
          epochs: flags.epochs,
          ...(flags.sloPenalty === undefined ? {} : { sloPenalty: flags.sloPenalty }),
          description: `coxswain policy train --seed ${flags.seed} --epochs ${flags.epochs} --per-family ${flags.perFamily}${flags.trace.map((t) => ` --trace ${t.replace(/^.*\//, '')}`).join('')}`,
        });
        writeFileSync(flags.out, `${JSON.stringify(table)}\n`);
        const visited = table.visits.filter((r) => r.some((v) => v > 0)).length;
        console.log(
          `trained on ${traces.length} traces × ${flags.epochs} epochs in ${((performance.now() - started) / 1000).toFixed(1)} s; ${visited}/${table.q.length} states visited; written to ${flags.out}`,
        );
      } catch (error) {
        console.error(`policy train: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      }
    });
}
