/** The steady-state hypothesis: every probe run at once, and waiting for it to hold. */

import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosProbe, ChaosProbeRun, ChaosSteadyStateRun } from '@coxswain/protocol';
import { type ProbeContext, type ProbeOutcome, runProbe } from './probes.js';

const iso = (epochMs: number) => new Date(epochMs).toISOString();

export async function probeRun(
  p: ChaosProbe,
  ctx: ProbeContext,
): Promise<{ run: ChaosProbeRun; outcome: ProbeOutcome }> {
  const start = Date.now();
  const outcome = await runProbe(p, ctx);
  const end = Date.now();
  return {
    outcome,
    run: {
      name: p.name,
      type: p.type,
      status: outcome.ok ? 'succeeded' : 'failed',
      tolerance_met: outcome.ok,
      output: outcome.value,
      detail: outcome.detail,
      start: iso(start),
      end: iso(end),
      duration: (end - start) / 1000,
    },
  };
}

export async function checkSteady(
  probes: readonly ChaosProbe[],
  ctx: ProbeContext,
): Promise<ChaosSteadyStateRun> {
  const runs = await Promise.all(probes.map((p) => probeRun(p, ctx)));
  return { steady_state_met: runs.every((r) => r.outcome.ok), probes: runs.map((r) => r.run) };
}

/**
 * Checks until the hypothesis holds or `timeoutMs` passes; returns the last
 * check. `missed` hears each check that did not hold (but the last), so a
 * caller can say what it is waiting for.
 */
export async function waitSteady(
  probes: readonly ChaosProbe[],
  ctx: ProbeContext,
  timeoutMs: number,
  signal?: AbortSignal,
  missed?: (run: ChaosSteadyStateRun) => void,
): Promise<ChaosSteadyStateRun> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const run = await checkSteady(probes, ctx);
    if (run.steady_state_met || performance.now() >= deadline || signal?.aborted) return run;
    missed?.(run);
    await sleep(500, undefined, { signal }).catch(() => {});
  }
}

/** What a check that did not hold says: each failing probe's name and detail. */
export function steadyMisses(run: ChaosSteadyStateRun): string {
  return run.probes
    .filter((p) => !p.tolerance_met)
    .map((p) => (p.detail ? `${p.name}: ${p.detail}` : p.name))
    .join('; ');
}

/** Events that mean the cluster is still acting on the previous repetition. */
const BUSY_EVENTS = [
  'command.issued',
  'command.done',
  'command.refused',
  'node.joined',
  'node.dead',
  'node.returned',
  'leader.elected',
] as const;

/**
 * Waits until the cluster has been quiet (none of BUSY_EVENTS heard) for
 * `quietMs`, or `timeoutMs` passes. A repetition that starts while the
 * previous one's host is still being trimmed back measures that operation's
 * command wait, not the fault: the steady-state probes can hold while the
 * leader is about to act. Returns how long it waited and whether it settled.
 */
export async function waitQuiet(
  events: { since(sinceMs: number, types?: readonly (typeof BUSY_EVENTS)[number][]): unknown[] },
  quietMs: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ settled: boolean; waitedMs: number }> {
  const started = performance.now();
  for (;;) {
    const now = performance.now();
    if (events.since(now - quietMs, BUSY_EVENTS).length === 0 && now - started >= quietMs)
      return { settled: true, waitedMs: now - started };
    if (now - started >= timeoutMs || signal?.aborted)
      return { settled: false, waitedMs: now - started };
    await sleep(200, undefined, { signal }).catch(() => {});
  }
}
