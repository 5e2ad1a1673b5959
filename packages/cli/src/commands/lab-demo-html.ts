/**
 * The demo's report as one self-contained HTML file: the figures of the text report as tables,
 * and per service a uPlot chart of offered, measured and forecast load with the desired and
 * running replicas. uPlot's script and stylesheet are inlined, so the file opens from disk, on a
 * machine with no network, years later. Rendering is pure; loadUplotAssets reads the package.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DemoReport, DemoServiceReport } from '@coxswain/protocol';
import { InlineScriptError } from '../errors.js';

export interface UplotAssets {
  readonly script: string;
  readonly css: string;
}

/** uPlot's browser build (an IIFE defining `uPlot`) and its stylesheet, from the installed package. */
export function loadUplotAssets(): UplotAssets {
  const require = createRequire(import.meta.url);
  return {
    script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

/** `report.txt` → `report.html`, beside the text and the JSON. */
export function htmlPathOf(reportPath: string): string {
  return reportPath.endsWith('.txt') ? `${reportPath.slice(0, -4)}.html` : `${reportPath}.html`;
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/**
 * JSON placed inside a <script> element: `</script` or `<!--` in a reason string would end the
 * element early. JSON has `<` only inside strings, where its escape means the same.
 */
const jsonInScript = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/** Code is inlined as it is (escaping `<` would change operators), so it must not close its element. */
function codeInScript(code: string): string {
  if (/<\/script|<!--/i.test(code))
    throw new InlineScriptError(
      'an inlined script contains </script or <!--: it would end its element',
    );
  return code;
}

const f1 = (n: number | null): string => (n === null ? '—' : n.toFixed(1));
const ms = (n: number | null): string => (n === null ? '—' : `${Math.round(n)} ms`);

function row(cells: readonly string[], tag: 'td' | 'th' = 'td'): string {
  return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
}

function summarySection(r: DemoReport): string {
  const facts: [string, string][] = [
    ['outcome', escapeHtml(r.outcome)],
    ['started', escapeHtml(r.startedAt)],
    [
      'time',
      `setup ${r.setupSeconds.toFixed(0)} s, load ${r.loadSeconds.toFixed(0)} s, total ${r.totalSeconds.toFixed(0)} s`,
    ],
    [
      'trace',
      `${escapeHtml(r.trace.file)} from ${(r.trace.fromSeconds / 3600).toFixed(1)} h: ${(r.trace.traceSeconds / 3600).toFixed(1)} h replayed ${r.trace.speedup.toFixed(0)}× faster, peak ${r.trace.peakRps.toFixed(0)} req/s`,
    ],
    [
      'client (through nginx to order)',
      `sent ${r.load.sent}, ok ${r.load.ok}, errors ${r.load.errors}, dropped ${r.load.dropped}; p50 ${r.load.p50Ms.toFixed(1)} ms, p95 ${r.load.p95Ms.toFixed(1)} ms, p99 ${r.load.p99Ms.toFixed(1)} ms`,
    ],
    [
      'nginx',
      `${r.nginxReloads} reloads by the endpoints watcher${Object.entries(r.nginxErrors)
        .map(([k, n]) => `; ${escapeHtml(k)} ×${n}`)
        .join('')}`,
    ],
  ];
  return `<table class="facts">${facts.map(([k, v]) => row([k, v])).join('')}</table>`;
}

function servicesTable(services: readonly DemoServiceReport[]): string {
  const head = row(
    [
      'service',
      'requests',
      'ok %',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'SLO p95',
      'time over SLO',
      'replica-seconds',
      'replicas',
      'scale up / down',
    ],
    'th',
  );
  const body = services
    .map((s) =>
      row([
        escapeHtml(s.name),
        String(s.requests),
        s.okPercent.toFixed(2),
        f1(s.p50Ms),
        f1(s.p95Ms),
        f1(s.p99Ms),
        s.sloP95Ms === null ? '—' : `${s.sloP95Ms} ms`,
        `<span class="over-slo">${s.secondsOverSlo}</span> of ${s.secondsWithRequests} s`,
        `<span class="replica-seconds">${s.replicaSeconds}</span>`,
        `${s.minReplicas}..${s.maxReplicas}`,
        `${s.scaleUps} / ${s.scaleDowns}`,
      ]),
    )
    .join('');
  return `<table id="services" class="grid"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function chaosSection(r: DemoReport): string {
  const c = r.chaos;
  if (!c) return '<p id="chaos">The chaos experiment was not run.</p>';
  const phases = c.phases
    .map((p) =>
      row([
        escapeHtml(p.phase),
        `<span class="phase-ms" data-phase="${escapeHtml(p.phase)}">${ms(p.ms)}</span>`,
        p.slaMs === null ? '—' : `${p.slaMs} ms`,
        p.met ? 'met' : '<strong>missed</strong>',
      ]),
    )
    .join('');
  return `<div id="chaos">
<p><strong>${escapeHtml(c.experiment)}</strong> at ${c.atSeconds === null ? '—' : `${c.atSeconds.toFixed(0)} s`} into the load:
<span class="verdict verdict-${escapeHtml(c.verdict)}">${escapeHtml(c.verdict.toUpperCase())}</span> (${escapeHtml(c.status)})${c.reason ? ` — ${escapeHtml(c.reason)}` : ''}</p>
<p>killed ${escapeHtml(c.killedHost ?? '—')} (leader ${escapeHtml(c.leaderBefore ?? '—')}); new leader ${escapeHtml(c.leaderAfter ?? '—')}${c.journalFile ? `; journal ${escapeHtml(c.journalFile)}` : ''}</p>
<table class="grid"><thead>${row(['phase', 'took', 'SLA', ''], 'th')}</thead><tbody>${phases}</tbody></table>
</div>`;
}

function serviceSection(s: DemoServiceReport): string {
  const decisions =
    s.decisions.length === 0
      ? '<p>No scale decisions.</p>'
      : `<table class="grid decisions"><thead>${row(['at', 'replicas', 'reason'], 'th')}</thead><tbody>${s.decisions
          .map((d) =>
            row([`${d.atSeconds.toFixed(1)} s`, `${d.from} → ${d.to}`, escapeHtml(d.reason ?? '')]),
          )
          .join('')}</tbody></table>`;
  return `<section class="service">
<h2>${escapeHtml(s.name)}</h2>
<div class="chart" data-service="${escapeHtml(s.name)}"></div>
${decisions}
</section>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; padding: 0 16px; color: #1d2330; }
h1 { font-size: 20px; margin-bottom: 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
table { border-collapse: collapse; margin: 8px 0; }
.facts td:first-child { color: #5a6478; padding-right: 16px; vertical-align: top; }
.grid th, .grid td { border-bottom: 1px solid #dde1e8; padding: 4px 10px; text-align: right; }
.grid th:first-child, .grid td:first-child, .decisions th:last-child, .decisions td:last-child { text-align: left; }
.grid th { font-weight: 600; color: #5a6478; }
.verdict-passed { color: #1a7f37; font-weight: 600; }
.verdict-failed, .verdict-aborted { color: #c62828; font-weight: 600; }
.chart { min-height: 300px; }
.empty { color: #5a6478; padding: 20px 0; }
`;

/**
 * Draws every chart from the embedded report. Runs in the browser: plain ES2019, no imports;
 * `uPlot` is the global the inlined IIFE defines.
 */
const CHARTS = `
(function () {
  var report = JSON.parse(document.getElementById('report-data').textContent);
  var chaosAt = report.chaos && report.chaos.atSeconds;
  function chaosMarker(u) {
    if (chaosAt === null || chaosAt === undefined) return;
    var x = Math.round(u.valToPos(chaosAt, 'x', true));
    var ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = '#c62828';
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.fillStyle = '#c62828';
    ctx.font = Math.round(11 * devicePixelRatio) + 'px system-ui';
    ctx.fillText(' leader host killed', x, u.bbox.top + 12 * devicePixelRatio);
    ctx.restore();
  }
  var nodes = document.querySelectorAll('.chart');
  for (var i = 0; i < nodes.length; i++) {
    var el = nodes[i];
    var svc = report.services.filter(function (s) { return s.name === el.dataset.service; })[0];
    var points = svc ? svc.series : [];
    el.dataset.points = String(points.length);
    if (points.length < 2) {
      el.className += ' empty';
      el.textContent = 'Too few samples to chart.';
      continue;
    }
    var col = function (k) { return points.map(function (p) { return p[k]; }); };
    var data = [col('atSeconds'), col('offeredRps'), col('measuredRps'), col('forecastRps'), col('desired'), col('running')];
    var replicas = { scale: 'replicas', width: 2, paths: uPlot.paths.stepped({ align: 1 }) };
    new uPlot({
      width: Math.max(320, Math.min(960, el.clientWidth || 960)),
      height: 300,
      scales: { x: { time: false }, replicas: { range: function (u, lo, hi) { return [0, Math.max(2, hi + 1)]; } } },
      axes: [
        { label: 'seconds into the load' },
        { label: 'req/s' },
        { scale: 'replicas', side: 1, label: 'replicas', grid: { show: false }, incrs: [1, 2, 5, 10, 20, 50] },
      ],
      series: [
        { label: 's' },
        { label: 'offered (nginx)', stroke: '#1f6feb', width: 1.5 },
        { label: 'measured (agents)', stroke: '#8250df', width: 1.5, spanGaps: true },
        { label: 'forecast', stroke: '#bf8700', width: 1.5, dash: [6, 4], spanGaps: true },
        Object.assign({ label: 'desired', stroke: '#1a7f37' }, replicas),
        Object.assign({ label: 'running', stroke: '#57606a', dash: [2, 2] }, replicas),
      ],
      hooks: { draw: [chaosMarker] },
    }, data, el);
  }
  document.body.dataset.charts = 'drawn';
})();
`;

/** The whole page; `assets` are inlined as they are. */
export function renderDemoReportHtml(r: DemoReport, assets: UplotAssets): string {
  const title = `coxswain demo report (${r.startedAt})`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${assets.css}</style>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${summarySection(r)}
<h2>Services</h2>
${servicesTable(r.services)}
<h2>Chaos</h2>
${chaosSection(r)}
${r.services.map(serviceSection).join('\n')}
<h2>Cleanup</h2>
<p id="cleanup">${
    r.cleanup.leftRunning.length === 0
      ? `Nothing left running (${r.cleanup.pids.length} processes and ${r.cleanup.netns.length} namespaces checked).`
      : `Still running: ${escapeHtml(r.cleanup.leftRunning.join(', '))}`
  }</p>
<script type="application/json" id="report-data">${jsonInScript(r)}</script>
<script>${codeInScript(assets.script)}</script>
<script>${CHARTS}</script>
</body>
</html>
`;
}
