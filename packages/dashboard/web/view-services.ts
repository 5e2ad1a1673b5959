/** The Services view: a list, and the selected service's four charts and its placement. */
import { type Columns, colorOf, type SeriesDef, TimeChart } from './charts.js';
import { $, DASH, esc, fixed, orDash, pill, setHtml, total } from './dom.js';
import type { Figures, ServiceDetail } from './schemas.js';
import { state } from './state.js';

/** The forecast's interval as this page saw it over time (the API serves only the latest). */
const intervalHistory = new Map<
  string,
  { t: number; lo: number; hi: number; cap: number | null }[]
>();

export function recordInterval(d: ServiceDetail, nowMs: number): void {
  if (!d.interval) return;
  const list = intervalHistory.get(d.name) ?? [];
  list.push({
    t: nowMs / 1000,
    lo: d.interval.lowerRequestRatePerSecond,
    hi: d.interval.upperRequestRatePerSecond,
    cap: d.interval.capacityPerReplicaRequestsPerSecond,
  });
  if (list.length > 900) list.shift();
  intervalHistory.set(d.name, list);
}

export function renderServiceList(target: HTMLElement, route: string): void {
  const sel = state.selectedService;
  const html = state.services
    .map((s) => {
      const running = total(s.running);
      const desired = s.desiredReplicas ?? 0;
      const tone = s.deleted ? 'dim' : running < desired ? 'warn' : 'ok';
      return `<a class="svc ${s.name === sel ? 'sel' : ''}" href="#${route}/${encodeURIComponent(s.name)}" data-service="${esc(s.name)}">
        <span class="svc-name">${esc(s.name)}</span>
        <span class="svc-count ${tone}">${running}<span class="dim">/${desired}</span></span>
        <span class="svc-flags">${s.manualReplicas !== null && s.manualReplicas !== undefined ? '<span class="tag" title="manual override">pinned</span>' : ''}${s.locked ? '<span class="tag warn" title="lock held">locked</span>' : ''}${s.deleted ? '<span class="tag">deleted</span>' : ''}</span></a>`;
    })
    .join('');
  setHtml(target, html || '<div class="dim pad">no services declared</div>');
}

interface Charts {
  replicas: TimeChart;
  rate: TimeChart;
  latency: TimeChart;
  resources: TimeChart;
  key: string;
}
let charts: Charts | undefined;

export function renderServices(): void {
  renderServiceList($('svc-list'), 'services');
  const d = state.detail;
  const body = $('svc-body');
  body.style.display = d ? '' : 'none';
  $('svc-none').style.display = d ? 'none' : '';
  if (!d) return;
  const spec = d.record.spec;
  const manual = d.record.manualReplicas;
  setHtml(
    $('svc-head'),
    `<h2 class="svc-title">${esc(d.name)}</h2>
     <div class="facts">
       <span><span class="k">image</span>${esc(spec.image ?? DASH)}</span>
       <span><span class="k">policy</span>${esc(spec.policy?.name ?? DASH)}</span>
       <span><span class="k">min–max</span>${orDash(spec.minReplicas)}–${orDash(spec.maxReplicas)}</span>
       <span><span class="k">SLO p95</span>${orDash(spec.sloP95Ms, ' ms')}</span>
       <span><span class="k">desired</span><b>${orDash(d.record.desiredReplicas)}</b>${manual !== null && manual !== undefined ? ` <span class="tag">pinned at ${manual}</span>` : ''}</span>
       <span><span class="k">forecast</span>${d.predicted === undefined ? DASH : `${fixed(d.predicted)} req/s`}${d.interval ? ` <span class="dim">[${fixed(d.interval.lowerRequestRatePerSecond)}, ${fixed(d.interval.upperRequestRatePerSecond)}]</span>` : ''}</span>
     </div>
     <div class="reason">${d.record.reason ? esc(d.record.reason) : '<span class="dim">no reason recorded</span>'}</div>`,
  );
  const nodes = [
    ...new Set([
      ...Object.keys(d.figures),
      ...Object.keys(d.record.placement),
      ...Object.keys(d.running),
    ]),
  ].sort();
  const key = `${d.name}|${nodes.join(',')}|${spec.sloP95Ms ?? ''}`;
  if (charts?.key !== key) charts = makeCharts(nodes, key);
  const noMetrics = spec.metrics === undefined || spec.metrics === null;
  charts.rate.emptyText = noMetrics
    ? 'no data: the service declares no metrics endpoint'
    : 'no data yet';
  charts.latency.emptyText = noMetrics
    ? 'no data: the service declares no metrics endpoint'
    : 'no data yet';
  fillCharts(charts, d, nodes);
  setHtml(
    $('svc-placement'),
    nodes
      .map((n) => {
        const want = d.record.placement[n] ?? 0;
        const have = d.running[n] ?? 0;
        return `<tr><td><span class="swatch" style="background:${colorOf(n)}"></span>${esc(n)}</td>
          <td class="num">${want}</td><td class="num ${have < want ? 'warn' : 'ok'}">${have}</td>
          <td>${pill(state.nodes.find((x) => x.id === n)?.record?.state ?? undefined)}</td></tr>`;
      })
      .join(''),
  );
}

function makeCharts(nodes: string[], key: string): Charts {
  for (const id of ['chart-replicas', 'chart-rate', 'chart-latency', 'chart-resources'])
    $(id).innerHTML = '';
  const perNode: SeriesDef[] = nodes.map((n) => ({
    label: n,
    color: colorOf(n),
    stepped: true,
    width: 1.2,
  }));
  return {
    key,
    replicas: new TimeChart($('chart-replicas'), {
      title: 'Replicas · desired vs running (per node)',
      series: [
        { label: 'desired', color: '#e0b341', stepped: true, width: 2.2, dash: [6, 4] },
        {
          label: 'running',
          color: '#e6edf3',
          stepped: true,
          width: 2.2,
          fill: 'rgba(230,237,243,0.06)',
        },
        ...perNode,
      ],
    }),
    rate: new TimeChart($('chart-rate'), {
      title: 'Request rate · actual vs forecast (interval) vs capacity',
      band: [2, 3],
      series: [
        { label: 'actual', color: '#5aa9e6', width: 2, unit: '/s', fill: 'rgba(90,169,230,0.12)' },
        { label: 'forecast', color: '#e0b341', width: 1.6, dash: [4, 3], unit: '/s' },
        { label: 'upper', color: 'rgba(224,179,65,0.45)', width: 0.8, unit: '/s' },
        { label: 'lower', color: 'rgba(224,179,65,0.45)', width: 0.8, unit: '/s' },
        {
          label: 'capacity',
          color: '#f07178',
          width: 1.4,
          dash: [2, 3],
          stepped: true,
          unit: '/s',
        },
      ],
    }),
    latency: new TimeChart($('chart-latency'), {
      title: 'Latency · p95 vs SLO',
      series: [
        { label: 'p95', color: '#c792ea', width: 2, unit: ' ms', fill: 'rgba(199,146,234,0.12)' },
        { label: 'SLO', color: '#f07178', width: 1.4, dash: [6, 4], unit: ' ms' },
      ],
    }),
    resources: new TimeChart($('chart-resources'), {
      title: 'CPU and memory · mean per replica',
      series: [
        { label: 'CPU', color: '#4fbf7a', width: 2, unit: '%', fill: 'rgba(79,191,122,0.1)' },
        { label: 'memory', color: '#89ddff', width: 2, unit: '%' },
      ],
    }),
  };
}

/** Buckets of one second: each node's figures at that second. */
function bucket(d: ServiceDetail): Map<number, Map<string, Figures>> {
  const out = new Map<number, Map<string, Figures>>();
  for (const [node, list] of Object.entries(d.figures)) {
    for (const f of list) {
      const t = Math.round(f.time / 1000);
      const m = out.get(t) ?? new Map<string, Figures>();
      out.set(t, m);
      m.set(node, f);
    }
  }
  return out;
}

function sumOf(
  m: Map<string, Figures> | undefined,
  pick: (f: Figures) => number | undefined,
): number | undefined {
  if (!m) return undefined;
  let s: number | undefined;
  for (const f of m.values()) {
    const v = pick(f);
    if (v !== undefined) s = (s ?? 0) + v;
  }
  return s;
}

/** Mean of a per-replica figure, weighted by each node's container count. */
function meanOf(
  m: Map<string, Figures> | undefined,
  pick: (f: Figures) => number | undefined,
): number | undefined {
  if (!m) return undefined;
  let s = 0;
  let w = 0;
  for (const f of m.values()) {
    const v = pick(f);
    const k = f.containerCount ?? 0;
    if (v !== undefined && k > 0) {
      s += v * k;
      w += k;
    }
  }
  return w > 0 ? s / w : undefined;
}

function fillCharts(c: Charts, d: ServiceDetail, nodes: string[]): void {
  const buckets = bucket(d);
  const hist = state.history.get(d.name) ?? [];
  const ivals = intervalHistory.get(d.name) ?? [];
  const times = [...new Set([...buckets.keys(), ...hist.map((h) => Math.round(h.t))])].sort(
    (a, b) => a - b,
  );
  const at = <T extends { t: number }>(list: readonly T[], t: number): T | undefined => {
    // The newest sample at or before t, within 5 s (older means the page was not looking).
    let found: T | undefined;
    for (const s of list) {
      if (s.t <= t + 0.5) found = s;
      else break;
    }
    return found && t - found.t <= 5 ? found : undefined;
  };
  const slo = d.record.spec.sloP95Ms;
  const desired: (number | undefined)[] = [];
  const running: (number | undefined)[] = [];
  const byNode: (number | undefined)[][] = nodes.map(() => []);
  const rate: (number | undefined)[] = [];
  const forecast: (number | undefined)[] = [];
  const hi: (number | undefined)[] = [];
  const lo: (number | undefined)[] = [];
  const cap: (number | undefined)[] = [];
  const p95: (number | undefined)[] = [];
  const sloLine: (number | undefined)[] = [];
  const cpu: (number | undefined)[] = [];
  const mem: (number | undefined)[] = [];
  for (const t of times) {
    const b = buckets.get(t);
    const h = at(hist, t);
    desired.push(h?.desired);
    const fromFigures = sumOf(b, (f) => f.containerCount);
    running.push(fromFigures ?? h?.running);
    nodes.forEach((n, i) => {
      byNode[i]!.push(b?.get(n)?.containerCount ?? h?.runningByNode[n]);
    });
    rate.push(sumOf(b, (f) => f.requestRatePerSecond));
    let pred: number | undefined;
    for (const f of b?.values() ?? [])
      if (f.predictedRequestRatePerSecond !== undefined)
        pred = Math.max(pred ?? 0, f.predictedRequestRatePerSecond);
    forecast.push(pred);
    const iv = at(ivals, t);
    hi.push(iv?.hi);
    lo.push(iv?.lo);
    const r = running[running.length - 1];
    cap.push(iv?.cap && r !== undefined ? iv.cap * r : undefined);
    let worst: number | undefined;
    for (const f of b?.values() ?? [])
      if (f.p95LatencyMs !== undefined) worst = Math.max(worst ?? 0, f.p95LatencyMs);
    p95.push(worst);
    sloLine.push(slo);
    cpu.push(meanOf(b, (f) => f.cpuPercent));
    mem.push(meanOf(b, (f) => f.memoryPercent));
  }
  c.replicas.set([times, desired, running, ...byNode] as Columns);
  c.rate.set([times, rate, forecast, hi, lo, cap]);
  c.latency.set([times, p95, sloLine]);
  c.resources.set([times, cpu, mem]);
}
