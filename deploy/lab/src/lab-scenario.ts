/**
 * The lab's scripted scenario, narrated into the live view's events: the
 * cluster forms, the sample service is declared and reaches its minimum, a
 * manual scale takes it up and back down, then the leader's agent is killed,
 * a new leader takes over in a later term, and the old one rejoins.
 *
 * It drives the cluster only through the agents' API, as a person would
 * (`coxswain service apply`, `coxswain service scale`), so what the view shows
 * is the coordinator's own work: the lock, the fencing token, the placement.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceSpec } from '@coxswain/protocol';
import { ScenarioStepError } from './errors.js';
import type { Lab } from './lab.js';
import { loadServiceSpec } from './sample-service.js';

// A manual scale answers once its command is done, containers started on every host.
const SCALE_WAIT = { timeoutMs: 30_000 };

export const SCENARIOS = ['full', 'scale', 'failover', 'none'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  readonly scenario: ScenarioName;
  /** `agent` SIGKILLs the leader's agent alone; `host` kills its whole host (engine and containers too). */
  readonly kill?: 'agent' | 'host';
  /** The sample service; default deploy/lab/samples/web.yaml. */
  readonly spec?: ServiceSpec;
  /** Replicas the scale-up step asks for (default 6). */
  readonly scaleTo?: number;
  /** Pause between steps, so each shows in the view for a while (default 8 s). */
  readonly pauseMs?: number;
  readonly signal?: AbortSignal;
}

/** What happened, for tests and the final summary. */
export interface ScenarioOutcome {
  leaderAtStart?: { id: string; term: number; afterMs: number };
  reached: { replicas: number; afterMs: number }[];
  failover?: {
    killed: string;
    oldTerm: number;
    newLeader: string;
    newTerm: number;
    afterMs: number;
  };
  rejoined?: { id: string; afterMs: number };
  error?: string;
}

class ScenarioAborted extends Error {}

/** Runs the scenario; never throws: a failed step is noted in the view and ends the run. */
export async function runScenario(lab: Lab, options: ScenarioOptions): Promise<ScenarioOutcome> {
  const outcome: ScenarioOutcome = { reached: [] };
  if (options.scenario === 'none') return outcome;
  const pauseMs = options.pauseMs ?? 8000;
  const signal = options.signal;
  const pause = async (ms: number) => {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw new ScenarioAborted();
    }
  };
  const checkAbort = () => {
    if (signal?.aborted) throw new ScenarioAborted();
  };
  const started = performance.now();
  const secs = (fromMs: number) => `${((performance.now() - fromMs) / 1000).toFixed(1)} s`;

  try {
    lab.note('waiting for the voters to elect a leader');
    const first = await lab.waitForLeader(90_000, { ...(signal ? { signal } : {}) });
    const leaderId = first.leader!.id;
    outcome.leaderAtStart = {
      id: leaderId,
      term: first.term,
      afterMs: performance.now() - started,
    };
    lab.note(`cluster formed: ${leaderId} leads term ${first.term}; every write goes through it`);

    if (options.scenario === 'full' || options.scenario === 'scale') {
      const spec = options.spec ?? loadServiceSpec();
      await lab.waitForAllNodes(60_000, signal);
      checkAbort();
      await lab.api(leaderId).applyService(spec, { timeoutMs: 10_000 });
      let t = performance.now();
      lab.note(
        `declared service ${spec.name} (min ${spec.minReplicas}, max ${spec.maxReplicas}): coxswain service apply -f samples/web.yaml`,
      );
      await waitForRunning(lab, spec.name, spec.minReplicas, 90_000, signal);
      outcome.reached.push({ replicas: spec.minReplicas, afterMs: performance.now() - t });
      lab.note(
        `${spec.name}: ${spec.minReplicas}/${spec.minReplicas} running, spread over the hosts (${secs(t)})`,
      );

      await pause(pauseMs);
      const up = Math.min(options.scaleTo ?? 6, spec.maxReplicas);
      lab.note(
        `coxswain service scale ${spec.name} ${up} (manual override: same lock, same fencing)`,
      );
      t = performance.now();
      await lab.api(await anyAgent(lab)).scaleService(spec.name, up, SCALE_WAIT);
      await waitForRunning(lab, spec.name, up, 90_000, signal);
      outcome.reached.push({ replicas: up, afterMs: performance.now() - t });
      lab.note(`${spec.name}: ${up}/${up} running (${secs(t)})`);

      await pause(pauseMs);
      const down = spec.minReplicas;
      lab.note(`coxswain service scale ${spec.name} ${down}`);
      t = performance.now();
      await lab.api(await anyAgent(lab)).scaleService(spec.name, down, SCALE_WAIT);
      await waitForRunning(lab, spec.name, down, 90_000, signal);
      outcome.reached.push({ replicas: down, afterMs: performance.now() - t });
      lab.note(`${spec.name}: back to ${down}/${down} running (${secs(t)})`);
      await pause(pauseMs);
    }

    if (options.scenario === 'full' || options.scenario === 'failover') {
      // Alone, the kill would follow the election at once: let the cluster show first.
      if (options.scenario === 'failover') await pause(pauseMs);
      checkAbort();
      const before = await lab.waitForLeader(30_000, { ...(signal ? { signal } : {}) });
      const victim = before.leader!.id;
      const kill = options.kill ?? 'agent';
      lab.note(
        kill === 'agent'
          ? `SIGKILL the leader's agent on ${victim} (term ${before.term}); its engine and containers keep running`
          : `power cut: kill all of ${victim} (term ${before.term}): agent, engine, containers`,
        'lab.kill',
      );
      const killedAt = performance.now();
      if (kill === 'agent') await lab.killAgent(victim);
      else await lab.killHost(victim);
      const after = await lab.waitForLeader(60_000, {
        newerThanTerm: before.term,
        ...(signal ? { signal } : {}),
      });
      outcome.failover = {
        killed: victim,
        oldTerm: before.term,
        newLeader: after.leader!.id,
        newTerm: after.term,
        afterMs: performance.now() - killedAt,
      };
      lab.note(
        `failover: ${after.leader!.id} leads term ${after.term} (was ${victim}, term ${before.term}); ${secs(killedAt)} from the kill to a new leader the API names`,
        'lab.failover',
      );

      await pause(pauseMs);
      lab.note(
        `restarting ${kill === 'agent' ? `the agent on ${victim}` : victim} (same data dir, same Raft log)`,
      );
      const restartedAt = performance.now();
      if (kill === 'agent') await lab.restartAgent(victim);
      else await lab.restartHost(victim);
      await waitForRejoin(lab, victim, 90_000, signal);
      outcome.rejoined = { id: victim, afterMs: performance.now() - restartedAt };
      const now = await lab.refreshCluster();
      lab.note(
        `${victim} rejoined as a follower (${secs(restartedAt)}); leader ${now?.info.leader?.id ?? '?'} term ${now?.info.term ?? '?'}`,
        'lab.rejoin',
      );
    }
    lab.note('scenario done');
  } catch (error) {
    if (!(error instanceof ScenarioAborted) && !signal?.aborted) {
      outcome.error = (error as Error).message;
      lab.note(`scenario stopped: ${outcome.error}`, 'lab.error');
    }
  }
  return outcome;
}

/** A host whose agent answers (any agent forwards writes to the leader). */
async function anyAgent(lab: Lab): Promise<string> {
  const snap = await lab.refreshCluster();
  if (!snap) throw new ScenarioStepError('no agent answers its API');
  return snap.fromHost;
}

async function waitForRunning(
  lab: Lab,
  service: string,
  replicas: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer';
  while (performance.now() < deadline) {
    if (signal?.aborted) throw new ScenarioAborted();
    const snap = await lab.refreshCluster();
    const svc = snap?.services?.find((s) => s.name === service);
    if (svc) {
      const running = Object.values(svc.running).reduce((a, b) => a + b, 0);
      last = `${running}/${svc.desiredReplicas} running`;
      if (running === replicas && svc.desiredReplicas === replicas) return;
    }
    await sleep(500);
  }
  throw new ScenarioStepError(
    `${service} did not reach ${replicas} running replicas in ${timeoutMs / 1000} s (last: ${last})`,
  );
}

/** Until the restarted node reports again and the cluster lists it as a follower. */
async function waitForRejoin(
  lab: Lab,
  id: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (signal?.aborted) throw new ScenarioAborted();
    if (lab.reports.has(id)) {
      try {
        const info = await lab.api(id).cluster();
        if (info.role === 'follower' && info.leader !== null) return;
      } catch {
        // Not listening yet.
      }
    }
    await sleep(500);
  }
  throw new ScenarioStepError(`${id} did not rejoin as a follower in ${timeoutMs / 1000} s`);
}
