/**
 * The pure half of bench/policies-real.ts: from what one lab run measured (the demo's per-service
 * reports from nginx's access log and the sampled replica counts, /proc/stat) and from the
 * simulator's replay of the same trace window, to the figures side by side. No I/O here, so
 * bench/test/policies-real-figures.test.ts checks it on made-up lines and samples.
 */
import { demoPolicyRef, type RateAt, type ReplicaSample } from '@coxswain/cli';
import {
  createPolicyRunner,
  type PolicyName,
  type SimulationConfigInput,
  type SimulationResult,
  simulate,
  type Trace,
} from '@coxswain/forecast';
import type { DemoServiceReport, ServiceFigures, ServiceSpec } from '@coxswain/protocol';
import type { Figure } from './results.js';

/** The chain's services, as the demo names them. */
export const CHAIN = ['order', 'storage', 'account'] as const;
export type ChainService = (typeof CHAIN)[number];

/** One copy of the chain: its policy and the suffix of its service names. */
export interface ChainCopy {
  readonly policy: PolicyName;
  readonly suffix: string;
}

/**
 * predictive runs the demo's own names; hpa's copy takes `-h` (order-h calls storage-h and
 * account-h through their own nginx servers, set in its STORAGE_URL and ACCOUNT_URL).
 */
export const COPIES: readonly ChainCopy[] = [
  { policy: 'predictive', suffix: '' },
  { policy: 'hpa', suffix: '-h' },
];

export const copyName = (service: ChainService, copy: ChainCopy): string =>
  `${service}${copy.suffix}`;

/** A demo spec as one copy declares it: renamed, under the copy's policy (lab-demo-policy.ts). */
export function copySpec(
  spec: ServiceSpec,
  copy: ChainCopy,
  env: Record<string, string> = spec.env,
): ServiceSpec {
  return {
    ...spec,
    name: `${spec.name}${copy.suffix}`,
    env,
    policy: demoPolicyRef(spec, copy.policy),
  };
}

/**
 * Seconds from a scale-up seen in the samples (desired rose) to running reaching it: the
 * lab's start-up time as the simulator needs it, measured on this run. A scale-up overtaken by
 * another, or undone by a scale-down, before it was reached is not counted.
 */
export function startupSecondsOf(
  samples: readonly ReplicaSample[],
  services: readonly string[],
): number[] {
  const out: number[] = [];
  for (const name of services) {
    let pending: { target: number; sinceMs: number } | undefined;
    let previousDesired: number | undefined;
    for (const s of samples) {
      const c = s.services.get(name);
      if (!c) continue;
      if (previousDesired !== undefined && c.desired > previousDesired)
        pending = { target: c.desired, sinceMs: s.atMs };
      else if (pending && c.desired < pending.target) pending = undefined;
      if (pending && c.running >= pending.target) {
        out.push((s.atMs - pending.sinceMs) / 1000);
        pending = undefined;
      }
      previousDesired = c.desired;
    }
  }
  return out;
}

/** Median of values (the lower middle for an even count); null for none. */
export function medianOf(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

/**
 * The replayed window as a trace the simulator reads: bin i holds what the load offered in its
 * run time (rate × the trace's bin width), so with `compress` = the run's speed-up the
 * simulator replays it at the lab's req/s, one trace bin per `binRunSeconds` of simulated time.
 */
export function replayedTrace(
  rate: RateAt,
  loadSeconds: number,
  stepSeconds: number,
  speedup: number,
  name: string,
): Trace {
  const binRunSeconds = stepSeconds / speedup;
  const bins = Math.max(1, Math.round(loadSeconds / binRunSeconds));
  const counts = new Float64Array(bins);
  for (let i = 0; i < bins; i++) counts[i] = rate((i + 0.5) * binRunSeconds) * stepSeconds;
  return { name, stepSeconds, counts };
}

/**
 * Req/s one replica would serve at 100 % of its CPU limit, from an agent's per-node figures:
 * the rate per replica over the CPU share it took. Figures under `minCpuPercent` are left out: a
 * near-idle replica's CPU is mostly fixed overhead, which would overstate its capacity.
 */
export function capacitySamplesOf(
  figures: readonly ServiceFigures[],
  minCpuPercent = 20,
): number[] {
  const out: number[] = [];
  for (const f of figures) {
    const cpu = f.cpuPercent;
    const rate = f.requestRatePerSecond;
    if (cpu === undefined || rate === undefined || f.containerCount === 0) continue;
    if (cpu < minCpuPercent || rate <= 0) continue;
    out.push(rate / f.containerCount / (cpu / 100));
  }
  return out;
}

/** A number the spec's predictive params set (the demo's capacity estimate), else fallback. */
function paramOf(spec: ServiceSpec, key: string, fallback: number): number {
  const v = spec.policy.params[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** The demo spec's own capacity estimate per replica at 100 % CPU (what its policy starts from). */
export function specCapacity(spec: ServiceSpec): number {
  return paramOf(spec, 'capacityPerReplica', 22);
}

/** The leader's decide interval in the lab (AgentConfig's default decideIntervalMs). */
export const LAB_DECIDE_INTERVAL_SECONDS = 1;

/**
 * The simulated service standing in for one of the chain's: one worker per replica (a replica
 * is one node process under a 0.1 CPU limit) serving the spec's own capacity estimate at 100 %,
 * the lab's decide interval, the start-up measured on the run, the spec's SLO and bounds, and a
 * queue bound of the load's 10 s timeout.
 */
export function simulationFor(
  spec: ServiceSpec,
  speedup: number,
  startupSeconds: number,
  measuredCapacity?: number,
): SimulationConfigInput {
  const capacity = measuredCapacity ?? specCapacity(spec);
  return {
    capacityPerReplica: capacity,
    workersPerReplica: 1,
    serviceTimeMs: 1000 / capacity,
    startupSeconds,
    controlIntervalSeconds: LAB_DECIDE_INTERVAL_SECONDS,
    // The trace's bins last 60/576 ≈ 0.1 s here: a tick no longer than one.
    tickSeconds: 0.05,
    compress: speedup,
    sloP95Ms: spec.sloP95Ms ?? 250,
    queueTimeoutSeconds: 10,
    minReplicas: spec.minReplicas,
    maxReplicas: spec.maxReplicas,
    initialReplicas: spec.minReplicas,
  };
}

/**
 * The copy's policy as the lab's leader runs it: the declared params, plus what the leader
 * tells a forecasting policy that does not set them (the measured lead time, its interval).
 */
export function simulatedPolicyParams(
  spec: ServiceSpec,
  policy: PolicyName,
  startupSeconds: number,
): Record<string, unknown> {
  const ref = demoPolicyRef(spec, policy);
  if (policy !== 'predictive' && policy !== 'learned') return ref.params;
  return {
    leadTimeSeconds: startupSeconds,
    decisionIntervalSeconds: LAB_DECIDE_INTERVAL_SECONDS,
    ...ref.params,
  };
}

export function simulateCopy(
  trace: Trace,
  spec: ServiceSpec,
  policy: PolicyName,
  speedup: number,
  startupSeconds: number,
  measuredCapacity?: number,
): SimulationResult {
  // The policy keeps the spec's own capacity estimate either way: only the simulated service changes.
  return simulate(
    trace,
    createPolicyRunner(policy, simulatedPolicyParams(spec, policy, startupSeconds)),
    simulationFor(spec, speedup, startupSeconds, measuredCapacity),
  );
}

/** /proc/stat's first line: busy and total jiffies over all CPUs (iowait counts as idle). */
export function cpuJiffies(procStat: string): { busy: number; total: number } {
  const line = procStat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return { busy: 0, total: 0 };
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Cores busy between two /proc/stat readings of a machine with `cpus` CPUs. */
export function busyCores(
  a: { busy: number; total: number },
  b: { busy: number; total: number },
  cpus: number,
): number {
  const total = b.total - a.total;
  return total > 0 ? ((b.busy - a.busy) / total) * cpus : 0;
}

/** What one copy measured on the lab and what the simulator predicts for it, per service. */
export interface CopyOutcome {
  readonly policy: PolicyName;
  /** The demo's reports, with the chain's names (order, not order-h). */
  readonly lab: readonly DemoServiceReport[];
  /** The simulator with the spec's capacity estimate per replica. */
  readonly sim: ReadonlyMap<ChainService, SimulationResult>;
  /** The simulator with the capacity the agents measured on the run (where they measured one). */
  readonly simMeasured: ReadonlyMap<ChainService, SimulationResult>;
}

/** Capacity per replica at 100 % CPU, measured on the run (both copies), and the spec's. */
export interface CapacitySeen {
  readonly median: number | null;
  readonly samples: number;
  readonly spec: number;
}

export interface RealRun {
  readonly startedAt: string;
  readonly loadAverageBefore: readonly number[];
  readonly loadAverageAfter: readonly number[];
  /** Machine CPU busy, cores, each second of the load. */
  readonly busyCores: readonly number[];
  readonly startupSeconds: number;
  readonly startupSamples: number;
  readonly peakRps: number;
  readonly speedup: number;
  readonly loadSeconds: number;
  readonly capacity: Readonly<Record<ChainService, CapacitySeen>>;
  readonly copies: readonly CopyOutcome[];
}

/** The chain's totals: SLO seconds, replica-seconds and scale actions summed over its services. */
export interface ChainTotals {
  readonly secondsOverSlo: number;
  readonly replicaSeconds: number;
  readonly scaleActions: number;
}

export function labTotals(reports: readonly DemoServiceReport[]): ChainTotals {
  let secondsOverSlo = 0;
  let replicaSeconds = 0;
  let scaleActions = 0;
  for (const r of reports) {
    secondsOverSlo += r.secondsOverSlo;
    replicaSeconds += r.replicaSeconds;
    scaleActions += r.scaleUps + r.scaleDowns;
  }
  return { secondsOverSlo, replicaSeconds, scaleActions };
}

export function simTotals(results: Iterable<SimulationResult>): ChainTotals {
  let secondsOverSlo = 0;
  let replicaSeconds = 0;
  let scaleActions = 0;
  for (const r of results) {
    secondsOverSlo += r.overSloSeconds;
    replicaSeconds += r.replicaSeconds;
    scaleActions += r.scaleActions;
  }
  return { secondsOverSlo, replicaSeconds, scaleActions };
}

/** a / b, null where b is 0 (a ratio of nothing to nothing says nothing). */
export function ratioOf(a: number, b: number): number | null {
  return b === 0 ? null : a / b;
}

const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

function copyOf(run: RealRun, policy: PolicyName): CopyOutcome {
  const c = run.copies.find((x) => x.policy === policy);
  if (!c) throw new Error(`run ${run.startedAt} has no ${policy} copy`);
  return c;
}

function reportOf(copy: CopyOutcome, service: ChainService): DemoServiceReport {
  const r = copy.lab.find((x) => x.name === service);
  if (!r) throw new Error(`the ${copy.policy} copy has no report for ${service}`);
  return r;
}

type Side = { value: number; p50?: number; p99?: number; samples?: number };

/**
 * The figures, one row per figure with predictive's value and hpa's as the peer, each the mean
 * over the runs (samples: seconds with requests, requests, or runs, as the row says).
 */
export function figuresOf(runs: readonly RealRun[]): Figure[] {
  const figures: Figure[] = [];
  const row = (name: string, unit: string, of: (run: RealRun, policy: PolicyName) => Side) => {
    const sides = (policy: PolicyName) => runs.map((run) => of(run, policy));
    const avg = (list: Side[], key: 'value' | 'p50' | 'p99' | 'samples') => {
      const xs = list.map((s) => s[key]).filter((x): x is number => x !== undefined);
      return xs.length === 0 ? undefined : mean(xs);
    };
    const p = sides('predictive');
    const h = sides('hpa');
    const pp50 = avg(p, 'p50');
    const pp99 = avg(p, 'p99');
    const ps = avg(p, 'samples');
    const hp50 = avg(h, 'p50');
    const hp99 = avg(h, 'p99');
    figures.push({
      name,
      value: avg(p, 'value') ?? Number.NaN,
      unit,
      ...(pp50 === undefined ? {} : { p50: pp50 }),
      ...(pp99 === undefined ? {} : { p99: pp99 }),
      ...(ps === undefined ? {} : { samples: Math.round(ps) }),
      peer: {
        name: 'hpa',
        value: avg(h, 'value') ?? Number.NaN,
        ...(hp50 === undefined ? {} : { p50: hp50 }),
        ...(hp99 === undefined ? {} : { p99: hp99 }),
      },
    });
  };
  for (const service of CHAIN) {
    const lab = (run: RealRun, policy: PolicyName) => reportOf(copyOf(run, policy), service);
    const sim = (run: RealRun, policy: PolicyName) => copyOf(run, policy).sim.get(service)!;
    row(`${service}: time over SLO, lab`, 's', (run, pol) => ({
      value: lab(run, pol).secondsOverSlo,
      samples: lab(run, pol).secondsWithRequests,
    }));
    row(`${service}: time over SLO, simulator`, 's', (run, pol) => ({
      value: sim(run, pol).overSloSeconds,
    }));
    row(`${service}: replica-seconds, lab`, 'replica-s', (run, pol) => ({
      value: lab(run, pol).replicaSeconds,
    }));
    row(`${service}: replica-seconds, simulator`, 'replica-s', (run, pol) => ({
      value: sim(run, pol).replicaSeconds,
    }));
    row(`${service}: scale actions, lab`, 'actions', (run, pol) => ({
      value: lab(run, pol).scaleUps + lab(run, pol).scaleDowns,
    }));
    row(`${service}: scale actions, simulator`, 'actions', (run, pol) => ({
      value: sim(run, pol).scaleActions,
    }));
    const simM = (run: RealRun, policy: PolicyName) => copyOf(run, policy).simMeasured.get(service);
    row(`${service}: time over SLO, simulator at the measured capacity`, 's', (run, pol) => ({
      value: simM(run, pol)?.overSloSeconds ?? Number.NaN,
    }));
    row(
      `${service}: replica-seconds, simulator at the measured capacity`,
      'replica-s',
      (run, pol) => ({
        value: simM(run, pol)?.replicaSeconds ?? Number.NaN,
      }),
    );
    row(`${service}: requests OK, lab`, '%', (run, pol) => ({
      value: lab(run, pol).okPercent,
      samples: lab(run, pol).requests,
    }));
    row(`${service}: latency p95 (p50, p99 beside), lab`, 'ms', (run, pol) => {
      const r = lab(run, pol);
      return {
        value: r.p95Ms ?? Number.NaN,
        ...(r.p50Ms === null ? {} : { p50: r.p50Ms }),
        ...(r.p99Ms === null ? {} : { p99: r.p99Ms }),
        samples: r.requests,
      };
    });
  }
  const labT = (run: RealRun, pol: PolicyName) => labTotals(copyOf(run, pol).lab);
  const simT = (run: RealRun, pol: PolicyName) => simTotals(copyOf(run, pol).sim.values());
  const simMT = (run: RealRun, pol: PolicyName) => simTotals(copyOf(run, pol).simMeasured.values());
  for (const [key, label, unit] of [
    ['secondsOverSlo', 'time over SLO', 's'],
    ['replicaSeconds', 'replica-seconds', 'replica-s'],
    ['scaleActions', 'scale actions', 'actions'],
  ] as const) {
    row(`chain (sum of 3 services): ${label}, lab`, unit, (run, pol) => ({
      value: labT(run, pol)[key],
    }));
    row(`chain (sum of 3 services): ${label}, simulator`, unit, (run, pol) => ({
      value: simT(run, pol)[key],
    }));
    row(
      `chain (sum of 3 services): ${label}, simulator at the measured capacity`,
      unit,
      (run, pol) => ({
        value: simMT(run, pol)[key],
      }),
    );
  }
  for (const [key, label] of [
    ['secondsOverSlo', 'time over SLO'],
    ['replicaSeconds', 'replica-seconds'],
  ] as const) {
    for (const [where, totals] of [
      ['lab', labT],
      ['simulator', simT],
      ['simulator at the measured capacity', simMT],
    ] as const) {
      const ratios = runs
        .map((run) => ratioOf(totals(run, 'predictive')[key], totals(run, 'hpa')[key]))
        .filter((x): x is number => x !== null);
      figures.push({
        name: `chain: ${label} predictive/hpa, ${where}`,
        value: ratios.length === 0 ? Number.NaN : mean(ratios),
        unit: 'ratio',
        samples: ratios.length,
      });
    }
  }
  for (const service of CHAIN) {
    const seen = runs.map((r) => r.capacity[service]);
    const medians = seen.map((c) => c.median).filter((x): x is number => x !== null);
    figures.push({
      name: `${service}: capacity per replica at 100 % CPU, measured (spec ${seen[0]?.spec ?? '?'})`,
      value: medians.length === 0 ? Number.NaN : mean(medians),
      unit: 'req/s',
      samples: seen.reduce((a, c) => a + c.samples, 0),
    });
  }
  const cores = runs.flatMap((r) => r.busyCores);
  const sortedCores = [...cores].sort((a, b) => a - b);
  const pct = (p: number) =>
    sortedCores[Math.min(sortedCores.length - 1, Math.ceil((p / 100) * sortedCores.length) - 1)];
  figures.push({
    name: 'machine CPU busy during the load (both chains, nginx, agents, load)',
    value: mean(cores),
    unit: 'cores',
    ...(sortedCores.length === 0 ? {} : { p50: pct(50)!, p99: pct(99)! }),
    samples: cores.length,
  });
  figures.push({
    name: 'start-up, scale-up decided → replica running (the simulator’s start-up)',
    value: mean(runs.map((r) => r.startupSeconds)),
    unit: 's',
    samples: runs.reduce((a, r) => a + r.startupSamples, 0),
  });
  return figures;
}

const f = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);

/** One run side by side, as a markdown table for RESULTS.md's notes. */
export function runTable(run: RealRun, index: number): string {
  const p = copyOf(run, 'predictive');
  const h = copyOf(run, 'hpa');
  const lines = [
    `Run ${index + 1} (${run.startedAt}; load average ${run.loadAverageBefore.map((x) => x.toFixed(2)).join(' ')} before, ${run.loadAverageAfter.map((x) => x.toFixed(2)).join(' ')} after; machine CPU busy ${f(mean(run.busyCores), 2)} cores mean, ${f(Math.max(0, ...run.busyCores), 2)} max; start-up ${run.startupSeconds.toFixed(1)} s over ${run.startupSamples} scale-ups):`,
    '',
    '| service | over SLO, lab (s) predictive / hpa | over SLO, sim (s) | replica-s, lab | replica-s, sim | scale actions, lab | scale actions, sim | OK %, lab | p95 / p99 ms, lab |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of CHAIN) {
    const a = reportOf(p, s);
    const b = reportOf(h, s);
    const sa = p.sim.get(s)!;
    const sb = h.sim.get(s)!;
    lines.push(
      `| ${s} | ${a.secondsOverSlo} / ${b.secondsOverSlo} (of ${a.secondsWithRequests} / ${b.secondsWithRequests}) | ${f(sa.overSloSeconds)} / ${f(sb.overSloSeconds)} | ${f(a.replicaSeconds)} / ${f(b.replicaSeconds)} | ${f(sa.replicaSeconds)} / ${f(sb.replicaSeconds)} | ${a.scaleUps + a.scaleDowns} / ${b.scaleUps + b.scaleDowns} | ${sa.scaleActions} / ${sb.scaleActions} | ${a.okPercent.toFixed(2)} / ${b.okPercent.toFixed(2)} | ${f(a.p95Ms)}, ${f(a.p99Ms)} / ${f(b.p95Ms)}, ${f(b.p99Ms)} |`,
    );
  }
  const lp = labTotals(p.lab);
  const lh = labTotals(h.lab);
  const sp = simTotals(p.sim.values());
  const sh = simTotals(h.sim.values());
  const r = (a: number, b: number) => f(ratioOf(a, b), 2);
  lines.push(
    `| chain | ${lp.secondsOverSlo} / ${lh.secondsOverSlo} | ${f(sp.secondsOverSlo)} / ${f(sh.secondsOverSlo)} | ${f(lp.replicaSeconds)} / ${f(lh.replicaSeconds)} | ${f(sp.replicaSeconds)} / ${f(sh.replicaSeconds)} | ${lp.scaleActions} / ${lh.scaleActions} | ${sp.scaleActions} / ${sh.scaleActions} | | |`,
    `| predictive/hpa | lab ${r(lp.secondsOverSlo, lh.secondsOverSlo)} | sim ${r(sp.secondsOverSlo, sh.secondsOverSlo)} | lab ${r(lp.replicaSeconds, lh.replicaSeconds)} | sim ${r(sp.replicaSeconds, sh.replicaSeconds)} | lab ${r(lp.scaleActions, lh.scaleActions)} | sim ${r(sp.scaleActions, sh.scaleActions)} | | |`,
    '',
    'The simulator again, at the capacity per replica the agents measured on this run (CPU share against req/s per replica):',
    '',
    '| service | capacity, measured (spec), req/s | over SLO, sim (s) predictive / hpa | replica-s, sim | scale actions, sim |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const s of CHAIN) {
    const c = run.capacity[s];
    const a = p.simMeasured.get(s);
    const b = h.simMeasured.get(s);
    lines.push(
      `| ${s} | ${f(c.median, 1)} over ${c.samples} figures (${c.spec}) | ${f(a?.overSloSeconds)} / ${f(b?.overSloSeconds)} | ${f(a?.replicaSeconds)} / ${f(b?.replicaSeconds)} | ${a?.scaleActions ?? '—'} / ${b?.scaleActions ?? '—'} |`,
    );
  }
  const mp = simTotals(p.simMeasured.values());
  const mh = simTotals(h.simMeasured.values());
  lines.push(
    `| chain | | ${f(mp.secondsOverSlo)} / ${f(mh.secondsOverSlo)} (ratio ${r(mp.secondsOverSlo, mh.secondsOverSlo)}) | ${f(mp.replicaSeconds)} / ${f(mh.replicaSeconds)} (ratio ${r(mp.replicaSeconds, mh.replicaSeconds)}) | ${mp.scaleActions} / ${mh.scaleActions} |`,
  );
  return lines.join('\n');
}
