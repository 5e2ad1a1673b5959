/**
 * `coxswain forecast backtest --trace FILE`: rolling-origin backtest of every
 * forecasting model on a request trace, with MAE, MASE (scaled by in-sample
 * seasonal naive) and the empirical coverage of each model's own interval, per
 * horizon. The file is read here; everything else is @coxswain/forecast.
 */
import { readFileSync } from 'node:fs';
import {
  aggregate,
  type BacktestResult,
  backtest,
  parseTrace,
  type Trace,
  toRates,
} from '@coxswain/forecast';
import { type Command, InvalidArgumentError } from 'commander';
import { TraceReadError } from '../errors.js';

/** "1,5,15" → [1, 5, 15]: positive integers, each named when it is not. */
export function parseHorizons(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError(
      `expected a comma-separated list of steps such as "1,5,15", got ${JSON.stringify(text)}`,
    );
  }
  return parts.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(
        `horizon ${JSON.stringify(p)} is not a whole number of steps >= 1`,
      );
    return n;
  });
}

export function parsePositive(name: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(
        `${name} must be a positive number, got ${JSON.stringify(text)}`,
      );
    return n;
  };
}

export function parseFraction(name: string): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !(n > 0 && n < 1))
      throw new InvalidArgumentError(
        `${name} must be between 0 and 1 (exclusive), got ${JSON.stringify(text)}`,
      );
    return n;
  };
}

export function parseSeason(text: string): number | 'detect' | 'none' {
  if (text === 'detect' || text === 'none') return text;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 2)
    throw new InvalidArgumentError(
      `season must be "detect", "none" or a whole number of steps >= 2, got ${JSON.stringify(text)}`,
    );
  return n;
}

/** Reads and validates a trace file; a missing file or bad row becomes one clear line. */
export function readTrace(file: string): Trace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TraceReadError(
      file,
      `cannot read trace ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { cause: error },
    );
  }
  return parseTrace(text, file);
}

/** A trace re-binned to `stepSeconds`, which must be a whole multiple of its bin. */
export function rebin(trace: Trace, stepSeconds: number | undefined): Trace {
  if (stepSeconds === undefined || stepSeconds === trace.stepSeconds) return trace;
  const factor = stepSeconds / trace.stepSeconds;
  if (!Number.isInteger(factor) || factor < 1) {
    throw new InvalidArgumentError(
      `--step ${stepSeconds} must be a whole multiple of the trace's ${trace.stepSeconds} s bins`,
    );
  }
  return { ...trace, stepSeconds, counts: aggregate(trace.counts, factor) };
}

const f3 = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : '-');

export function renderBacktest(trace: Trace, result: BacktestResult): string {
  const lines: string[] = [];
  lines.push(
    `${trace.name}: ${trace.counts.length} points at ${trace.stepSeconds} s; fitted on the first ${result.initial}, scored at every later origin`,
    `season: ${result.seasons.length > 0 ? `${result.seasons.join(', ')} steps` : 'none detected'}; MASE scale (in-sample seasonal-naive MAE): ${f3(result.scale)} req/s`,
    `automatic choice (origins per model): ${Object.entries(result.chosen)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
  );
  const header = ['MODEL', 'HORIZON', 'MAE', 'MASE', 'COVERAGE', 'N'];
  const rows = result.rows.map((r) => [
    r.model,
    String(r.horizon),
    f3(r.mae),
    f3(r.mase),
    f3(r.coverage),
    String(r.count),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows])
    lines.push(
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
    );
  return lines.join('\n');
}

export function registerForecastCommand(program: Command): void {
  const forecast = program
    .command('forecast')
    .description('forecasting models on request-rate traces');
  forecast
    .command('backtest')
    .description(
      'rolling-origin backtest of every model: MAE, MASE and interval coverage per horizon',
    )
    .requiredOption('--trace <file>', 'CSV with t_seconds,requests (a count per bin)')
    .option(
      '--step <seconds>',
      'aggregate the trace to this bin width first',
      parsePositive('--step'),
    )
    .option('--horizons <list>', 'forecast horizons in steps', parseHorizons, [1, 2, 5, 15])
    .option(
      '--coverage <fraction>',
      'nominal coverage of the prediction interval',
      parseFraction('--coverage'),
      0.8,
    )
    .option(
      '--season <steps>',
      '"detect", "none" or a season length in steps',
      parseSeason,
      'detect' as const,
    )
    .option(
      '--initial <points>',
      'points used only for fitting (default 20 % of the series, at least 576)',
      parsePositive('--initial'),
    )
    .option('--json', 'print the result as JSON')
    .action(
      (flags: {
        trace: string;
        step?: number;
        horizons: number[];
        coverage: number;
        season: number | 'detect' | 'none';
        initial?: number;
        json?: boolean;
      }) => {
        try {
          const trace = rebin(readTrace(flags.trace), flags.step);
          const result = backtest(toRates(trace.counts, trace.stepSeconds), {
            horizons: flags.horizons,
            coverage: flags.coverage,
            season: flags.season,
            nonNegative: true,
            ...(flags.initial === undefined ? {} : { initial: Math.floor(flags.initial) }),
          });
          console.log(
            flags.json
              ? JSON.stringify(
                  { trace: trace.name, stepSeconds: trace.stepSeconds, ...result },
                  null,
                  2,
                )
              : renderBacktest(trace, result),
          );
        } catch (error) {
          console.error(
            `forecast backtest: ${error instanceof Error ? error.message : String(error)}`,
          );
          process.exitCode = 1;
        }
      },
    );
}
