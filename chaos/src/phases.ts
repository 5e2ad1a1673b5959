/**
 * From what a repetition saw (pure): the detect, decide and recover phases,
 * each checked against its SLA, and the repetition's verdict.
 */
import type { ChaosPhaseMeasure, ChaosSla } from '@coxswain/protocol';

/** A moment after the fault (ms) and what marked it. */
export interface Mark {
  readonly ms: number;
  readonly source: string;
}

export interface Observed {
  readonly firstProbeFailure: Mark | undefined;
  readonly firstClusterDetection: Mark | undefined;
  readonly firstDecision: Mark | undefined;
  /** The steady state back after it deviated (or, when the probes never saw it deviate, the first check after the repair). */
  readonly recovered: Mark | undefined;
  readonly deviated: boolean;
}

const earliest = (...marks: (Mark | undefined)[]): Mark | undefined =>
  marks.filter((m): m is Mark => m !== undefined).sort((a, b) => a.ms - b.ms)[0];

function measure(
  phase: ChaosPhaseMeasure['phase'],
  mark: Mark | undefined,
  slaMs: number | undefined,
  absent: { met: boolean; source: string },
): ChaosPhaseMeasure {
  const sla = slaMs ?? null;
  if (!mark)
    return {
      phase,
      ms: null,
      slaMs: sla,
      met: sla === null ? true : absent.met,
      source: absent.source,
    };
  const ms = Math.round(mark.ms * 10) / 10;
  return { phase, ms, slaMs: sla, met: sla === null || ms <= sla, source: mark.source };
}

export function phasesOf(o: Observed, sla: ChaosSla): ChaosPhaseMeasure[] {
  // A decision proves a detection no later than itself: a container the agent
  // restarts on its own leaves no other trace outside the engine.
  const detected = earliest(
    o.firstProbeFailure,
    o.firstClusterDetection,
    o.firstDecision
      ? { ms: o.firstDecision.ms, source: `implied by the decision (${o.firstDecision.source})` }
      : undefined,
  );
  return [
    measure('detect', detected, sla.detect, { met: false, source: 'not observed' }),
    measure('decide', o.firstDecision, sla.decide, {
      met: false,
      source: 'no repair command or restart observed',
    }),
    measure(
      'recover',
      o.recovered,
      sla.recover,
      o.deviated
        ? { met: false, source: 'steady state not back' }
        : { met: true, source: 'steady state never deviated' },
    ),
  ];
}

/** The repetition's verdict and why. */
export function verdictOf(
  phases: readonly ChaosPhaseMeasure[],
  probeSla: readonly { probe: string; met: boolean; p95Ms: number | null; limitMs: number }[],
  failure: string | undefined,
): { verdict: 'passed' | 'failed'; reason: string } {
  if (failure) return { verdict: 'failed', reason: failure };
  const broken = phases.filter((p) => !p.met);
  const slow = probeSla.filter((p) => !p.met);
  if (broken.length === 0 && slow.length === 0)
    return { verdict: 'passed', reason: 'every phase within its SLA' };
  const parts = [
    ...broken.map(
      (p) => `${p.phase} ${p.ms === null ? p.source : `${p.ms} ms`} > SLA ${p.slaMs} ms`,
    ),
    ...slow.map((p) => `probe ${p.probe} p95 ${p.p95Ms ?? '—'} ms > ${p.limitMs} ms`),
  ];
  return { verdict: 'failed', reason: `SLA broken: ${parts.join('; ')}` };
}
