/**
 * uPlot time charts in the page's dark theme: one `TimeChart` per panel,
 * created once and fed new columns on every poll (uPlot redraws in place, so
 * a live page does not flicker or leak canvases).
 */
import uPlot from 'uplot';

export interface SeriesDef {
  readonly label: string;
  readonly color: string;
  readonly width?: number;
  readonly dash?: number[];
  /** Fill under the line (area); a CSS colour with alpha. */
  readonly fill?: string;
  /** Draw as steps (replica counts). */
  readonly stepped?: boolean;
  readonly points?: boolean;
  readonly unit?: string;
}

export interface ChartDef {
  readonly title: string;
  readonly series: readonly SeriesDef[];
  readonly height?: number;
  /** Fill between two series, by index into `series` (upper, lower). */
  readonly band?: readonly [number, number];
  readonly yMin?: number;
  readonly stacked?: boolean;
}

const AXIS = {
  stroke: '#7d8a9c',
  grid: { stroke: 'rgba(125,138,156,0.12)', width: 1 },
  ticks: { show: false },
};

/** Columns: times in seconds, then one array per series (undefined/null = gap). */
export type Columns = [number[], ...(number | null | undefined)[][]];

export class TimeChart {
  readonly #el: HTMLElement;
  readonly #plot: uPlot;
  readonly #empty: HTMLElement;
  #points = 0;

  constructor(host: HTMLElement, def: ChartDef) {
    this.#el = host;
    host.classList.add('chart');
    host.innerHTML = `<div class="chart-title">${def.title}</div>`;
    this.#empty = document.createElement('div');
    this.#empty.className = 'chart-empty';
    this.#empty.textContent = 'no data yet';
    const unit = def.series[0]?.unit ?? '';
    const opts: uPlot.Options = {
      width: Math.max(200, host.clientWidth - 4),
      height: def.height ?? 180,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: {
        x: { time: true },
        y: {
          range: (_u, min, max) => {
            const lo = def.yMin ?? Math.min(0, min);
            const hi = max > lo ? max * 1.12 : lo + 1;
            return [lo, hi];
          },
        },
      },
      axes: [
        {
          ...AXIS,
          // Whole seconds at least: a young chart would otherwise label sub-second ticks alike.
          space: 80,
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
          values: (_u, ticks) => ticks.map((t) => clockTick(t)),
        },
        { ...AXIS, size: 48, values: (_u, ticks) => ticks.map((t) => `${short(t)}${unit}`) },
      ],
      series: [
        {},
        ...def.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.6,
          ...(s.dash ? { dash: s.dash } : {}),
          ...(s.fill ? { fill: s.fill } : {}),
          ...(s.stepped ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {}),
          points: { show: s.points ?? false, size: 4 },
          spanGaps: false,
          value: (_u: uPlot, v: number | null) =>
            v === null || v === undefined ? '—' : `${short(v)}${s.unit ?? ''}`,
        })),
      ],
      ...(def.band
        ? { bands: [{ series: [def.band[0] + 1, def.band[1] + 1], fill: 'rgba(233,179,65,0.16)' }] }
        : {}),
    };
    const empty: uPlot.AlignedData = [[], ...def.series.map(() => [])];
    this.#plot = new uPlot(opts, empty, host);
    host.appendChild(this.#empty);
    new ResizeObserver(() => {
      const w = Math.max(200, this.#el.clientWidth - 4);
      if (Math.abs(w - this.#plot.width) > 2)
        this.#plot.setSize({ width: w, height: this.#plot.height });
    }).observe(host);
  }

  /** Data points drawn (for the browser test: a chart "has data"). */
  get points(): number {
    return this.#points;
  }

  /** What the chart says while it has no data (why there is none, where known). */
  set emptyText(text: string) {
    this.#empty.textContent = text;
  }

  set(columns: Columns): void {
    const [xs, ...ys] = columns;
    let n = 0;
    for (const col of ys) for (const v of col) if (typeof v === 'number') n++;
    this.#points = n;
    this.#el.dataset.points = String(n);
    this.#empty.style.display = n > 0 ? 'none' : '';
    this.#plot.setData([
      xs,
      ...ys.map((c) => c.map((v) => (typeof v === 'number' ? v : null))),
    ] as uPlot.AlignedData);
  }
}

function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || Number.isInteger(v)) return `${Math.round(v)}`;
  return v.toFixed(1);
}

function clockTick(t: number): string {
  const d = new Date(t * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

/** A fixed palette: one colour per node, stable by order of first sight. */
const PALETTE = [
  '#5aa9e6',
  '#4fbf7a',
  '#c792ea',
  '#e0b341',
  '#f07178',
  '#89ddff',
  '#f78c6c',
  '#b5cea8',
];
const assigned = new Map<string, string>();
export function colorOf(key: string): string {
  let c = assigned.get(key);
  if (!c) {
    c = PALETTE[assigned.size % PALETTE.length]!;
    assigned.set(key, c);
  }
  return c;
}
