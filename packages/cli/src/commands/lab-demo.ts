/**
 * `coxswain lab --scenario demo`: the whole system on one machine. A 3-host lab (netns hosts,
 * each with its own dockerd and agent) runs the sample chain (order → storage + account, 0.1 CPU
 * per replica) under the predictive policy; a real nginx in front of each service is kept current
 * by the endpoints watcher; the load replays a day of a real trace, time-compressed, through nginx
 * to order, so the services scale up and down by forecast; in the middle the kill-leader-host
 * experiment runs in-process (this process owns the lab, which `chaos run --target lab` cannot
 * attach to); at the end a report per service, printed and written to a file.
 *
 * This file wires parts written elsewhere: the lab (@coxswain/lab), the load runner
 * (load-run.ts), the endpoints sync (endpoints.ts), the chaos runner (@coxswain/chaos), nginx
 * (lab-demo-nginx.ts), the live view (lab-demo-view.ts) and the report (lab-demo-report.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  EventWatcher,
  type LoadedExperiment,
  labEnv,
  loadExperiment,
  runExperiment,
  steadyMisses,
} from '@coxswain/chaos';
import { ApiClient } from '@coxswain/client';
import type { PolicyName, Trace } from '@coxswain/forecast';
import { DEMO_SAMPLES_DIR, Lab, type LabOptions, loadServiceSpec } from '@coxswain/lab';
import type { ChaosJournal, DemoChaosReport, DemoReport, ServiceSpec } from '@coxswain/protocol';
import { UsageError } from '../errors.js';
import { syncEndpoints } from './endpoints.js';
import { readTrace } from './forecast.js';
import { htmlPathOf, loadUplotAssets, renderDemoReportHtml } from './lab-demo-html.js';
import { NginxFront } from './lab-demo-nginx.js';
import { demoPolicyRef } from './lab-demo-policy.js';
import {
  type DecisionSeen,
  type ReplicaSample,
  ratesOf,
  renderDemoReport,
  serviceReport,
} from './lab-demo-report.js';
import { type DemoServiceView, renderDemoView } from './lab-demo-view.js';
import { maxRateOf, type RateAt } from './load-rate.js';
import { type LoadSummary, runLoad } from './load-run.js';

/** traces/ at the repository root, from packages/cli/{src,dist}/commands. */
export const DEFAULT_DEMO_TRACE = fileURLToPath(
  new URL('../../../../traces/nasa_jul95_per_minute.csv', import.meta.url),
);

export const DEMO_SERVICES = ['order', 'storage', 'account'] as const;

export interface DemoOptions {
  readonly hosts: number;
  readonly natsServers: number;
  readonly stateDir: string;
  /** NATS without TLS and permissions (LabOptions.insecure). */
  readonly insecure?: boolean;
  /** How long the load runs; the trace window is compressed into it. */
  readonly loadSeconds: number;
  readonly tracePath: string;
  /** Where in the trace the replayed window starts, and how long it is (trace seconds). */
  readonly traceFromSeconds: number;
  readonly traceSeconds: number;
  /** The replayed window's peak (smoothed over 5 s of the run), in req/s to order. */
  readonly peakRps: number;
  /** The scaling policy of every service (default: the specs' own, predictive). */
  readonly policy?: PolicyName;
  /** Seconds into the load when the chaos experiment starts; undefined: no chaos. */
  readonly chaosAtSeconds: number | undefined;
  /** The report's text file; the JSON goes beside it (`.json`). */
  readonly reportPath: string;
  readonly signal: AbortSignal;
  readonly out: NodeJS.WriteStream;
  readonly log: (line: string) => void;
}

/** The replayed window of the trace, scaled so its 5-s-smoothed peak is `peakRps` in the run. */
export function demoRate(
  trace: Trace,
  fromSeconds: number,
  traceSeconds: number,
  loadSeconds: number,
  peakRps: number,
): { rate: RateAt; speedup: number; maxRate: number } {
  const first = Math.floor(fromSeconds / trace.stepSeconds);
  const bins = Math.max(1, Math.round(traceSeconds / trace.stepSeconds));
  if (first < 0 || first + bins > trace.counts.length)
    throw new UsageError(
      `the trace window ${fromSeconds}+${traceSeconds} s is outside ${trace.name} (${trace.counts.length * trace.stepSeconds} s)`,
    );
  const counts = trace.counts.subarray(first, first + bins);
  const speedup = (bins * trace.stepSeconds) / loadSeconds;
  const binRunSeconds = trace.stepSeconds / speedup;
  // Smooth over ~5 s of the run: the forecaster's step; the trace's own minute-to-minute noise
  // would otherwise set the scale by one outlier minute.
  const window = Math.max(1, Math.round(5 / binRunSeconds));
  let smoothedPeak = 0;
  for (let i = 0; i + window <= counts.length; i++) {
    let sum = 0;
    for (let k = 0; k < window; k++) sum += counts[i + k] ?? 0;
    smoothedPeak = Math.max(smoothedPeak, sum / window);
  }
  const perBinToRps = (c: number) => (c / trace.stepSeconds) * speedup;
  const scale = smoothedPeak > 0 ? peakRps / perBinToRps(smoothedPeak) : 0;
  const rate: RateAt = (t) => {
    const i = Math.floor(t / binRunSeconds);
    if (i < 0 || i >= counts.length) return 0;
    return perBinToRps(counts[i] ?? 0) * scale;
  };
  return { rate, speedup, maxRate: maxRateOf(rate, loadSeconds, binRunSeconds / 2) };
}

export async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Is this pid a live (not zombie) process? */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** What the cleanup check looks for: the lab's processes (with their children) and namespaces. */
export interface TrackedLab {
  readonly pids: number[];
  readonly netns: string[];
}

/** Adds what runs now (agents, engines, NATS servers, nginx) to `tracked`, keeping what was there. */
export function trackLabProcesses(lab: Lab, tracked: TrackedLab, nginxPid?: number): void {
  const pids = [
    ...lab.hosts.flatMap((h) => [
      ...(h.agentPid === undefined ? [] : [h.agentPid]),
      ...(h.dockerd?.processIds() ?? []),
    ]),
    ...lab.natsServers.flatMap((n) => (n.pid === undefined ? [] : [n.pid])),
    ...(nginxPid === undefined ? [] : [nginxPid]),
  ];
  for (const p of withDescendants(pids)) if (!tracked.pids.includes(p)) tracked.pids.push(p);
  for (const h of lab.hosts)
    if (h.netns && !tracked.netns.includes(h.netns)) tracked.netns.push(h.netns);
}

/** The pid and its descendants, from /proc (nginx's workers, an engine's containerd and shims). */
export function withDescendants(pids: readonly number[]): number[] {
  const out = new Set(pids);
  const ps = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of ps.stdout?.split('\n') ?? []) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (!pid || !ppid) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const queue = [...pids];
  while (queue.length > 0) {
    const p = queue.pop()!;
    for (const c of children.get(p) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        queue.push(c);
      }
    }
  }
  return [...out];
}

export function netnsList(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '');
}

export class DemoAborted extends Error {}

/** The demo's lab: 3-server NATS, netns hosts whose engines have bridges, the sample-app image. */
export function demoLabOptions(
  o: Pick<DemoOptions, 'hosts' | 'natsServers' | 'stateDir' | 'log' | 'insecure'>,
): LabOptions {
  return {
    ...(o.insecure ? { insecure: true } : {}),
    hosts: o.hosts,
    natsServers: o.natsServers,
    stateDir: o.stateDir,
    network: 'netns',
    engineBridges: true,
    // The replicas' 0.1 CPU, had on a machine busy with other work (see LabOptions).
    containerCpuShares: 4096,
    images: ['sample-app'],
    services: [],
    log: o.log,
  };
}

/** Runs the demo to its end (or Ctrl-C); returns the report, already printed and written. */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const secs = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)} s`;
  const step = (n: number, text: string) => o.log(`demo [${n}/6] ${text} (at ${secs(started)})`);

  // Everything the user can get wrong is read and validated before anything starts.
  const specs = new Map<string, ServiceSpec>(
    DEMO_SERVICES.map((name) => {
      const spec = loadServiceSpec(join(DEMO_SAMPLES_DIR, `${name}.yaml`));
      return [name, o.policy ? { ...spec, policy: demoPolicyRef(spec, o.policy) } : spec];
    }),
  );
  const experiment: LoadedExperiment | undefined =
    o.chaosAtSeconds === undefined
      ? undefined
      : loadExperiment(join(DEMO_SAMPLES_DIR, 'kill-leader-host.yaml'));
  const trace = readTrace(o.tracePath);
  const load = demoRate(trace, o.traceFromSeconds, o.traceSeconds, o.loadSeconds, o.peakRps);
  if (!spawnSync('nginx', ['-v']).stderr) throw new UsageError('nginx is not installed');

  step(1, 'starting the lab: 3-server NATS, hosts with their own dockerd, the sample-app image');
  const lab = await Lab.start(demoLabOptions(o));
  let nginx: NginxFront | undefined;
  const watchers: Promise<void>[] = [];
  const stopWatchers = new AbortController();
  const tracked = { pids: [] as number[], netns: [] as string[] };
  const track = () => trackLabProcesses(lab, tracked, nginx?.pid);
  const samples: ReplicaSample[] = [];
  const decisions: DecisionSeen[] = [];
  const views = new Map<string, DemoServiceView>();
  let summary: LoadSummary | undefined;
  let loadStartedMs: number | undefined;
  let loadStartedEpochMs = Number.POSITIVE_INFINITY;
  let loadEndedMs: number | undefined;
  let chaos: DemoChaosReport | null = null;
  let chaosLine = o.chaosAtSeconds === undefined ? 'chaos: off' : 'chaos: waiting';
  let outcome = 'completed';
  const checkAbort = () => {
    if (o.signal.aborted) throw new DemoAborted();
  };

  try {
    track();
    step(2, 'waiting for the Raft voters to elect a leader and for it to know every host');
    await lab.waitForLeader(90_000, { signal: o.signal });
    await lab.waitForAllNodes(60_000, o.signal);
    const leader = (await lab.refreshCluster())?.info.leader?.id ?? '?';
    lab.note(`cluster formed: ${leader} leads`);

    const gateway = lab.gatewayIp!;
    const ports = new Map<string, number>();
    for (const name of DEMO_SERVICES) ports.set(name, await freePort(gateway));
    nginx = await NginxFront.start(
      join(lab.stateDir, 'nginx'),
      gateway,
      DEMO_SERVICES.map((name) => ({ name, port: ports.get(name)! })),
    );
    track();
    step(
      3,
      `nginx up on ${gateway} (order :${ports.get('order')}); declaring order, storage, account`,
    );
    const front = nginx;
    for (const name of ['storage', 'account', 'order'] as const) {
      const spec = specs.get(name)!;
      const env =
        name === 'order'
          ? { ...spec.env, STORAGE_URL: front.url('storage'), ACCOUNT_URL: front.url('account') }
          : spec.env;
      await withRetry(() => apiOfAnyHost(lab).applyService({ ...spec, env }), o.signal);
      lab.note(
        `declared ${name}: ${spec.minReplicas}..${spec.maxReplicas} replicas at ${spec.resources.cpus} CPU, policy ${spec.policy.name}`,
      );
    }

    // The endpoints watchers: the same round as `coxswain endpoints NAME --format nginx -o FILE
    // --exec 'nginx -s reload' --watch`, one per service, every 500 ms.
    const reloadLog = join(front.dir, 'reload.log');
    for (const name of DEMO_SERVICES) {
      watchers.push(
        watchEndpoints(lab, name, front, reloadLog, stopWatchers.signal, () => front.reloads++),
      );
    }
    await waitForChain(lab, front, specs, o.signal);
    step(4, 'the chain answers through nginx; replaying the trace');
    track();

    // The sampler: replica counts and decisions (from any agent), rate and forecast (the leader).
    const sampler = sampleCluster(lab, front, views, stopWatchers.signal, (map, changes) => {
      const now = performance.now();
      if (loadStartedMs === undefined) return;
      for (const c of changes) decisions.push({ atMs: now, ...c });
      if (loadEndedMs === undefined)
        samples.push({ atMs: now, atEpochMs: Date.now(), services: map, rates: ratesOf(views) });
    });
    watchers.push(sampler);

    // The live view, every second, until the load ends.
    const viewAbort = new AbortController();
    const live = (async () => {
      for (let frame = 0; !viewAbort.signal.aborted; frame++) {
        const labView = await lab.view();
        const elapsed =
          loadStartedMs === undefined ? 0 : (performance.now() - loadStartedMs) / 1000;
        const lines = renderDemoView({
          elapsedSeconds: elapsed,
          loadSeconds: o.loadSeconds,
          traceName: trace.name,
          traceAtSeconds: o.traceFromSeconds + elapsed * load.speedup,
          speedup: load.speedup,
          offeredRps: load.rate(elapsed),
          load: summary,
          services: DEMO_SERVICES.map((n) => views.get(n)).filter((v) => v !== undefined),
          chaos: chaosLine,
          nginxReloads: front.reloads,
          lab: labView,
        });
        if (o.out.isTTY) o.out.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
        else if (frame % 10 === 0) o.out.write(`${lines.join('\n')}\n\n`);
        await sleep(1000, undefined, { signal: viewAbort.signal }).catch(() => {});
      }
    })();

    const chaosRun =
      experiment && o.chaosAtSeconds !== undefined
        ? (async () => {
            await sleep(o.chaosAtSeconds! * 1000, undefined, { signal: o.signal });
            chaosLine = `chaos: ${experiment.experiment.title}: waiting for the steady state`;
            chaos = await runChaos(
              lab,
              experiment,
              o.signal,
              (line) => {
                chaosLine = `chaos: ${line}`;
              },
              loadStartedMs!,
            );
            track();
            chaosLine = `chaos: ${chaos.experiment}: ${chaos.verdict.toUpperCase()} — ${chaos.phases.map((p) => `${p.phase} ${p.ms === null ? '—' : `${Math.round(p.ms)} ms`}`).join(', ')}`;
            lab.note(chaosLine, 'chaos.verdict');
          })().catch((error: unknown) => {
            if (!o.signal.aborted) chaosLine = `chaos: failed: ${(error as Error).message}`;
          })
        : undefined;

    loadStartedMs = performance.now();
    loadStartedEpochMs = Date.now();
    summary = await runLoad({
      url: `${front.url('order')}/order/create?userId=7&productId=3&count=1&money=5`,
      method: 'POST',
      rate: load.rate,
      maxRate: load.maxRate,
      durationSeconds: o.loadSeconds,
      concurrency: 256,
      timeoutMs: 10_000,
      random: Math.random,
      signal: o.signal,
      onProgress: (s) => {
        summary = s;
      },
      progressMs: 1000,
    });
    loadEndedMs = performance.now();
    if (chaosRun) {
      // The experiment may still be measuring its recovery: let it finish (it is bounded by its SLA).
      chaosLine = `${chaosLine} (load done)`;
      const bound = new AbortController();
      await Promise.race([
        chaosRun,
        sleep(60_000, undefined, { signal: bound.signal }).catch(() => {}),
      ]);
      bound.abort(); // the timer must not hold the process for a minute after the report
    }
    viewAbort.abort();
    await live;
    checkAbort();
    step(5, 'load done; collecting the report');
  } catch (error) {
    outcome =
      o.signal.aborted || error instanceof DemoAborted
        ? 'interrupted'
        : `failed: ${(error as Error).message}`;
    if (!o.signal.aborted) o.log(`demo: ${outcome}`);
  } finally {
    loadEndedMs ??= performance.now();
    stopWatchers.abort();
    await Promise.allSettled(watchers);
    track();
    if (nginx) await nginx.stop();
    step(6, 'stopping nginx, agents, engines, containers, NATS and the network');
    await lab.stop();
  }

  // Cleanup, checked: every process the demo started (and their children) and every namespace.
  const netnsNow = new Set(netnsList());
  const leftRunning = [
    ...tracked.pids.filter(alive).map((p) => `pid ${p}`),
    ...tracked.netns.filter((n) => netnsNow.has(n)).map((n) => `netns ${n}`),
  ];
  // The load's requests only: the checks before it (nginx's start, the first order) are not counted.
  const accesses = (nginx?.accesses() ?? []).filter((a) => a.atEpochMs >= loadStartedEpochMs);
  const loadStart = loadStartedMs ?? performance.now();
  const report: DemoReport = {
    startedAt,
    setupSeconds: (loadStart - started) / 1000,
    loadSeconds: (loadEndedMs - loadStart) / 1000,
    totalSeconds: (performance.now() - started) / 1000,
    trace: {
      file: o.tracePath,
      fromSeconds: o.traceFromSeconds,
      traceSeconds: o.traceSeconds,
      speedup: load.speedup,
      peakRps: o.peakRps,
    },
    load: {
      sent: summary?.sent ?? 0,
      ok: summary?.ok ?? 0,
      errors: summary?.errors ?? 0,
      dropped: summary?.dropped ?? 0,
      p50Ms: summary?.p50Ms ?? 0,
      p95Ms: summary?.p95Ms ?? 0,
      p99Ms: summary?.p99Ms ?? 0,
    },
    nginxReloads: nginx?.reloads ?? 0,
    nginxErrors: nginx?.errors() ?? {},
    services: DEMO_SERVICES.map((name) =>
      serviceReport(name, specs.get(name)?.sloP95Ms, accesses, samples, decisions, loadStart),
    ),
    chaos,
    outcome,
    cleanup: { pids: tracked.pids, netns: tracked.netns, leftRunning },
  };
  const text = renderDemoReport(report);
  mkdirSync(dirname(resolve(o.reportPath)), { recursive: true });
  writeFileSync(o.reportPath, text);
  writeFileSync(jsonPathOf(o.reportPath), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(htmlPathOf(o.reportPath), renderDemoReportHtml(report, loadUplotAssets()));
  o.out.write(`\n${text}`);
  o.log(`demo: report written to ${o.reportPath} and ${jsonPathOf(o.reportPath)}`);
  o.out.write(`\nreport with charts: ${htmlPathOf(o.reportPath)}\n`);
  return report;
}

export function jsonPathOf(reportPath: string): string {
  return reportPath.endsWith('.txt') ? `${reportPath.slice(0, -4)}.json` : `${reportPath}.json`;
}

export type Counts = Map<string, { running: number; desired: number }>;

/**
 * Every second until `signal`: the services' running and desired replicas from any agent (each
 * change of a desired count is a scale decision, with the reason the leader gave), and from the
 * leader, per service, the request rate its agents measured and its forecast, for the view.
 */
export async function sampleCluster(
  lab: Lab,
  front: NginxFront,
  views: Map<string, DemoServiceView>,
  signal: AbortSignal,
  onSample: (counts: Counts, changes: Omit<DecisionSeen, 'atMs'>[]) => void,
  services: readonly string[] = DEMO_SERVICES,
): Promise<void> {
  let previous = new Map<string, number>();
  while (!signal.aborted) {
    const snap = await lab.refreshCluster();
    if (snap?.services) {
      const counts: Counts = new Map();
      const changes: Omit<DecisionSeen, 'atMs'>[] = [];
      for (const s of snap.services) {
        if (s.deleted || !services.includes(s.name)) continue;
        const running = Object.values(s.running).reduce((a, b) => a + b, 0);
        counts.set(s.name, { running, desired: s.desiredReplicas });
        const before = previous.get(s.name);
        if (before !== undefined && before !== s.desiredReplicas)
          changes.push({ service: s.name, from: before, to: s.desiredReplicas, reason: s.reason });
      }
      previous = new Map([...counts].map(([k, v]) => [k, v.desired]));
      onSample(counts, changes);
      const leaderId = snap.info.leader?.id;
      await Promise.all(
        services.map(async (name) => {
          const last = views.get(name);
          const view: DemoServiceView = {
            name,
            running: counts.get(name)?.running ?? 0,
            desired: counts.get(name)?.desired ?? 0,
            upstream: front.upstreamCount(name),
            rate: last?.rate,
            forecast: last?.forecast,
            p95Ms: last?.p95Ms,
          };
          if (leaderId) {
            try {
              const d = await lab.api(leaderId).service(name, { window: '10s' });
              let rate = 0;
              let p95: number | undefined;
              for (const figures of Object.values(d.figures)) {
                const newest = figures[figures.length - 1];
                rate += newest?.requestRatePerSecond ?? 0;
                if (newest?.p95LatencyMs !== undefined)
                  p95 = Math.max(p95 ?? 0, newest.p95LatencyMs);
              }
              view.rate = rate;
              view.p95Ms = p95;
              view.forecast = d.forecast?.predictedRequestRatePerSecond;
            } catch {
              // A leader that just died: keep the last figures.
            }
          }
          views.set(name, view);
        }),
      );
    }
    await sleep(1000, undefined, { signal }).catch(() => {});
  }
}

/** A client of the first host whose agent runs (any agent forwards writes to the leader). */
export function apiOfAnyHost(lab: Lab): ApiClient {
  const h = lab.hosts.find((x) => x.agentPid !== undefined) ?? lab.hosts[0]!;
  return lab.api(h.name);
}

export async function withRetry(
  stepFn: () => Promise<unknown>,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new DemoAborted();
    try {
      await stepFn();
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(500);
    }
  }
}

/**
 * Until every service runs its minimum and an order goes through nginx, order, nginx again,
 * storage and account, and comes back 200.
 */
export async function waitForChain(
  lab: Lab,
  front: NginxFront,
  specs: ReadonlyMap<string, ServiceSpec>,
  signal: AbortSignal,
  orderService = 'order',
): Promise<void> {
  const deadline = performance.now() + 120_000;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    if (signal.aborted) throw new DemoAborted();
    const snap = await lab.refreshCluster();
    const ready = [...specs.values()].every((spec) => {
      const s = snap?.services?.find((x) => x.name === spec.name);
      const running = s ? Object.values(s.running).reduce((a, b) => a + b, 0) : 0;
      return running >= spec.minReplicas && front.upstreamCount(spec.name) >= spec.minReplicas;
    });
    if (ready) {
      const r = await fetch(
        `${front.url(orderService)}/order/create?userId=1&productId=1&count=1&money=1`,
        {
          method: 'POST',
          signal: AbortSignal.timeout(5000),
        },
      ).catch((e: unknown) => e as Error);
      if (!(r instanceof Error) && r.ok) return;
      last = r instanceof Error ? r.message : `HTTP ${r.status}`;
    } else last = 'replicas starting';
    await sleep(500);
  }
  throw new UsageError(`the sample chain did not answer through nginx in 120 s (last: ${last})`);
}

export async function watchEndpoints(
  lab: Lab,
  service: string,
  front: NginxFront,
  reloadLog: string,
  signal: AbortSignal,
  onReload: () => void,
): Promise<void> {
  let applied: string | null | undefined;
  let hostIndex = 0;
  while (!signal.aborted) {
    const hosts = lab.hosts.filter((h) => h.agentPid !== undefined);
    const host = hosts[hostIndex % Math.max(1, hosts.length)];
    if (host) {
      try {
        const round = await syncEndpoints(
          {
            client: new ApiClient({ baseUrl: host.apiUrl, timeoutMs: 1000 }),
            service,
            query: {},
            format: 'nginx',
            output: front.upstreamFileOf(service),
            exec: `${front.reloadCommand()} >>${reloadLog} 2>&1`,
          },
          applied,
        );
        if (round.changed && round.applied === round.text) onReload();
        applied = round.applied;
      } catch {
        // That agent did not answer (its host may just have been killed): ask the next one.
        hostIndex++;
      }
    }
    await sleep(500, undefined, { signal }).catch(() => {});
  }
}

/** How long the steady state before the fault may take to hold between the policy's decisions. */
const STEADY_BEFORE_TIMEOUT_MS = 60_000;

/** The host the (first) fault took down, from its activity's output; null when none fired. */
function faultTarget(journal: ChaosJournal): string | null {
  const fired = journal.run.find((r) => r.activity.type === 'fault' && r.status === 'succeeded');
  const target = (fired?.output as { target?: unknown } | undefined)?.target;
  return typeof target === 'string' ? target : null;
}

/**
 * The experiment, in-process against this lab: the runner waits for the steady state to hold
 * (the policy may be mid-scale), then fires the fault, times detect, decide and recover, and
 * rolls back (the killed host comes back). Its journal goes beside the report.
 */
async function runChaos(
  lab: Lab,
  loaded: LoadedExperiment,
  signal: AbortSignal,
  progress: (line: string) => void,
  loadStartedMs: number,
): Promise<DemoChaosReport> {
  const env = labEnv(lab);
  const leaderBefore = (await lab.refreshCluster())?.info.leader?.id ?? null;
  const atSeconds = (performance.now() - loadStartedMs) / 1000;
  progress(`${loaded.experiment.title}: killing the leader's host (${leaderBefore ?? '?'})`);
  lab.note(
    `chaos: ${loaded.experiment.title}: kill the leader's whole host (${leaderBefore ?? '?'})`,
    'chaos.fault',
  );
  const events = await EventWatcher.start(env.cluster, env.natsUrls, env.natsClient);
  let journal: ChaosJournal;
  try {
    journal = await runExperiment(loaded, {
      env,
      events,
      signal,
      // The policy keeps scaling under the trace's load, and each decision leaves a service off
      // its desired count for a few seconds: the run waits for a moment between decisions.
      steadyTimeoutMs: STEADY_BEFORE_TIMEOUT_MS,
      progress: (line) => progress(line.trim()),
    });
  } finally {
    await events.close();
  }
  const file = join(lab.stateDir, `journal-${loaded.experiment.title}.json`);
  writeFileSync(file, `${JSON.stringify(journal, null, 2)}\n`);
  const rep = journal.coxswain.repetitions[0];
  const before = journal.steady_states.before;
  const reason =
    rep === undefined
      ? before && !before.steady_state_met
        ? `the steady state did not hold before the fault (waited ${STEADY_BEFORE_TIMEOUT_MS / 1000} s): ${steadyMisses(before)}`
        : (journal.coxswain.refused[0] ?? journal.coxswain.abortedBy ?? 'no repetition ran')
      : rep.verdict === 'passed'
        ? undefined
        : rep.reason;
  const leaderAfter = (await lab.refreshCluster())?.info.leader?.id ?? null;
  const killedHost = faultTarget(journal);
  return {
    experiment: loaded.experiment.title,
    status: journal.status,
    verdict: rep?.verdict ?? 'aborted',
    ...(reason ? { reason } : {}),
    atSeconds,
    killedHost,
    // The fault aims at the leader when it fires, which may follow a wait for the steady state.
    leaderBefore: killedHost ?? leaderBefore,
    leaderAfter,
    phases: (rep?.phases ?? []).map((p) => ({
      phase: p.phase,
      ms: p.ms,
      slaMs: p.slaMs,
      met: p.met,
    })),
    journalFile: existsSync(file) ? file : null,
  };
}
