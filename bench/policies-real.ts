/**
 * policies-real: predictive against hpa on real containers, not only in the simulator (issue 10's
 * benchmark). One demo lab (3 netns hosts, their own dockerd and agent, 3-server NATS) runs two
 * copies of the sample chain at 0.1 CPU per replica: order/storage/account under the demo specs'
 * predictive policy, order-h/storage-h/account-h under hpa (`coxswain lab --policy hpa`'s
 * params). One nginx has a server and an upstream per service, each kept current by its own
 * endpoints watcher; each order calls its own copy's storage and account through nginx. The same
 * compressed NASA day is replayed to both orders at once by two load runners in this process with
 * the same seed (the same arrivals). Then the simulator replays the same window at the same
 * compression for each service and policy, with the start-up measured on the run.
 *
 * POLICIES_REAL_RUNS labs one after the other (default 2), POLICIES_REAL_PEAK req/s at the
 * window's peak per copy (default 20, the demo's), POLICIES_REAL_LOAD seconds of load (default 150).
 * Run as root. No chaos: a host kill would hit the two copies unequally.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  alive,
  apiOfAnyHost,
  DEFAULT_DEMO_TRACE,
  type DecisionSeen,
  type DemoServiceView,
  demoLabOptions,
  demoRate,
  freePort,
  NginxFront,
  netnsList,
  type ReplicaSample,
  readTrace,
  runLoad,
  sampleCluster,
  seededRandom,
  serviceReport,
  trackLabProcesses,
  waitForChain,
  watchEndpoints,
  withRetry,
} from '@coxswain/cli';
import type { SimulationResult } from '@coxswain/forecast';
import { DEMO_SAMPLES_DIR, Lab, loadServiceSpec } from '@coxswain/lab';
import type { ServiceFigures, ServiceSpec } from '@coxswain/protocol';
import {
  busyCores,
  type CapacitySeen,
  CHAIN,
  type ChainService,
  COPIES,
  type CopyOutcome,
  capacitySamplesOf,
  copyName,
  copySpec,
  cpuJiffies,
  figuresOf,
  medianOf,
  type RealRun,
  replayedTrace,
  runTable,
  simulateCopy,
  specCapacity,
  startupSecondsOf,
} from './lib/policies-real-figures.js';
import { recordResult } from './lib/results.js';

const RUNS = Number(process.env.POLICIES_REAL_RUNS ?? 2);
/**
 * The demo's own peak, 20 req/s to each copy. The two copies double the demo's work on a 2-core
 * machine that also carries 3 agents, 3 engines, NATS, nginx and the load runners; a first run at
 * 15 req/s (see PEAK_15_NOTE) measured the whole machine at 0.45 cores busy on average and 1.05 at
 * most, so the pair at 20 still leaves the replicas their 0.1 CPU. POLICIES_REAL_PEAK lowers it
 * on a busier machine; the policies' settings stay as shipped either way.
 */
const PEAK_RPS = Number(process.env.POLICIES_REAL_PEAK ?? 20);
const LOAD_SECONDS = Number(process.env.POLICIES_REAL_LOAD ?? 150);
/** The demo's window: 5 July 1995 02:00 for 24 h of the NASA trace. */
const TRACE_FROM_SECONDS = 98 * 3600;
const TRACE_SECONDS = 24 * 3600;
const SEED = 1995;
/** Used by the simulator only when the run saw no completed scale-up to measure. */
const FALLBACK_STARTUP_SECONDS = 3;

/** What the first run, at 15 req/s per copy, measured (written after it, not recomputed). */
const PEAK_15_NOTE =
  "A first run at 15 req/s per copy (2026-12-03 07:14 UTC, load average 1.80 before, 1.03 after; one run) measured the machine at 0.45 cores busy on average, 1.05 at most, for everything: neither copy spent a second over its SLO through nginx (order p95 26 ms predictive, 32 ms hpa; 1073 requests each, all OK); replica-seconds predictive 939, hpa 826 (ratio 1.14; the simulator 864 and 750, ratio 1.15); scale actions 3 and 4 (all on order; the simulator 4 and 0). The simulator predicted hpa's order at 20 s over the SLO (it stays at 1 replica, CPU within its tolerance of 70 %), predictive's at 0. That CPU figure is why the recorded runs use the demo's own 20 req/s.";

/** What the recorded runs showed, written after looking at them (not recomputed by the bench). */
const FINDINGS: readonly string[] = [
  "Findings (written after looking at the runs; the bench does not recompute them). On real containers, at this trace and load, neither policy spent time over the SLO: 0 s summed over the chain for both copies in both recorded runs and in the run at 15 req/s; an earlier pair of runs at 20 req/s (2026-12-03 07:22 UTC, same code without the measured-capacity simulation, load average 0.30 rising to 7.77 from other engineers' work, machine CPU up to 2.00 cores) saw predictive 0 and 3 s, hpa 0 and 0. So the lab shows no difference in time over the SLO to take a ratio of (0/0), where the simulator predicts hpa's order over its SLO for 12–16 s and predictive's for 0–0.35 s (ratio 0.02).",
  "Predictive costs more, on the lab and in the simulator: chain replica-seconds predictive/hpa 1.27 on the lab (runs 1.30 and 1.23; the earlier pair 1.25 and 1.20; 1.14 at 15 req/s) against 1.15 predicted. All of the difference is order's: the demo specs plan predictive at 40 % of the CPU limit on its p90 forecast, hpa runs at 70 % CPU; storage and account stay at their minimum of 2 replicas under both. The lab's predictive scales more than the simulated one (6 actions against 3) and holds more replicas (order 429 replica-s against 321): the forecaster there sees Poisson arrivals sampled per second by the agents, noisier than the simulator's per-bin rate.",
  "Why the simulator's SLO prediction misses: not the capacity. The agents measured order at 21.2 req/s per replica at 100 % CPU (the spec plans with 22; storage 43.6 and account 37.8 against the specs' 60 and 45, but those never left 2 replicas), and the simulator at the measured capacity predicts the same (hpa 14.1 s, predictive 0.35 s). It is the latency model: one exponential server per replica, at hpa's 70–77 % (its tolerance band) gives an M/M/1 p95 of ln 20/(μ−λ) ≈ 0.5 s for a 45-ms mean service, over order's 300 ms; the real replica's work is a fixed count of hashes, close to deterministic, and hpa's order p95 through nginx stayed at 53 ms (p99 94 ms). On this load the simulator overstates the reactive policy's latency tail at high utilisation, and with it the SLO gain of running cooler; its cost ratio holds up.",
];

const ORDER_QUERY = '/order/create?userId=7&productId=3&count=1&money=5';

async function oneRun(index: number, signal: AbortSignal): Promise<RealRun> {
  const startedAt = new Date().toISOString();
  const stateDir = mkdtempSync(join(tmpdir(), 'cox-policies-real-'));
  const log = (line: string) => console.error(`[run ${index + 1}] ${line}`);
  const base = new Map<ChainService, ServiceSpec>(
    CHAIN.map((n) => [n, loadServiceSpec(join(DEMO_SAMPLES_DIR, `${n}.yaml`))]),
  );
  const trace = readTrace(DEFAULT_DEMO_TRACE);
  const load = demoRate(trace, TRACE_FROM_SECONDS, TRACE_SECONDS, LOAD_SECONDS, PEAK_RPS);
  const names = COPIES.flatMap((copy) => CHAIN.map((s) => copyName(s, copy)));
  const loadAverageBefore = loadavg();

  const lab = await Lab.start(demoLabOptions({ hosts: 3, natsServers: 3, stateDir, log }));
  let nginx: NginxFront | undefined;
  const stop = new AbortController();
  const loops: Promise<void>[] = [];
  const tracked = { pids: [] as number[], netns: [] as string[] };
  const track = () => trackLabProcesses(lab, tracked, nginx?.pid);
  const specs = new Map<string, ServiceSpec>();
  const samples: ReplicaSample[] = [];
  const decisions: DecisionSeen[] = [];
  const cores: number[] = [];
  // The agents' per-node figures seen during the load, by chain service (both copies), once each.
  const figuresSeen = new Map<ChainService, ServiceFigures[]>(CHAIN.map((s) => [s, []]));
  const figureKeys = new Set<string>();
  let loadStartMs: number | undefined;
  let loadStartEpochMs = Number.POSITIVE_INFINITY;
  let loadEndMs: number | undefined;
  try {
    track();
    await lab.waitForLeader(90_000, { signal });
    await lab.waitForAllNodes(60_000, signal);
    const gateway = lab.gatewayIp!;
    const services = [];
    for (const name of names) services.push({ name, port: await freePort(gateway) });
    nginx = await NginxFront.start(join(lab.stateDir, 'nginx'), gateway, services);
    const front = nginx;
    track();
    for (const copy of COPIES) {
      for (const s of ['storage', 'account', 'order'] as const) {
        const spec = base.get(s)!;
        const env =
          s === 'order'
            ? {
                ...spec.env,
                STORAGE_URL: front.url(copyName('storage', copy)),
                ACCOUNT_URL: front.url(copyName('account', copy)),
              }
            : spec.env;
        const declared = copySpec(spec, copy, env);
        await withRetry(() => apiOfAnyHost(lab).applyService(declared), signal);
        specs.set(declared.name, declared);
        log(`declared ${declared.name} under ${declared.policy.name}`);
      }
    }
    const reloadLog = join(front.dir, 'reload.log');
    for (const name of names)
      loops.push(watchEndpoints(lab, name, front, reloadLog, stop.signal, () => front.reloads++));
    for (const copy of COPIES) {
      const mine = new Map(
        CHAIN.map((s) => [copyName(s, copy), specs.get(copyName(s, copy))!] as const),
      );
      await waitForChain(lab, front, mine, signal, copyName('order', copy));
    }
    log('both chains answer through nginx; replaying the trace to both');
    track();

    const views = new Map<string, DemoServiceView>();
    loops.push(
      sampleCluster(
        lab,
        front,
        views,
        stop.signal,
        (map, changes) => {
          const now = performance.now();
          if (loadStartMs === undefined) return;
          for (const c of changes) decisions.push({ atMs: now, ...c });
          if (loadEndMs === undefined) samples.push({ atMs: now, services: map });
        },
        names,
      ),
    );
    loops.push(
      (async () => {
        let previous = cpuJiffies(readFileSync('/proc/stat', 'utf8'));
        while (!stop.signal.aborted) {
          await sleep(1000, undefined, { signal: stop.signal }).catch(() => {});
          const now = cpuJiffies(readFileSync('/proc/stat', 'utf8'));
          if (loadStartMs !== undefined && loadEndMs === undefined)
            cores.push(busyCores(previous, now, cpus().length));
          previous = now;
        }
      })(),
    );

    // Every 2 s, from the leader: each service's newest figures per node (CPU share, req/s).
    loops.push(
      (async () => {
        while (!stop.signal.aborted) {
          await sleep(2000, undefined, { signal: stop.signal }).catch(() => {});
          if (loadStartMs === undefined || loadEndMs !== undefined) continue;
          const leaderId = (await lab.refreshCluster())?.info.leader?.id;
          if (!leaderId) continue;
          for (const copy of COPIES)
            for (const s of CHAIN) {
              const name = copyName(s, copy);
              try {
                const d = await lab.api(leaderId).service(name, { window: '10s' });
                for (const [node, list] of Object.entries(d.figures)) {
                  const newest = list[list.length - 1];
                  const key = `${name} ${node} ${newest?.time}`;
                  if (!newest || figureKeys.has(key)) continue;
                  figureKeys.add(key);
                  figuresSeen.get(s)!.push(newest);
                }
              } catch {
                // A leader that just changed: the next round asks the new one.
              }
            }
        }
      })(),
    );

    loadStartMs = performance.now();
    loadStartEpochMs = Date.now();
    const summaries = await Promise.all(
      COPIES.map((copy) =>
        runLoad({
          url: `${front.url(copyName('order', copy))}${ORDER_QUERY}`,
          method: 'POST',
          rate: load.rate,
          maxRate: load.maxRate,
          durationSeconds: LOAD_SECONDS,
          concurrency: 256,
          timeoutMs: 10_000,
          // The same seed: both copies get the same arrival times.
          random: seededRandom(SEED + index),
          signal,
        }),
      ),
    );
    loadEndMs = performance.now();
    for (const [i, s] of summaries.entries())
      log(
        `${COPIES[i]!.policy}: sent ${s.sent}, ok ${s.ok}, errors ${s.errors}, dropped ${s.dropped}, p95 ${s.p95Ms.toFixed(0)} ms`,
      );
  } finally {
    loadEndMs ??= performance.now();
    stop.abort();
    await Promise.allSettled(loops);
    track();
    if (nginx) await nginx.stop();
    await lab.stop();
  }
  const netnsNow = new Set(netnsList());
  const leftRunning = [
    ...tracked.pids.filter(alive).map((p) => `pid ${p}`),
    ...tracked.netns.filter((n) => netnsNow.has(n)).map((n) => `netns ${n}`),
  ];
  if (leftRunning.length > 0)
    throw new Error(`run ${index + 1} left running: ${leftRunning.join(', ')}`);
  if (signal.aborted) throw new Error('interrupted');

  const accesses = (nginx?.accesses() ?? []).filter((a) => a.atEpochMs >= loadStartEpochMs);
  const startups = startupSecondsOf(samples, names);
  const startupSeconds = medianOf(startups) ?? FALLBACK_STARTUP_SECONDS;
  const replayed = replayedTrace(
    load.rate,
    LOAD_SECONDS,
    trace.stepSeconds,
    load.speedup,
    `${trace.name} 98h+24h`,
  );
  const capacity = Object.fromEntries(
    CHAIN.map((s) => {
      const samples = capacitySamplesOf(figuresSeen.get(s)!);
      const seen: CapacitySeen = {
        median: medianOf(samples),
        samples: samples.length,
        spec: specCapacity(base.get(s)!),
      };
      return [s, seen];
    }),
  ) as Record<ChainService, CapacitySeen>;
  const copies: CopyOutcome[] = COPIES.map((copy) => {
    const sim = new Map<ChainService, SimulationResult>();
    const simMeasured = new Map<ChainService, SimulationResult>();
    for (const s of CHAIN) {
      sim.set(s, simulateCopy(replayed, base.get(s)!, copy.policy, load.speedup, startupSeconds));
      const measured = capacity[s].median;
      if (measured !== null)
        simMeasured.set(
          s,
          simulateCopy(replayed, base.get(s)!, copy.policy, load.speedup, startupSeconds, measured),
        );
    }
    return {
      policy: copy.policy,
      lab: CHAIN.map((s) => ({
        ...serviceReport(
          copyName(s, copy),
          base.get(s)!.sloP95Ms,
          accesses,
          samples,
          decisions,
          loadStartMs ?? 0,
        ),
        name: s,
      })),
      sim,
      simMeasured,
    };
  });
  rmSync(stateDir, { recursive: true, force: true });
  return {
    startedAt,
    loadAverageBefore,
    loadAverageAfter: loadavg(),
    busyCores: cores,
    startupSeconds,
    startupSamples: startups.length,
    capacity,
    peakRps: PEAK_RPS,
    speedup: load.speedup,
    loadSeconds: LOAD_SECONDS,
    copies,
  };
}

export async function run(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('policies-real needs root (network namespaces, dockerd)');
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const runs: RealRun[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const r = await oneRun(i, abort.signal);
      runs.push(r);
      console.log(runTable(r, i));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const first = runs[0]!;
  recordResult({
    benchmark: 'policies-real',
    title: 'Policies on real containers',
    figures: figuresOf(runs),
    notes: [
      ...FINDINGS.flatMap((f) => [f, '']),
      `Issue 10's benchmark: the demo's chain (order → storage + account, 0.1 CPU per replica) twice in one lab of 3 netns hosts, one copy under \`predictive\` (the demo specs' settings), one under \`hpa\` (\`coxswain lab --policy hpa\`: the Kubernetes defaults — CPU target 70 %, tolerance 0.1, scale-up 4 pods or 100 % per 15 s, scale-down 100 % per 15 s — with the scale-down stabilization at the specs' own 20 s instead of 300 s, which at this compression is 48 h of trace, longer than the run). Each service has its own nginx server and upstream, kept current by its own endpoints watcher. The same ${TRACE_SECONDS / 3600} h of ${DEFAULT_DEMO_TRACE.split('/').pop()} from ${TRACE_FROM_SECONDS / 3600} h, compressed ${first.speedup.toFixed(0)}× into ${LOAD_SECONDS} s, is replayed to both orders at once by two load runners in one process with the same seed, peak ${PEAK_RPS} req/s each (5-s smoothed).`,
      '',
      `Peak ${PEAK_RPS} req/s per copy. Two copies double the demo's work on a 2-core machine that also carries 3 agents, 3 engines, NATS, nginx (three proxied hops per order) and the load runners, and is shared with other engineers' labs; the peak was first set lower for that reason, and raised to the demo's 20 after the machine's CPU was measured at 15 (below). The policies' settings are as shipped; nothing here was tuned to these results.`,
      '',
      PEAK_15_NOTE,
      '',
      'No chaos: a host kill would hit the two copies unequally (the leader host holds replicas of one copy more than the other).',
      '',
      "Measured as the demo does: time over the SLO is the seconds whose requests' p95 through nginx (its access log) exceeded the service's SLO (order 300 ms end to end, storage and account 200 ms); replica-seconds integrate the running replicas sampled every second from the cluster API; scale actions are the changes of the desired count seen there. Each figure is the mean over the runs; the table's value is predictive, the peer column hpa.",
      '',
      `The simulator's prediction (\`simulate\` in @coxswain/forecast, as \`coxswain simulate\` and bench/policy-comparison.ts use it): the same window at the same compression, rates as the load offered them, one simulated service per chain service: one worker per replica serving the spec's own capacity estimate (order 22, storage 60, account 45 req/s at 100 % CPU; exponential service times), start-up as measured on the run (median from a scale-up's desired count to running, over both copies), decisions every ${1} s, the spec's SLO and replica bounds, a queue bound of the load's 10 s timeout. It models each service alone: order's latency there has no downstream calls, where the lab's order p95 includes storage and account through nginx. It runs twice: at the spec's capacity estimate (what the demo plans with), and at the capacity the agents measured on the run (each node's figures polled every 2 s from the leader: req/s per replica over the CPU share of its limit, figures at 20 % CPU or more, median over both copies); the policies keep the spec's params in both.`,
      '',
      ...runs.flatMap((r, i) => [runTable(r, i), '']),
    ].join('\n'),
  });
}
