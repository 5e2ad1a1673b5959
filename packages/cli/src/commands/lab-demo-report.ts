/**
 * The demo's final report, pure: from what the demo measured (nginx's access log, the replica
 * counts sampled every second from the cluster API, the scale decisions seen there, the chaos
 * journal, the load generator's own summary) to per-service figures, as JSON and as text. The
 * schema (DemoReport) lives in @coxswain/protocol, so a reader of the file validates it.
 */
import { percentile } from '@coxswain/chaos';
import type { DemoReport, DemoSeriesPoint, DemoServiceReport } from '@coxswain/protocol';
import type { NginxAccess } from './lab-demo-nginx.js';

/** One look at the cluster: per service, running and desired replicas. */
export interface ReplicaSample {
  readonly atMs: number;
  /** Wall-clock time of the same look: nginx's access log, which gives the offered load, has only that. */
  readonly atEpochMs?: number;
  readonly services: ReadonlyMap<string, { running: number; desired: number }>;
  /** Per service, the rate the agents measured and the leader's forecast, when known. */
  readonly rates?: ReadonlyMap<string, { measuredRps?: number; forecastRps?: number }>;
}

export interface DecisionSeen {
  readonly atMs: number;
  readonly service: string;
  readonly from: number;
  readonly to: number;
  readonly reason?: string | undefined;
}

/**
 * The rates of the sampler's views, for a sample. The sampler reads the leader's figures after
 * the replica counts, so these are the previous round's: at most a second behind the counts.
 */
export function ratesOf(
  views: ReadonlyMap<string, { rate?: number | undefined; forecast?: number | undefined }>,
): Map<string, { measuredRps?: number; forecastRps?: number }> {
  const out = new Map<string, { measuredRps?: number; forecastRps?: number }>();
  for (const [name, v] of views)
    out.set(name, {
      ...(v.rate === undefined ? {} : { measuredRps: v.rate }),
      ...(v.forecast === undefined ? {} : { forecastRps: v.forecast }),
    });
  return out;
}

/** ∫ running dt over the samples, in replica-seconds (each sample holds until the next). */
export function replicaSecondsOf(samples: readonly ReplicaSample[], service: string): number {
  let total = 0;
  for (let i = 0; i + 1 < samples.length; i++) {
    const a = samples[i]!;
    const b = samples[i + 1]!;
    total += (a.services.get(service)?.running ?? 0) * ((b.atMs - a.atMs) / 1000);
  }
  return total;
}

/** Seconds whose requests' p95 exceeded the objective, and seconds with any request at all. */
export function sloSecondsOf(
  accesses: readonly NginxAccess[],
  sloP95Ms: number | undefined,
): { over: number; withRequests: number } {
  const bySecond = new Map<number, number[]>();
  for (const a of accesses) {
    const k = Math.floor(a.atEpochMs / 1000);
    const list = bySecond.get(k) ?? [];
    if (list.length === 0) bySecond.set(k, list);
    list.push(a.seconds * 1000);
  }
  let over = 0;
  for (const list of bySecond.values()) {
    if (sloP95Ms !== undefined && (percentile(list, 95) ?? 0) > sloP95Ms) over++;
  }
  return { over, withRequests: bySecond.size };
}

/**
 * The service's series, one point per sample: replicas and the cluster's rates as sampled, and
 * the offered load as the requests nginx logged for it between the previous sample and this one
 * (null for the first sample, and for samples without a wall-clock time).
 */
export function seriesOf(
  service: string,
  accesses: readonly NginxAccess[],
  samples: readonly ReplicaSample[],
  loadStartMs: number,
): DemoSeriesPoint[] {
  const times = accesses
    .filter((a) => a.service === service)
    .map((a) => a.atEpochMs)
    .sort((x, y) => x - y);
  // Accesses with times at most `t`, by binary search: the log is long, the samples many.
  const countUpTo = (t: number) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const round = (n: number | undefined) => (n === undefined ? null : Math.round(n * 100) / 100);
  return samples.map((s, i) => {
    const prev = samples[i - 1];
    const counts = s.services.get(service);
    const rates = s.rates?.get(service);
    let offeredRps: number | null = null;
    if (prev?.atEpochMs !== undefined && s.atEpochMs !== undefined && s.atEpochMs > prev.atEpochMs)
      offeredRps = round(
        (countUpTo(s.atEpochMs) - countUpTo(prev.atEpochMs)) /
          ((s.atEpochMs - prev.atEpochMs) / 1000),
      );
    return {
      atSeconds: Math.round((s.atMs - loadStartMs) / 100) / 10,
      offeredRps,
      measuredRps: round(rates?.measuredRps),
      forecastRps: round(rates?.forecastRps),
      desired: counts?.desired ?? 0,
      running: counts?.running ?? 0,
    };
  });
}

export function serviceReport(
  name: string,
  sloP95Ms: number | undefined,
  accesses: readonly NginxAccess[],
  samples: readonly ReplicaSample[],
  decisions: readonly DecisionSeen[],
  loadStartMs: number,
): DemoServiceReport {
  const mine = accesses.filter((a) => a.service === name);
  const ms = mine.map((a) => a.seconds * 1000);
  const ok = mine.filter((a) => a.status >= 200 && a.status < 400).length;
  const statuses: Record<string, number> = {};
  for (const a of mine) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const slo = sloSecondsOf(mine, sloP95Ms);
  const running = samples.map((s) => s.services.get(name)?.running ?? 0);
  const mineDecisions = decisions.filter((d) => d.service === name);
  const round = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10);
  return {
    name,
    requests: mine.length,
    ok,
    okPercent: mine.length === 0 ? 0 : (100 * ok) / mine.length,
    statuses,
    p50Ms: round(percentile(ms, 50)),
    p95Ms: round(percentile(ms, 95)),
    p99Ms: round(percentile(ms, 99)),
    sloP95Ms: sloP95Ms ?? null,
    secondsOverSlo: slo.over,
    secondsWithRequests: slo.withRequests,
    replicaSeconds: Math.round(replicaSecondsOf(samples, name)),
    minReplicas: running.length ? Math.min(...running) : 0,
    maxReplicas: running.length ? Math.max(...running) : 0,
    scaleUps: mineDecisions.filter((d) => d.to > d.from).length,
    scaleDowns: mineDecisions.filter((d) => d.to < d.from).length,
    decisions: mineDecisions.map((d) => ({
      atSeconds: Math.round((d.atMs - loadStartMs) / 100) / 10,
      from: d.from,
      to: d.to,
      ...(d.reason === undefined ? {} : { reason: d.reason }),
    })),
    series: seriesOf(name, accesses, samples, loadStartMs),
  };
}

const f1 = (n: number | null) => (n === null ? '—' : n.toFixed(1));

export function renderDemoReport(r: DemoReport): string {
  const lines: string[] = [];
  lines.push(
    `coxswain demo report (${r.startedAt}): ${r.outcome}`,
    `  setup ${r.setupSeconds.toFixed(0)} s, load ${r.loadSeconds.toFixed(0)} s, total ${r.totalSeconds.toFixed(0)} s`,
    `  load: ${r.trace.file} from ${(r.trace.fromSeconds / 3600).toFixed(1)} h, ${(r.trace.traceSeconds / 3600).toFixed(1)} h of trace replayed ${r.trace.speedup.toFixed(0)}x faster, peak ${r.trace.peakRps.toFixed(0)} req/s`,
    `  client (through nginx to order): sent ${r.load.sent}, ok ${r.load.ok}, errors ${r.load.errors}, dropped ${r.load.dropped}; p50 ${r.load.p50Ms.toFixed(1)} ms, p95 ${r.load.p95Ms.toFixed(1)} ms, p99 ${r.load.p99Ms.toFixed(1)} ms`,
    `  nginx reloads by the endpoints watcher: ${r.nginxReloads}${
      Object.keys(r.nginxErrors).length === 0
        ? ''
        : `; nginx errors: ${Object.entries(r.nginxErrors)
            .map(([k, n]) => `${k} ×${n}`)
            .join(', ')}`
    }`,
    '',
    '  service   requests    ok %    p50     p95     p99   (ms, nginx)  over SLO       replica-s  replicas  scale up/down',
  );
  for (const s of r.services) {
    lines.push(
      `  ${s.name.padEnd(9)} ${String(s.requests).padStart(8)}  ${s.okPercent.toFixed(2).padStart(6)}  ${f1(s.p50Ms).padStart(6)}  ${f1(s.p95Ms).padStart(6)}  ${f1(s.p99Ms).padStart(6)}               ${`${s.secondsOverSlo}/${s.secondsWithRequests} s`.padEnd(11)}${s.sloP95Ms === null ? '' : ` >${s.sloP95Ms}`.padEnd(6)} ${String(s.replicaSeconds).padStart(7)}   ${`${s.minReplicas}..${s.maxReplicas}`.padEnd(8)}  ${s.scaleUps}/${s.scaleDowns}`,
    );
  }
  for (const s of r.services) {
    const failed = Object.entries(s.statuses).filter(([code]) => !/^[23]/.test(code));
    if (failed.length > 0)
      lines.push(
        `  ${s.name} failed answers: ${failed.map(([code, n]) => `${code} ×${n}`).join(', ')}`,
      );
  }
  for (const s of r.services) {
    if (s.decisions.length === 0) continue;
    lines.push(
      `  ${s.name} decisions: ${s.decisions.map((d) => `${d.atSeconds.toFixed(0)}s ${d.from}→${d.to}`).join(', ')}`,
    );
  }
  lines.push('');
  const c = r.chaos;
  if (!c) lines.push('  chaos: not run');
  else {
    lines.push(
      `  chaos: ${c.experiment} at ${c.atSeconds === null ? '—' : `${c.atSeconds.toFixed(0)} s`} into the load: ${c.verdict.toUpperCase()} (${c.status})${c.reason ? ` — ${c.reason}` : ''}`,
      `    killed ${c.killedHost ?? '—'} (leader ${c.leaderBefore ?? '—'}); new leader ${c.leaderAfter ?? '—'}`,
      `    heal phases: ${c.phases.map((p) => `${p.phase} ${p.ms === null ? '—' : `${Math.round(p.ms)} ms`}${p.slaMs === null ? '' : ` (SLA ${p.slaMs} ms${p.met ? '' : ', MISSED'})`}`).join(', ')}`,
    );
    if (c.journalFile) lines.push(`    journal: ${c.journalFile}`);
  }
  lines.push(
    '',
    `  cleanup: ${r.cleanup.leftRunning.length === 0 ? `nothing left running (${r.cleanup.pids.length} processes and ${r.cleanup.netns.length} namespaces checked)` : `STILL RUNNING: ${r.cleanup.leftRunning.join(', ')}`}`,
  );
  return `${lines.join('\n')}\n`;
}
