/**
 * chaos-promises: issue #16's promises under the pause-leader, partition-leader
 * and kill-host experiments, from the journals of
 * `coxswain chaos run chaos/experiments/<name>.yaml --target lab --repeat 10 --report DIR/<name>`
 * (CHAOS_PROMISES_JOURNALS=DIR; each experiment may run on its own lab).
 * Per experiment: repetitions passed, resurrected writes, late executions,
 * peak running against the documented bound, API-running violations, and the
 * recover phase against the host-loss target. Reads journals, runs nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChaosJournal } from '@coxswain/protocol';
import { type Figure, percentile, recordResult } from './lib/results.js';

const EXPERIMENTS = ['pause-leader', 'partition-leader', 'kill-host'] as const;
/** kill-leader-host's recover SLA: a leader's host lost, the service back within 10 s. */
const HOST_LOSS_TARGET_MS = 10_000;

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

export async function run(): Promise<void> {
  const dir = process.env.CHAOS_PROMISES_JOURNALS;
  if (!dir) throw new Error('CHAOS_PROMISES_JOURNALS must name the directory of the run reports');
  const figures: Figure[] = [];
  const notes: string[] = [];
  const samples: Record<string, unknown>[] = [];
  for (const name of EXPERIMENTS) {
    const file = join(dir, name, `journal-${name}.json`);
    if (!existsSync(file)) {
      notes.push(`${name}: no journal (not run).`);
      continue;
    }
    const j = ChaosJournal.parse(JSON.parse(readFileSync(file, 'utf8')));
    const reps = j.coxswain.repetitions;
    const passed = reps.filter((r) => r.verdict === 'passed').length;
    const promise = (r: (typeof reps)[number], type: string) =>
      r.promises?.find((p) => p.type === type);
    const resurrected = reps.reduce(
      (a, r) => a + num(promise(r, 'last-write')?.value.resurrected),
      0,
    );
    const lastWriteBroken = reps.filter((r) => promise(r, 'last-write')?.ok === false).length;
    const peaks = reps.map((r) => ({
      peak: num(promise(r, 'max-bound')?.value.peak),
      bound: num(promise(r, 'max-bound')?.value.boundAtPeak),
      over: num(promise(r, 'max-bound')?.value.samplesOver),
    }));
    const apiBroken = reps.filter((r) => promise(r, 'api-running-truth')?.ok === false).length;
    const deadCounted = reps.reduce(
      (a, r) => a + num(promise(r, 'api-running-truth')?.value.deadHostCounted),
      0,
    );
    // The fencing-audit probe's lateExecutions, in the steady state checked after the run.
    const audits = (j.steady_states.after?.probes ?? []).filter((p) => p.type === 'fencing-audit');
    const audited = (key: string) =>
      audits.reduce((a, p) => a + num((p.output as Record<string, unknown> | null)?.[key]), 0);
    const lateExec = audited('lateExecutions');
    // Superseded commands: two operations overlapping in the command log, or an agent acting on a
    // token below one it had acted on.
    const superseded = audited('overlaps') + audited('agentViolations');
    const recover = reps.flatMap((r) => {
      const ms = r.phases.find((p) => p.phase === 'recover')?.ms;
      return ms === null || ms === undefined ? [] : [ms];
    });
    const writes = reps.flatMap((r) => r.writes ?? []);
    const out = (o: string) => writes.filter((w) => w.outcome === o).length;
    const sla = reps[0]?.phases.find((p) => p.phase === 'recover')?.slaMs ?? null;
    const maxPeak = Math.max(...peaks.map((p) => p.peak));
    figures.push(
      {
        name: `${name}: repetitions passed`,
        value: passed,
        unit: `of ${reps.length}`,
        samples: reps.length,
      },
      {
        name: `${name}: resurrected writes (last-write broken in ${lastWriteBroken} reps)`,
        value: resurrected,
        unit: 'writes',
        samples: writes.length,
        target: '0',
      },
      {
        name: `${name}: late executions of failed commands (fencing audit after the run)`,
        value: lateExec,
        unit: 'commands',
        target: '0',
      },
      {
        name: `${name}: superseded commands executed (overlapping operations in the command log, or an agent acting on a lower token; fencing audit after the run)`,
        value: superseded,
        unit: 'commands',
        target: '0',
      },
      {
        name: `${name}: peak running containers (engines), worst rep`,
        value: maxPeak,
        unit: 'containers',
        p50: percentile(
          peaks.map((p) => p.peak),
          50,
        ),
        samples: reps.length,
        target: `bound at peak ${peaks.find((p) => p.peak === maxPeak)?.bound} (max 9 + unreachable hosts' replicas); ${peaks.reduce((a, p) => a + p.over, 0)} samples over`,
      },
      {
        name: `${name}: API running violations (reps; samples counting a dead host)`,
        value: apiBroken,
        unit: 'reps',
        samples: deadCounted,
        target: '0',
      },
      {
        name: `${name}: recover (${recover.length} of ${reps.length} reps measured)`,
        value: percentile(recover, 50),
        unit: 'ms',
        p50: percentile(recover, 50),
        p99: percentile(recover, 99),
        samples: recover.length,
        target: `host-loss target ${HOST_LOSS_TARGET_MS} ms; file SLA ${sla ?? '—'} ms; max ${recover.length > 0 ? Math.round(Math.max(...recover)) : '—'} ms`,
      },
    );
    notes.push(
      `${name}: ${passed}/${reps.length} passed, exit ${j.coxswain.exitCode}, ${Math.round(j.duration)} s; writes ${writes.length} (acked ${out('acked')}, 504/no answer ${out('uncertain')}, refused ${out('refused')}).`,
    );
    for (const r of reps)
      samples.push({
        experiment: name,
        repetition: r.index,
        verdict: r.verdict,
        reason: r.reason,
        phases: Object.fromEntries(r.phases.map((p) => [p.phase, p.ms])),
        writes: (r.writes ?? []).map((w) => ({
          replicas: w.replicas,
          via: w.via,
          outcome: w.outcome,
          status: w.status,
          code: w.code,
          applied: w.applied,
          answeredAfterMs: w.answeredAtMs === null ? null : Math.round(w.answeredAtMs - w.sentAtMs),
        })),
        promises: Object.fromEntries(
          (r.promises ?? []).map((p) => [
            p.name,
            { ok: p.ok, ...p.value, violations: p.violations },
          ]),
        ),
      });
  }
  recordResult({
    benchmark: 'chaos-promises',
    figures,
    samples,
    notes: [
      'Issue #16 (promises under faults). Each experiment ran through `coxswain chaos run FILE --target lab --repeat 10`, seed 1, on its own 3-host netns lab (the three at once on this 2-core machine, so phases are slower than on a quiet one).',
      'Promises (chaos/src/promise-checks.ts), sampled every 200 ms from the start of a repetition to a settle window after its undo: last-write (final manual count = the last acknowledged write, or a later 504 write that applied; no write sent before an acknowledged one applied after it, by the /v1/writes index), max-bound (containers on every engine ≤ maxReplicas + what the hosts down but alive run, until trimmed within 15 s), api-running-truth (/v1/services running never counts a host down > 6 s, never counts above a live engine for > 5 s).',
      ...notes,
      'Full journals in the report directories named in the json (not committed).',
    ].join(' '),
  });
}
