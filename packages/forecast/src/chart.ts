import type { SimulationPoint, SimulationResult } from './simulator.js';

export interface ChartOptions {
  readonly title: string;
  readonly sloP95Ms: number;
  readonly capacityPerReplica: number;
  /** Lines of configuration shown under the title. */
  readonly notes?: readonly string[];
}

const WIDTH = 1100;
const PLOT_HEIGHT = 150;
const LEFT = 70;
const RIGHT = 20;
const GAP = 34;

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtNumber(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  return Number(v.toPrecision(3)).toString();
}

function fmtTime(seconds: number, span: number): string {
  if (span > 3 * 86400) return `${(seconds / 86400).toFixed(1)}d`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

interface Series {
  readonly values: readonly (number | undefined)[];
  readonly color: string;
  readonly label: string;
  readonly dashed?: boolean;
}

function plot(
  y0: number,
  xs: readonly number[],
  series: readonly Series[],
  yLabel: string,
  options: { log?: boolean; hline?: { value: number; label: string }; yMax?: number } = {},
): string {
  const x0 = xs[0] ?? 0;
  const x1 = xs[xs.length - 1] ?? 1;
  const span = x1 - x0 || 1;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const px = (x: number): number => LEFT + ((x - x0) / span) * plotWidth;
  let max = 0;
  for (const s of series)
    for (const v of s.values) if (v !== undefined && Number.isFinite(v)) max = Math.max(max, v);
  if (options.hline) max = Math.max(max, options.hline.value);
  // A shared scale across panels, so policies compare at a glance.
  if (options.yMax !== undefined) max = Math.max(max, options.yMax);
  const log = options.log ?? false;
  const lo = log ? 1 : 0;
  const hi = log ? niceMax(max) : niceMax(max);
  const py = (v: number): number => {
    const f = log
      ? (Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)
      : (v - lo) / (hi - lo);
    return y0 + PLOT_HEIGHT - Math.max(0, Math.min(1, f)) * PLOT_HEIGHT;
  };
  const out: string[] = [];
  out.push(
    `<rect x="${LEFT}" y="${y0}" width="${plotWidth}" height="${PLOT_HEIGHT}" fill="#fafafa" stroke="#ccc"/>`,
  );
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(hi)) + 1 }, (_, i) => 10 ** i)
    : [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  for (const t of ticks) {
    const y = py(t);
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(
      `<text x="${LEFT - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#555">${fmtNumber(t)}</text>`,
    );
  }
  for (let i = 0; i <= 8; i++) {
    const x = x0 + (i / 8) * span;
    out.push(
      `<text x="${px(x)}" y="${y0 + PLOT_HEIGHT + 13}" text-anchor="middle" font-size="10" fill="#777">${fmtTime(x, span)}</text>`,
    );
  }
  out.push(
    `<text x="14" y="${y0 + PLOT_HEIGHT / 2}" font-size="12" fill="#333" transform="rotate(-90 14 ${y0 + PLOT_HEIGHT / 2})" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  if (options.hline) {
    const y = py(options.hline.value);
    out.push(
      `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y}" y2="${y}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${LEFT + plotWidth - 4}" y="${y - 4}" text-anchor="end" font-size="11" fill="#d62728">${escapeXml(options.hline.label)}</text>`,
    );
  }
  let legendX = LEFT + 8;
  for (const s of series) {
    let d = '';
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      const v = s.values[i];
      if (v === undefined || !Number.isFinite(v)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${px(xs[i]!).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    }
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.3"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    out.push(`<rect x="${legendX}" y="${y0 + 6}" width="12" height="3" fill="${s.color}"/>`);
    out.push(
      `<text x="${legendX + 16}" y="${y0 + 11}" font-size="11" fill="#333">${escapeXml(s.label)}</text>`,
    );
    legendX += 30 + s.label.length * 6.2;
  }
  return out.join('\n');
}

interface Scales {
  readonly rate: number;
  readonly replicas: number;
}

function panel(result: SimulationResult, options: ChartOptions, y: number, scales: Scales): string {
  const pts: readonly SimulationPoint[] = result.points;
  const xs = pts.map((p) => p.traceSeconds);
  const parts: string[] = [];
  parts.push(
    `<text x="${LEFT}" y="${y + 16}" font-size="15" font-weight="bold" fill="#111">${escapeXml(result.policy)}</text>`,
    `<text x="${LEFT + 120}" y="${y + 16}" font-size="12" fill="#333">${escapeXml(
      `over SLO ${(result.overSloFraction * 100).toFixed(2)} % of the time · ${fmtNumber(result.replicaSeconds)} replica-s · ${result.scaleActions} scale actions · ${fmtNumber(result.dropped)} dropped`,
    )}</text>`,
  );
  let yy = y + 28;
  parts.push(
    plot(
      yy,
      xs,
      [
        { values: pts.map((p) => p.requestRate), color: '#1f77b4', label: 'request rate (req/s)' },
        {
          values: pts.map((p) => p.forecastRate),
          color: '#ff7f0e',
          label: 'forecast (upper quantile)',
          dashed: true,
        },
        {
          values: pts.map((p) => p.readyReplicas * options.capacityPerReplica),
          color: '#7f7f7f',
          label: 'ready capacity (req/s)',
        },
      ],
      'req/s',
      { yMax: scales.rate },
    ),
  );
  yy += PLOT_HEIGHT + GAP;
  parts.push(
    plot(
      yy,
      xs,
      [
        {
          values: pts.map((p) => p.replicas),
          color: '#2ca02c',
          label: 'replicas (incl. starting)',
        },
        { values: pts.map((p) => p.readyReplicas), color: '#17becf', label: 'ready replicas' },
      ],
      'replicas',
      { yMax: scales.replicas },
    ),
  );
  yy += PLOT_HEIGHT + GAP;
  parts.push(
    plot(
      yy,
      xs,
      [
        {
          values: pts.map((p) => p.p95Ms),
          color: '#9467bd',
          label: 'p95 latency (ms, max per point)',
        },
      ],
      'p95 ms (log)',
      {
        log: true,
        hline: { value: options.sloP95Ms, label: `SLO ${options.sloP95Ms} ms` },
      },
    ),
  );
  yy += PLOT_HEIGHT + GAP;
  return parts.join('\n');
}

const PANEL_HEIGHT = 28 + 3 * (PLOT_HEIGHT + GAP) + 10;

/** A self-contained HTML page (inline SVG, no scripts, no external files) comparing policies on one trace. */
export function renderComparisonHtml(
  results: readonly SimulationResult[],
  options: ChartOptions,
): string {
  const headerHeight = 40 + (options.notes?.length ?? 0) * 16;
  let rate = 0;
  let replicas = 0;
  for (const r of results) {
    for (const p of r.points) {
      rate = Math.max(
        rate,
        p.requestRate,
        p.forecastRate ?? 0,
        p.readyReplicas * options.capacityPerReplica,
      );
      replicas = Math.max(replicas, p.replicas);
    }
  }
  const scales: Scales = { rate, replicas };
  const height = headerHeight + results.length * PANEL_HEIGHT;
  const svg: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="24" font-size="18" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  (options.notes ?? []).forEach((line, i) => {
    svg.push(
      `<text x="${LEFT}" y="${42 + i * 16}" font-size="12" fill="#444">${escapeXml(line)}</text>`,
    );
  });
  for (const [i, r] of results.entries())
    svg.push(panel(r, options, headerHeight + i * PANEL_HEIGHT, scales));
  svg.push('</svg>');
  const rows = results
    .map(
      (r) =>
        `<tr><td>${escapeXml(r.policy)}</td><td>${(r.overSloFraction * 100).toFixed(2)} %</td><td>${Math.round(r.replicaSeconds)}</td><td>${r.meanReplicas.toFixed(2)}</td><td>${r.scaleActions}</td><td>${Math.round(r.dropped)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(options.title)}</title>
<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}td:first-child{text-align:left}</style>
</head><body>
<table><tr><th>policy</th><th>time over SLO</th><th>replica-seconds</th><th>mean replicas</th><th>scale actions</th><th>dropped</th></tr>${rows}</table>
${svg.join('\n')}
</body></html>
`;
}
