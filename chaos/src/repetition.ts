/**
 * One repetition: inject the method's faults, poll the steady-state probes and
 * guards from the moment the first fault fires, time detect / decide / recover,
 * undo every fault, run the file's rollbacks, and give a verdict.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ChaosActivity,
  ChaosActivityRun,
  ChaosExperiment,
  ChaosProbe,
  ChaosRepetition,
  ChaosTimelineMark,
} from '@coxswain/protocol';
import { blastRadiusRefusal } from './blast-radius.js';
import { ContainerStarts } from './docker-watch.js';
import type { EventWatcher } from './events.js';
import { type FaultContext, hostOf, type Injected, inject, takesDown } from './faults.js';
import { type Mark, phasesOf, verdictOf } from './phases.js';
import { type ProbeContext, runCommand, runProbe } from './probes.js';
import { PromiseWatch } from './promise-watch.js';
import type { ChaosEnv, ChaosHost } from './target.js';
import { WriteLog } from './writes.js';

export interface RepetitionDeps {
  readonly experiment: ChaosExperiment;
  readonly env: ChaosEnv;
  readonly events: EventWatcher;
  readonly random: () => number;
  readonly signal: AbortSignal;
  /** Aborts the run (a guard failed): the reason names the guard. */
  readonly abort: (reason: string) => void;
  readonly progress: ((line: string) => void) | undefined;
  /** Hosts down by faults not yet undone (a scheduled undo may have brought one back). */
  readonly down: () => ReadonlySet<string>;
  /** Every fault not yet undone, so Ctrl-C can undo it. */
  readonly active: Set<Injected>;
}

export interface RepetitionResult {
  readonly repetition: ChaosRepetition;
  readonly run: ChaosActivityRun[];
  readonly rollbacks: ChaosActivityRun[];
  /** A fault the blast radius refused. */
  readonly refused: string | undefined;
}

const DETECTION_EVENTS = ['node.dead', 'leader.elected', 'leader.stepped_down'] as const;
const iso = (epochMs: number) => new Date(epochMs).toISOString();

export function liveHosts(env: ChaosEnv, down: ReadonlySet<string>): ChaosHost[] {
  return env.hosts.filter((h) => !down.has(h.name));
}

async function currentLeader(
  env: ChaosEnv,
  down: ReadonlySet<string>,
): Promise<{ id: string; term: number } | undefined> {
  for (const h of liveHosts(env, down)) {
    try {
      const c = await env.api.cluster(h.apiUrl);
      if (c.leader) return { id: c.leader.id, term: c.term };
    } catch {
      // next
    }
  }
  return undefined;
}

function activityName(a: ChaosActivity): string {
  if (a.type === 'fault')
    return (
      a.name ??
      `${a.fault.kind}${'host' in a.fault ? ` ${a.fault.host}` : ''}${'service' in a.fault ? ` ${a.fault.service}` : ''}`
    );
  if (a.type === 'pause') return `pause ${a.duration} ms`;
  if (a.type === 'scale')
    return `scale ${a.service} ${a.replicas} via ${a.via}${a.wait ? '' : ' (not waited for)'}`;
  if (a.type === 'wait')
    return `wait until ${typeof a.until === 'string' ? a.until : a.until.name}`;
  return `probe ${a.probe.name}`;
}

/** What the poller saw, in ms after the fault. */
interface Watch {
  faultAtMs: number | undefined;
  faultAtEpoch: number | undefined;
  firstFailure: Mark | undefined;
  recovered: Mark | undefined;
  deviated: boolean;
  latency: Map<string, { ms: number; p95: number }[]>;
  timeline: ChaosTimelineMark[];
  states: string;
  /** When every steady-state probe passed (ms after the fault). */
  okPolls: number[];
  /** The latest failing probe's detail, for a verdict that says why the steady state is not back. */
  lastFailure: string | undefined;
}

class Repetition {
  readonly #d: RepetitionDeps;
  readonly #index: number;
  readonly #run: ChaosActivityRun[] = [];
  readonly #rollbacks: ChaosActivityRun[] = [];
  readonly #injected: Injected[] = [];
  readonly #w: Watch = {
    faultAtMs: undefined,
    faultAtEpoch: undefined,
    firstFailure: undefined,
    recovered: undefined,
    deviated: false,
    latency: new Map(),
    timeline: [],
    states: '',
    okPolls: [],
    lastFailure: undefined,
  };
  #starts: ContainerStarts | undefined;
  #failure: string | undefined;
  #refused: string | undefined;
  #baselineTerm: number | undefined;
  #phase = 'steady';
  #polling = false;
  /** The repetition's own clock origin, for writes and promise samples. */
  readonly #t0 = performance.now();
  readonly #writes: WriteLog;
  #watch: PromiseWatch | undefined;

  constructor(deps: RepetitionDeps, index: number) {
    this.#d = deps;
    this.#index = index;
    this.#writes = new WriteLog(
      deps.env,
      () => liveHosts(deps.env, deps.down()),
      () => performance.now() - this.#t0,
    );
  }

  get probeCtx(): ProbeContext {
    return {
      env: this.#d.env,
      liveHosts: () => liveHosts(this.#d.env, this.#d.down()),
      baselineTerm: this.#baselineTerm,
    };
  }

  #sinceFault(): number {
    return this.#w.faultAtMs === undefined ? 0 : performance.now() - this.#w.faultAtMs;
  }

  #mark(kind: string, label: string): void {
    this.#w.timeline.push({ ms: Math.round(this.#sinceFault() * 10) / 10, kind, label });
  }

  async #poll(): Promise<void> {
    const e = this.#d.experiment;
    while (this.#polling && !this.#d.signal.aborted) {
      const probes = [...e.steadyState.probes, ...e.guards];
      const outcomes = await Promise.all(probes.map((p) => runProbe(p, this.probeCtx)));
      const ms = this.#sinceFault();
      const steady = outcomes.slice(0, e.steadyState.probes.length);
      e.steadyState.probes.forEach((p, i) => {
        const p95 = steady[i]?.p95Ms;
        if (p95 !== undefined)
          this.#w.latency.set(p.name, [...(this.#w.latency.get(p.name) ?? []), { ms, p95 }]);
      });
      const failed = e.steadyState.probes.filter((_, i) => !steady[i]?.ok);
      if (failed.length > 0) {
        this.#w.lastFailure =
          `${failed[0]!.name}: ${steady[e.steadyState.probes.indexOf(failed[0]!)]?.detail ?? ''}`.slice(
            0,
            300,
          );
        if (!this.#w.firstFailure)
          this.#w.firstFailure = {
            ms,
            source:
              `probe ${failed[0]!.name} failed: ${steady[e.steadyState.probes.indexOf(failed[0]!)]?.detail ?? ''}`.slice(
                0,
                300,
              ),
          };
        if (!this.#w.deviated || this.#w.recovered)
          this.#mark('deviated', `${failed.map((p) => p.name).join(', ')} failing`);
        // A recovery held for recoverHold is the recovery, as #observe takes it, even when the
        // method is still running: a dip after the fault is undone (a healed link, a woken
        // process) shows in the timeline, not in the recover phase.
        if (
          this.#w.recovered &&
          !this.#recoveredAtEnd &&
          ms - this.#w.recovered.ms >= e.recoverHold
        )
          this.#recoveredAtEnd = this.#w.recovered;
        this.#w.deviated = true;
        this.#w.recovered = undefined;
      } else this.#w.okPolls.push(ms);
      if (failed.length === 0 && this.#w.deviated && !this.#w.recovered) {
        this.#w.recovered = { ms, source: 'steady state back' };
        this.#mark('recovered', 'steady state back');
      }
      e.guards.forEach((g, i) => {
        const o = outcomes[e.steadyState.probes.length + i];
        if (o && !o.ok) this.#d.abort(`guard ${g.name}: ${o.detail}`);
      });
      this.#w.states = e.steadyState.probes
        .map((p, i) => `${p.name} ${steady[i]?.ok ? '✓' : '✗'}`)
        .join('  ');
      this.#d.progress?.(
        `rep ${this.#index}/${e.repeat} · ${this.#phase} · ${(ms / 1000).toFixed(1)} s · ${this.#w.states}`,
      );
      await sleep(e.pollInterval, undefined, { signal: this.#d.signal }).catch(() => {});
    }
  }

  async #activity(a: ChaosActivity, body: () => Promise<unknown>): Promise<boolean> {
    const start = Date.now();
    let status: ChaosActivityRun['status'] = 'succeeded';
    let output: unknown;
    let exception: string | undefined;
    try {
      output = await body();
    } catch (error) {
      status = 'failed';
      exception = (error as Error).message;
    }
    const end = Date.now();
    this.#run.push({
      activity: { ...a, name: activityName(a) },
      status,
      output,
      ...(exception ? { exception } : {}),
      start: iso(start),
      end: iso(end),
      duration: (end - start) / 1000,
      repetition: this.#index,
    });
    if (exception && !this.#failure && !this.#refused)
      this.#failure = `${activityName(a)}: ${exception}`;
    return status === 'succeeded';
  }

  async #fault(a: Extract<ChaosActivity, { type: 'fault' }>): Promise<unknown> {
    const d = this.#d;
    let host = hostOf(a.fault);
    if (host === 'leader') {
      const leader = await currentLeader(d.env, d.down());
      if (!leader) throw new Error('no leader to aim the fault at');
      host = leader.id;
    } else if (host?.startsWith('runs:'))
      host = await this.#followerRunning(host.slice('runs:'.length));
    const refusal = blastRadiusRefusal(
      { voters: d.env.hosts.filter((h) => h.voter).map((h) => h.name), down: d.down() },
      takesDown(a.fault, host),
      d.experiment.blastRadius,
    );
    if (refusal) {
      this.#refused = `${activityName(a)}: ${refusal}`;
      throw new Error(this.#refused);
    }
    if ('service' in a.fault && !this.#starts) {
      const engines = d.env.hosts.flatMap((h) =>
        d.env.docker(h.name) ? [{ host: h.name, docker: d.env.docker(h.name)! }] : [],
      );
      this.#starts = await ContainerStarts.watch(engines, a.fault.service);
    }
    const ctx: FaultContext = { env: d.env, random: d.random, leader: async () => host! };
    const firedAt = performance.now();
    const injected = await inject(a.fault, ctx, host);
    const tracked = injected;
    this.#injected.push(tracked);
    d.active.add(tracked);
    // The poller starts once the fault counts as active, so its first look already skips the host it took down.
    if (this.#w.faultAtMs === undefined) {
      this.#w.faultAtMs = firedAt;
      this.#w.faultAtEpoch = Date.now();
      this.#polling = true;
      this.#pollDone = this.#poll();
    }
    this.#mark('fault', `${injected.fault} ${injected.target}`);
    d.events.publish('chaos.fault', `chaos: ${injected.fault} on ${injected.target}`, {
      experiment: d.experiment.title,
      repetition: this.#index,
      fault: injected.fault,
      target: injected.target,
      phase: 'injected',
    });
    return { fault: injected.fault, target: injected.target };
  }

  #pollDone: Promise<void> | undefined;
  #recoveredAtEnd: Mark | undefined;

  /** A live follower the cluster placed a replica of `service` on, chosen with the run's seed. */
  async #followerRunning(service: string): Promise<string> {
    const d = this.#d;
    const leader = (await currentLeader(d.env, d.down()))?.id;
    for (const h of liveHosts(d.env, d.down())) {
      try {
        const svc = (await d.env.api.services(h.apiUrl)).services.find((s) => s.name === service);
        const hosts = Object.entries(svc?.placement ?? {})
          .filter(
            ([node, n]) =>
              n > 0 && node !== leader && liveHosts(d.env, d.down()).some((x) => x.name === node),
          )
          .map(([node]) => node)
          .sort();
        if (hosts.length === 0) throw new Error(`no live follower runs ${service}`);
        return hosts[Math.floor(d.random() * hosts.length)]!;
      } catch (error) {
        if ((error as Error).message.startsWith('no live follower')) throw error;
      }
    }
    throw new Error(`no host answered where ${service} runs`);
  }

  async #waitFor(probe: ChaosProbe, timeoutMs: number): Promise<unknown> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const o = await runProbe(probe, this.probeCtx);
      if (o.ok) return o.value;
      if (performance.now() >= deadline)
        throw new Error(`${probe.name} not met within ${timeoutMs} ms: ${o.detail}`);
      if (this.#d.signal.aborted) throw new Error('aborted');
      await sleep(this.#d.experiment.pollInterval, undefined, { signal: this.#d.signal }).catch(
        () => {},
      );
    }
  }

  async #method(): Promise<void> {
    const e = this.#d.experiment;
    this.#phase = 'inject';
    for (const a of e.method) {
      if (this.#d.signal.aborted) return;
      const ok = await this.#activity(a, async () => {
        if (a.type === 'fault') return this.#fault(a);
        if (a.type === 'scale') return this.#writes.send(a);
        if (a.type === 'pause')
          return sleep(a.duration, undefined, { signal: this.#d.signal }).catch(() => undefined);
        if (a.type === 'wait') {
          const probe =
            typeof a.until === 'string'
              ? e.steadyState.probes.find((p) => p.name === a.until)
              : a.until;
          if (!probe) throw new Error(`no steady-state probe named ${String(a.until)}`);
          return this.#waitFor(probe, a.timeout);
        }
        const o = await runProbe(a.probe, this.probeCtx);
        if (!o.ok) throw new Error(`${a.probe.name}: ${o.detail}`);
        return o.value;
      });
      if (!ok) return;
    }
  }

  /** After the method: until the steady state is back, or it never deviated within the detect window. */
  async #observe(): Promise<void> {
    const e = this.#d.experiment;
    if (this.#w.faultAtMs === undefined) return;
    const window = Math.min(Math.max(e.sla.detect ?? 10_000, 3000), e.recoverTimeout);
    this.#phase = 'recover';
    while (!this.#d.signal.aborted) {
      const ms = this.#sinceFault();
      if (this.#w.deviated && this.#w.recovered && ms - this.#w.recovered.ms >= e.recoverHold) {
        // Held long enough: this is the recovery, whatever a later undo (a healed link, a woken
        // process) stirs up before the poller stops; that shows in the timeline, not here.
        // The first recovery held, if the poller already took one (a dip after an undo).
        this.#recoveredAtEnd ??= this.#w.recovered;
        return;
      }
      // Repaired before the probes saw a dip (a container restarted in a few hundred ms): a few more checks, then done.
      const repairedAt = this.#starts?.starts.find((s) => s.atMs >= this.#w.faultAtMs!)?.atMs;
      if (!this.#w.deviated && repairedAt !== undefined && performance.now() - repairedAt > 2000)
        return;
      if (!this.#w.deviated && ms > window) return;
      if (ms > e.recoverTimeout) return;
      await sleep(e.pollInterval, undefined, { signal: this.#d.signal }).catch(() => {});
    }
  }

  async #undo(): Promise<void> {
    this.#phase = 'rollback';
    for (const inj of [...this.#injected].reverse()) {
      const start = Date.now();
      let exception: string | undefined;
      try {
        if (!inj.undone()) await inj.undo();
      } catch (error) {
        exception = (error as Error).message;
      }
      this.#d.active.delete(inj);
      this.#d.events.publish('chaos.fault', `chaos: undo ${inj.fault} on ${inj.target}`, {
        experiment: this.#d.experiment.title,
        repetition: this.#index,
        fault: inj.fault,
        target: inj.target,
        phase: 'undone',
      });
      const end = Date.now();
      this.#rollbacks.push({
        activity: { type: 'undo', name: `undo ${inj.fault} ${inj.target}` },
        status: exception ? 'failed' : 'succeeded',
        ...(exception ? { exception } : {}),
        start: iso(start),
        end: iso(end),
        duration: (end - start) / 1000,
        repetition: this.#index,
      });
    }
    for (const r of this.#d.experiment.rollbacks) {
      const start = Date.now();
      let exception: string | undefined;
      try {
        if (r.type === 'process') {
          const out = await runCommand(r.command, 60_000);
          if (out.exitCode !== 0)
            throw new Error(`exit ${out.exitCode}: ${out.stderr.trim().slice(0, 300)}`);
        } else if (r.type === 'pause') await sleep(r.duration);
        else {
          const lab = this.#d.env.lab;
          if (!lab) throw new Error('restore-host needs the lab');
          const state = lab.host(r.host).state;
          if (state === 'killed') await lab.restartHost(r.host);
          else if (state === 'agent killed') await lab.restartAgent(r.host);
          await lab.healHost(r.host).catch(() => {});
        }
      } catch (error) {
        exception = (error as Error).message;
      }
      const end = Date.now();
      this.#rollbacks.push({
        activity: { ...r, name: r.type },
        status: exception ? 'failed' : 'succeeded',
        ...(exception ? { exception } : {}),
        start: iso(start),
        end: iso(end),
        duration: (end - start) / 1000,
        repetition: this.#index,
      });
    }
  }

  /** Cluster events and engine starts after the fault, as detection and decision marks. */
  #clusterMarks(): {
    detection: Mark | undefined;
    decision: Mark | undefined;
    commandIds: string[];
  } {
    const t0 = this.#w.faultAtMs!;
    const services = new Set(
      this.#d.experiment.steadyState.probes.flatMap((p) =>
        p.type === 'replicas' ? [p.service] : [],
      ),
    );
    for (const ev of this.#d.events.since(t0)) {
      if ([...DETECTION_EVENTS, 'command.issued'].includes(ev.event.type as never))
        this.#w.timeline.push({
          ms: Math.round((ev.atMs - t0) * 10) / 10,
          kind: ev.event.type,
          label: `${ev.event.nodeId}: ${ev.event.message}`.slice(0, 200),
        });
    }
    const det = this.#d.events.since(t0, [...DETECTION_EVENTS])[0];
    const issued = this.#d.events
      .since(t0, ['command.issued'])
      .filter((ev) => services.size === 0 || services.has(String(ev.event.data.service)));
    const start = this.#starts?.starts.find((s) => s.atMs >= t0);
    const cmd = issued[0];
    const candidates: Mark[] = [];
    if (cmd)
      candidates.push({
        ms: cmd.atMs - t0,
        source: `event command.issued: ${cmd.event.message}`.slice(0, 300),
      });
    if (start)
      candidates.push({
        ms: start.atMs - t0,
        source: `container ${start.id.slice(0, 12)} started on ${start.host}`,
      });
    if (start)
      this.#w.timeline.push({
        ms: Math.round((start.atMs - t0) * 10) / 10,
        kind: 'container.start',
        label: `${start.host}: ${start.id.slice(0, 12)} started`,
      });
    return {
      detection: det
        ? {
            ms: det.atMs - t0,
            source: `event ${det.event.type}: ${det.event.message}`.slice(0, 300),
          }
        : undefined,
      decision: candidates.sort((a, b) => a.ms - b.ms)[0],
      commandIds: issued
        .map((ev) => String(ev.event.data.id ?? ''))
        .filter((id) => id !== '')
        .slice(0, 20),
    };
  }

  async #traceIds(commandIds: readonly string[]): Promise<string[]> {
    const ids = new Set<string>();
    for (const h of liveHosts(this.#d.env, this.#d.down())) {
      try {
        for (const id of await this.#d.env.api.traceIdsOf(h.apiUrl, commandIds)) ids.add(id);
      } catch {
        // a node that does not answer has no spans to offer
      }
    }
    return [...ids];
  }

  async execute(): Promise<RepetitionResult> {
    const e = this.#d.experiment;
    this.#baselineTerm = (await currentLeader(this.#d.env, this.#d.down()))?.term;
    if (e.promises.length > 0) {
      this.#watch = new PromiseWatch({
        env: this.#d.env,
        promises: e.promises,
        down: this.#d.down,
        live: () => liveHosts(this.#d.env, this.#d.down()),
        now: () => performance.now() - this.#t0,
        intervalMs: Math.min(e.pollInterval, 250),
        signal: this.#d.signal,
      });
      await this.#watch.start();
    }
    try {
      await this.#method();
      if (!this.#failure && !this.#refused) await this.#observe();
    } finally {
      this.#polling = false;
      await this.#pollDone;
      this.#starts?.close();
    }
    const marks =
      this.#w.faultAtMs === undefined
        ? { detection: undefined, decision: undefined, commandIds: [] }
        : this.#clusterMarks();
    const traceIds = await this.#traceIds(marks.commandIds);
    await this.#undo();
    const promises = this.#watch
      ? await this.#watch.finish(this.#writes, e.promiseSettle)
      : undefined;
    const broken = promises?.filter((p) => !p.ok) ?? [];
    const decided = marks.decision?.ms;
    const heldAfterRepair =
      !this.#w.deviated && decided !== undefined
        ? this.#w.okPolls.find((ms) => ms >= decided)
        : undefined;
    const recovered =
      this.#recoveredAtEnd ??
      this.#w.recovered ??
      (heldAfterRepair === undefined
        ? undefined
        : {
            ms: heldAfterRepair,
            source: 'steady state held: first passing check after the repair',
          });
    if (this.#w.deviated && !this.#w.recovered && this.#w.lastFailure)
      this.#mark('still failing', this.#w.lastFailure);
    const phases = phasesOf(
      {
        firstProbeFailure: this.#w.firstFailure,
        firstClusterDetection: marks.detection,
        firstDecision: marks.decision,
        recovered,
        deviated: this.#w.deviated,
      },
      e.sla,
    );
    const probeSla = e.sla.probes.map((s) => {
      const samples = (this.#w.latency.get(s.probe) ?? [])
        .filter((x) => x.ms >= s.within)
        .map((x) => x.p95);
      const p95 = samples.length > 0 ? Math.round(Math.max(...samples) * 10) / 10 : null;
      return { probe: s.probe, p95Ms: p95, limitMs: s.p95Ms, met: p95 !== null && p95 <= s.p95Ms };
    });
    const aborted = this.#d.signal.aborted;
    const v = aborted
      ? { verdict: 'aborted' as const, reason: String(this.#d.signal.reason ?? 'aborted') }
      : verdictOf(
          phases,
          probeSla,
          this.#refused ??
            this.#failure ??
            (broken.length > 0
              ? `promise broken: ${broken.map((p) => `${p.name}: ${p.violations[0] ?? ''}`).join('; ')}`.slice(
                  0,
                  1000,
                )
              : undefined),
        );
    this.#w.timeline.sort((a, b) => a.ms - b.ms);
    const repetition: ChaosRepetition = {
      index: this.#index,
      faultAt: this.#w.faultAtEpoch === undefined ? null : iso(this.#w.faultAtEpoch),
      faults: this.#injected.map((i) => `${i.fault} ${i.target}`),
      phases,
      probeSla,
      traceIds,
      deviated: this.#w.deviated,
      verdict: v.verdict,
      reason: v.reason,
      timeline: this.#w.timeline,
      ...(this.#writes.records.length > 0 ? { writes: [...this.#writes.records] } : {}),
      ...(promises ? { promises } : {}),
    };
    const ph = (n: string) => phases.find((p) => p.phase === n)?.ms ?? null;
    this.#d.events.publish(
      'chaos.verdict',
      `chaos: ${e.title} repetition ${this.#index} ${v.verdict}: ${v.reason}`,
      {
        experiment: e.title,
        repetition: this.#index,
        verdict: v.verdict,
        detectMs: ph('detect'),
        decideMs: ph('decide'),
        recoverMs: ph('recover'),
        reason: v.reason,
      },
    );
    return { repetition, run: this.#run, rollbacks: this.#rollbacks, refused: this.#refused };
  }
}

export function runRepetition(deps: RepetitionDeps, index: number): Promise<RepetitionResult> {
  return new Repetition(deps, index).execute();
}
