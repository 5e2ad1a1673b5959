/**
 * Runs one experiment: the hypothesis before, each repetition (with a pause
 * between), the hypothesis after, and the journal. Ctrl-C (the signal) and a
 * failing guard abort: every fault still in force is undone before it returns.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ChaosActivityRun,
  ChaosJournal,
  ChaosProbe,
  ChaosRepetition,
  ChaosSteadyStateRun,
} from '@coxswain/protocol';
import { ChaosJournal as JournalSchema } from '@coxswain/protocol';
import { percentile } from './duration.js';
import type { EventWatcher } from './events.js';
import type { Injected } from './faults.js';
import type { LoadedExperiment } from './load.js';
import { preflight } from './preflight.js';
import type { ProbeContext } from './probes.js';
import { seededRandom } from './random.js';
import { liveHosts, runRepetition } from './repetition.js';
import { checkSteady, steadyMisses, waitQuiet, waitSteady } from './steady.js';
import type { ChaosEnv } from './target.js';

export const CHAOS_VERSION = '0.1.0';

export interface RunOptions {
  readonly env: ChaosEnv;
  readonly events: EventWatcher;
  readonly seed?: number;
  /** Overrides the file's `repeat`. */
  readonly repeat?: number;
  /** Ctrl-C: aborts the run; rollbacks still run. */
  readonly signal?: AbortSignal;
  readonly progress?: (line: string) => void;
  /**
   * How long the hypothesis before the fault may take to hold (default 0: one
   * check, as Chaos Toolkit does). A cluster an autoscaler keeps scaling is
   * briefly off its desired counts at every decision, so a run against one
   * under load waits for a moment between decisions instead of failing.
   */
  readonly steadyTimeoutMs?: number;
  /** Each repetition as it ends, so a long run shows its verdicts as they come. */
  readonly repetitionEnded?: (repetition: ChaosRepetition) => void;
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** 0 all held; 1 an SLA or the hypothesis broke; 2 a fault refused (the file does not fit the target); 3 aborted. */
export function exitCodeOf(journal: Pick<ChaosJournal, 'status' | 'coxswain'>): 0 | 1 | 2 | 3 {
  if (journal.status === 'aborted' || journal.status === 'interrupted') return 3;
  return journal.coxswain.exitCode as 0 | 1 | 2 | 3;
}

export function summaryOf(reps: readonly ChaosRepetition[]): ChaosJournal['coxswain']['summary'] {
  return (['detect', 'decide', 'recover'] as const).map((phase) => {
    const all = reps.flatMap((r) => r.phases.filter((p) => p.phase === phase));
    const values = all.flatMap((p) => (p.ms === null ? [] : [p.ms]));
    return {
      phase,
      count: values.length,
      p50Ms: percentile(values, 50),
      p99Ms: percentile(values, 99),
      maxMs: values.length > 0 ? Math.max(...values) : null,
      slaMs: all[0]?.slaMs ?? null,
    };
  });
}

/** A run the preflight stopped before it began: an error (exit 2), never a pass, and nothing touched. */
function refusedJournal(
  loaded: LoadedExperiment,
  experiment: LoadedExperiment['experiment'],
  seed: number,
  startEpoch: number,
  refused: string[],
): ChaosJournal {
  const endEpoch = Date.now();
  return JournalSchema.parse({
    'chaoslib-version': `coxswain-chaos ${CHAOS_VERSION}`,
    platform: `${process.platform} ${process.arch} node ${process.version}`,
    node: hostname(),
    experiment,
    file: loaded.file,
    start: iso(startEpoch),
    end: iso(endEpoch),
    duration: (endEpoch - startEpoch) / 1000,
    status: 'failed',
    deviated: false,
    steady_states: { before: null, after: null, during: [] },
    run: [],
    rollbacks: [],
    coxswain: {
      seed,
      repetitions: [],
      summary: summaryOf([]),
      abortedBy: null,
      refused,
      exitCode: 2,
    },
  } satisfies ChaosJournal);
}

/** The hypothesis before the fault: one check, or a bounded wait for it to hold. */
async function steadyBefore(
  probes: readonly ChaosProbe[],
  ctx: ProbeContext,
  options: RunOptions,
  signal: AbortSignal,
): Promise<ChaosSteadyStateRun> {
  const timeoutMs = options.steadyTimeoutMs ?? 0;
  if (timeoutMs <= 0) return checkSteady(probes, ctx);
  let lastSaid = '';
  return waitSteady(probes, ctx, timeoutMs, signal, (run) => {
    const said = steadyMisses(run);
    if (said === lastSaid) return;
    lastSaid = said;
    options.progress?.(`  waiting for the steady state: ${said}`);
  });
}

export async function runExperiment(
  loaded: LoadedExperiment,
  options: RunOptions,
): Promise<ChaosJournal> {
  const experiment = { ...loaded.experiment, repeat: options.repeat ?? loaded.experiment.repeat };
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const startEpoch = Date.now();
  const active = new Set<Injected>();
  const down = (): ReadonlySet<string> =>
    new Set([...active].filter((i) => !i.undone()).flatMap((i) => i.down));
  const controller = new AbortController();
  const onUserAbort = () => controller.abort('interrupted (Ctrl-C)');
  options.signal?.addEventListener('abort', onUserAbort);
  if (options.signal?.aborted) onUserAbort();
  let abortedBy: string | null = null;
  const abort = (reason: string) => {
    if (controller.signal.aborted) return;
    abortedBy = reason;
    controller.abort(reason);
  };
  const ctx = {
    env: options.env,
    liveHosts: () => liveHosts(options.env, down()),
    baselineTerm: undefined,
  };
  const refusals = await preflight(options.env, loaded);
  if (refusals.length > 0) {
    options.signal?.removeEventListener('abort', onUserAbort);
    return refusedJournal(
      loaded,
      experiment,
      seed,
      startEpoch,
      refusals.map((r) => r.message),
    );
  }
  const run: ChaosActivityRun[] = [];
  const rollbacks: ChaosActivityRun[] = [];
  const repetitions: ChaosRepetition[] = [];
  const during: ChaosSteadyStateRun[] = [];
  let refused = false;
  let after: ChaosSteadyStateRun | null = null;

  const before = await steadyBefore(experiment.steadyState.probes, ctx, options, controller.signal);
  try {
    if (before.steady_state_met) {
      for (let index = 1; index <= experiment.repeat && !controller.signal.aborted; index++) {
        if (index > 1) {
          await sleep(experiment.pauseBetween, undefined, { signal: controller.signal }).catch(
            () => {},
          );
          const check = await waitSteady(
            experiment.steadyState.probes,
            ctx,
            experiment.recoverTimeout,
            controller.signal,
          );
          during.push(check);
          if (!check.steady_state_met || controller.signal.aborted) break;
          // Independent repetitions: the previous one's host return may still be reconciled.
          const quiet = await waitQuiet(
            options.events,
            experiment.recoverHold,
            experiment.recoverTimeout,
            controller.signal,
          );
          if (!quiet.settled)
            options.progress?.(
              `  the cluster kept acting for ${(quiet.waitedMs / 1000).toFixed(0)} s after rep ${index - 1}; starting rep ${index} anyway`,
            );
        }
        const r = await runRepetition(
          {
            experiment,
            env: options.env,
            events: options.events,
            random,
            signal: controller.signal,
            abort,
            progress: options.progress,
            down,
            active,
          },
          index,
        );
        repetitions.push(r.repetition);
        options.repetitionEnded?.(r.repetition);
        run.push(...r.run);
        rollbacks.push(...r.rollbacks);
        if (r.refused) {
          refused = true;
          break;
        }
      }
    }
  } finally {
    // Whatever a crash or an abort left in force comes back now.
    for (const inj of [...active].reverse()) await inj.undo().catch(() => {});
    options.signal?.removeEventListener('abort', onUserAbort);
  }
  if (before.steady_state_met && !controller.signal.aborted)
    after = await waitSteady(experiment.steadyState.probes, ctx, experiment.recoverTimeout);
  else if (controller.signal.aborted) after = await checkSteady(experiment.steadyState.probes, ctx);

  const interrupted = options.signal?.aborted === true;
  const aborted = controller.signal.aborted;
  const failedRep = repetitions.some((r) => r.verdict === 'failed');
  const incomplete = repetitions.length < experiment.repeat;
  const status: ChaosJournal['status'] = interrupted
    ? 'interrupted'
    : aborted
      ? 'aborted'
      : !before.steady_state_met || failedRep || incomplete || after?.steady_state_met === false
        ? 'failed'
        : 'completed';
  const exitCode = aborted ? 3 : refused ? 2 : status === 'completed' ? 0 : 1;
  const endEpoch = Date.now();
  const journal: ChaosJournal = {
    'chaoslib-version': `coxswain-chaos ${CHAOS_VERSION}`,
    platform: `${process.platform} ${process.arch} node ${process.version}`,
    node: hostname(),
    experiment: {
      ...experiment,
      title: experiment.title,
      description: experiment.description,
      tags: experiment.tags,
    },
    file: loaded.file,
    start: iso(startEpoch),
    end: iso(endEpoch),
    duration: (endEpoch - startEpoch) / 1000,
    status,
    deviated: !before.steady_state_met || after?.steady_state_met === false || failedRep,
    steady_states: { before, after, during },
    run,
    rollbacks,
    coxswain: {
      seed,
      repetitions,
      summary: summaryOf(repetitions),
      abortedBy: interrupted ? 'Ctrl-C' : abortedBy,
      refused: [],
      exitCode,
    },
  };
  // The journal is validated like any file someone else will read.
  return JournalSchema.parse(journal);
}
