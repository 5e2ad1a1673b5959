/**
 * The demo's live view, pure: where the replayed trace is, per service the request rate the
 * agents measure, the leader's forecast and the replicas (with a bar), the load generator's own
 * figures through nginx, the chaos step, and under it the lab's table of hosts and events.
 */
import { type LabView, renderLabTable } from '@coxswain/lab';
import type { LoadSummary } from './load-run.js';

export interface DemoServiceView {
  readonly name: string;
  running: number;
  desired: number;
  /** Servers in its nginx upstream. */
  upstream: number;
  /** Req/s summed over the hosts' latest reports (the agents scrape the replicas' /metrics). */
  rate: number | undefined;
  /** The leader's predicted req/s over the provisioning lead time. */
  forecast: number | undefined;
  p95Ms: number | undefined;
}

export interface DemoViewInput {
  readonly elapsedSeconds: number;
  readonly loadSeconds: number;
  readonly traceName: string;
  readonly traceAtSeconds: number;
  readonly speedup: number;
  readonly offeredRps: number;
  readonly load: LoadSummary | undefined;
  readonly services: readonly DemoServiceView[];
  readonly chaos: string;
  readonly nginxReloads: number;
  readonly lab: LabView;
}

const n1 = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(1));

/** Trace seconds as `day 5 14:05` (day 1 is the trace's first). */
export function traceClock(seconds: number): string {
  const day = Math.floor(seconds / 86_400) + 1;
  const rest = seconds % 86_400;
  const hh = String(Math.floor(rest / 3600)).padStart(2, '0');
  const mm = String(Math.floor((rest % 3600) / 60)).padStart(2, '0');
  return `day ${day} ${hh}:${mm}`;
}

export function renderDemoView(v: DemoViewInput): string[] {
  const out = [
    `coxswain demo: load ${Math.floor(v.elapsedSeconds)}s of ${Math.round(v.loadSeconds)}s, ${v.traceName} at ${traceClock(v.traceAtSeconds)} (replayed ${v.speedup.toFixed(0)}x faster), offered ${n1(v.offeredRps)} req/s to order (Ctrl-C to stop)`,
    '',
    'SERVICE   RATE/s  FORECAST/s  REPLICAS (running/desired)   P95 (agents)  NGINX UPSTREAM',
  ];
  for (const s of v.services) {
    const bar = '#'.repeat(Math.min(s.running, 20)).padEnd(8);
    out.push(
      `${s.name.padEnd(9)} ${n1(s.rate).padStart(6)}  ${n1(s.forecast).padStart(10)}  ${`${s.running}/${s.desired}`.padStart(5)} ${bar}              ${`${s.p95Ms === undefined ? '-' : Math.round(s.p95Ms)} ms`.padStart(8)}    ${s.upstream} servers`,
    );
  }
  const l = v.load;
  out.push(
    '',
    l
      ? `load (client → nginx → order): sent ${l.sent}, ok ${l.ok}, errors ${l.errors}, dropped ${l.dropped}, in flight ${l.inFlight}; p50 ${n1(l.p50Ms)} ms, p95 ${n1(l.p95Ms)} ms, p99 ${n1(l.p99Ms)} ms; nginx reloads ${v.nginxReloads}`
      : 'load: starting',
    v.chaos,
    '',
    ...renderLabTable(v.lab),
  );
  return out;
}
