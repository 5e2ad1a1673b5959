/**
 * `coxswain simulate --trace FILE --policy predictive,hpa`: replays a request
 * trace (any CSV of counts per bin, any bin width) through the simulated
 * service under each policy, prints a comparison table and where each policy
 * lost time over the SLO (the longest episodes and what surrounded them), and
 * with --out writes a self-contained HTML chart (load, forecast, replicas and
 * p95 latency over time, one panel per policy).
 */
import { writeFileSync } from 'node:fs';
import {
  COMPARISON_ENTRIES,
  type ComparisonEntry,
  comparisonSetup,
  type EpisodeCause,
  isComparisonEntry,
  PredictiveParams,
  renderComparisonHtml,
  runComparison,
  type SimulationResult,
} from '@coxswain/forecast';
import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.js';
import { parsePositive, readTrace } from './forecast.js';

export function parsePolicies(text: string): ComparisonEntry[] {
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!isComparisonEntry(n))
      throw new InvalidArgumentError(
        `unknown policy ${JSON.stringify(n)}; choose from ${COMPARISON_ENTRIES.join(', ')}`,
      );
  }
  return [...new Set(names as ComparisonEntry[])];
}

const clock = (traceSeconds: number): string => {
  const d = Math.floor(traceSeconds / 86400);
  const h = Math.floor((traceSeconds % 86400) / 3600);
  const m = Math.floor((traceSeconds % 3600) / 60);
  return `${d > 0 ? `day ${d} ` : ''}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
};

const CAUSE_TEXT: Record<EpisodeCause, string> = {
  'max-replicas': 'at the replica ceiling (--max-replicas)',
  burst: 'a burst: the rate at least doubled within a lead time',
  'after-scale-down': 'soon after a scale-down',
  growth: 'growth of 20 % or more within a lead time',
  steady: 'load near capacity at a steady rate',
};

/** Per policy: time over the SLO by cause, and the longest episodes with their surroundings. */
export function renderEpisodes(results: readonly SimulationResult[], top = 5): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.episodes.length === 0) {
      out.push(`${r.policy}: never over the SLO`);
      continue;
    }
    const byCause = new Map<EpisodeCause, number>();
    for (const e of r.episodes)
      byCause.set(e.cause, (byCause.get(e.cause) ?? 0) + e.overSloSeconds);
    const kept = r.episodes.reduce((s, e) => s + e.overSloSeconds, 0);
    out.push(
      `${r.policy}: ${r.overSloSeconds.toFixed(0)} s over the SLO in ${r.episodes.length}${kept < r.overSloSeconds - 1e-6 ? '+' : ''} episodes; by cause: ${[
        ...byCause,
      ]
        .sort((a, b) => b[1] - a[1])
        .map(([c, s]) => `${c} ${s.toFixed(0)} s`)
        .join(', ')}`,
    );
    const longest = [...r.episodes]
      .sort((a, b) => b.overSloSeconds - a.overSloSeconds)
      .slice(0, top);
    for (const e of longest) {
      out.push(
        `  ${clock(e.startTraceSeconds)}–${clock(e.endTraceSeconds)} trace time: ${e.overSloSeconds.toFixed(0)} s over; rate ${e.rateBefore.toPrecision(3)} → ${e.rateAtStart.toPrecision(3)} (peak ${e.peakRate.toPrecision(3)}) req/s, ${e.readyAtStart}/${e.replicasAtStart} replicas ready; ${CAUSE_TEXT[e.cause]}`,
      );
    }
  }
  return out.join('\n');
}

export function parseAutoOrPositive(name: string): (text: string) => number | 'auto' {
  const positive = parsePositive(name);
  return (text) => (text === 'auto' ? 'auto' : positive(text));
}

export function parseWholeNumber(name: string, min: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(
        `${name} must be a whole number >= ${min}, got ${JSON.stringify(text)}`,
      );
    return n;
  };
}

const pct = (n: number): string => `${(n * 100).toFixed(3)} %`;

export function renderComparison(
  results: readonly SimulationResult[],
  notes: readonly string[],
): string {
  const hpa = results.find((r) => r.policy === 'hpa');
  const header = [
    'POLICY',
    'OVER SLO',
    'OVER SLO s',
    'REPLICA-s',
    'OF WHICH STANDBY',
    'MEAN REPLICAS',
    'ACTIONS',
    'CHURN',
    'DROPPED',
    'QUEUED END',
  ];
  if (hpa) header.push('SLO vs HPA', 'COST vs HPA');
  const rows = results.map((r) => {
    const row = [
      r.policy,
      pct(r.overSloFraction),
      r.overSloSeconds.toFixed(0),
      r.replicaSeconds.toFixed(0),
      r.standbyReplicaSeconds.toFixed(0),
      r.meanReplicas.toFixed(2),
      String(r.scaleActions),
      String(r.replicaChanges),
      r.dropped.toFixed(0),
      r.queuedAtEnd.toFixed(0),
    ];
    if (hpa) {
      row.push(
        hpa.overSloSeconds > 0
          ? `${((r.overSloSeconds / hpa.overSloSeconds) * 100).toFixed(1)} %`
          : '-',
        `${((r.replicaSeconds / hpa.replicaSeconds) * 100).toFixed(1)} %`,
      );
    }
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const table = [header, ...rows].map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
  );
  return [...notes, '', ...table].join('\n');
}

/**
 * The predictive defaults as `--help` states them, read from the schema that declares them so the
 * help cannot drift from what ships (the other predictive parameters are not flags: they are named
 * here so a reader knows what the rows were run at).
 */
export function shippedPredictiveText(): string {
  const p = PredictiveParams.parse({});
  const burst =
    p.burstQuantile === 'off'
      ? 'burst headroom off'
      : `burst headroom p${Math.round(p.burstQuantile * 100)}`;
  return `${Math.round(p.targetUtilization * 100)}, on the p${Math.round(p.quantile * 100)} forecast, horizon '${p.horizon}', ${p.scaleDownStabilizationSeconds} s scale-down stabilization, ${burst}`;
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'replay a request trace through a simulated service under each scaling policy and compare them',
    )
    .requiredOption('--trace <file>', 'CSV with t_seconds,requests (a count per bin)')
    .option(
      '--policy <list>',
      `policies to compare (${COMPARISON_ENTRIES.join(', ')}; predictive+warm is predictive with a warm pool)`,
      parsePolicies,
      [
        'predictive',
        'predictive+warm',
        'learned',
        'hpa',
        'threshold',
        'score',
      ] as ComparisonEntry[],
    )
    .option('--slo-ms <ms>', 'p95 latency objective', parsePositive('--slo-ms'), 250)
    .option(
      '--capacity <req/s|auto>',
      'req/s one replica serves at 100 % (auto: the p99.9 rate needs 20 replicas at 70 %)',
      parseAutoOrPositive('--capacity'),
      'auto' as const,
    )
    .option(
      '--startup <seconds>',
      'command-to-ready time of a new replica',
      parsePositive('--startup'),
      60,
    )
    .option(
      '--compress <factor|auto>',
      'replay speed-up (auto: one trace bin per simulated minute)',
      parseAutoOrPositive('--compress'),
      'auto' as const,
    )
    .option(
      '--interval <seconds>',
      'seconds between scaling decisions',
      parsePositive('--interval'),
      15,
    )
    .option('--hpa-target <percent>', 'CPU target of hpa', parsePositive('--hpa-target'), 70)
    .option(
      '--predictive-target <percent>',
      `utilisation target of predictive (default: its shipped ${shippedPredictiveText()})`,
      parsePositive('--predictive-target'),
    )
    .option(
      '--standby-weight <fraction>',
      'cost of a paused standby relative to a running replica (its memory share)',
      parsePositive('--standby-weight'),
      0.25,
    )
    .option(
      '--episodes <n>',
      'longest SLO episodes shown per policy',
      parseWholeNumber('--episodes', 0),
      5,
    )
    .option('--min-replicas <n>', 'lowest replica count', parseWholeNumber('--min-replicas', 0), 1)
    .option(
      '--max-replicas <n>',
      'highest replica count',
      parseWholeNumber('--max-replicas', 1),
      50,
    )
    .option('--out <file.html>', 'write a chart of load, forecast, replicas and latency per policy')
    .option('--json', 'print the results (without chart points) as JSON')
    .action(
      (flags: {
        trace: string;
        policy: ComparisonEntry[];
        sloMs: number;
        capacity: number | 'auto';
        startup: number;
        compress: number | 'auto';
        interval: number;
        hpaTarget: number;
        predictiveTarget?: number;
        standbyWeight: number;
        episodes: number;
        minReplicas: number;
        maxReplicas: number;
        out?: string;
        json?: boolean;
      }) => {
        try {
          if (flags.minReplicas > flags.maxReplicas)
            throw new UsageError(
              `--min-replicas ${flags.minReplicas} exceeds --max-replicas ${flags.maxReplicas}`,
            );
          const trace = readTrace(flags.trace);
          const setup = comparisonSetup(trace, {
            sloP95Ms: flags.sloMs,
            startupSeconds: flags.startup,
            controlIntervalSeconds: flags.interval,
            targetPercent: flags.hpaTarget,
            ...(flags.predictiveTarget === undefined
              ? {}
              : { predictiveTargetPercent: flags.predictiveTarget }),
            standbyCostWeight: Math.min(1, flags.standbyWeight),
            minReplicas: flags.minReplicas,
            maxReplicas: flags.maxReplicas,
            ...(flags.capacity === 'auto' ? {} : { capacityPerReplica: flags.capacity }),
            ...(flags.compress === 'auto' ? {} : { compress: flags.compress }),
          });
          const results = runComparison(trace, flags.policy, setup);
          if (flags.json) {
            console.log(
              JSON.stringify(
                { notes: setup.notes, results: results.map(({ points: _points, ...r }) => r) },
                null,
                2,
              ),
            );
          } else {
            console.log(renderComparison(results, setup.notes));
            if (flags.episodes > 0) {
              console.log('\nwhere time over the SLO was lost:');
              console.log(renderEpisodes(results, flags.episodes));
            }
          }
          if (flags.out) {
            writeFileSync(
              flags.out,
              renderComparisonHtml(results, {
                title: `coxswain simulate: ${trace.name}`,
                sloP95Ms: flags.sloMs,
                capacityPerReplica: Number(setup.simulation.capacityPerReplica),
                notes: setup.notes,
              }),
            );
            if (!flags.json) console.log(`\nchart written to ${flags.out}`);
          }
        } catch (error) {
          console.error(`simulate: ${error instanceof Error ? error.message : String(error)}`);
          process.exitCode = 1;
        }
      },
    );
}
