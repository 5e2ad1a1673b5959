/**
 * A self-contained HTML report (no script, no CDN): per experiment, a summary
 * table (p50, p99, max per phase against the SLA) and, per repetition, a
 * timeline of the fault, detection, decision and recovery with the SLA lines.
 */
import type { ChaosJournal, ChaosRepetition } from '@coxswain/protocol';
import { formatMs } from './duration.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLORS: Record<string, string> = { detect: '#d97706', decide: '#2563eb', recover: '#16a34a' };

function timeline(rep: ChaosRepetition): string {
  const width = 760;
  const left = 20;
  const slas = rep.phases.flatMap((p) => (p.slaMs === null ? [] : [p.slaMs]));
  const points = [
    ...rep.phases.flatMap((p) => (p.ms === null ? [] : [p.ms])),
    ...slas,
    ...rep.timeline.map((m) => m.ms),
    1000,
  ];
  const span = Math.max(...points) * 1.1;
  const x = (ms: number) => left + (Math.max(0, ms) / span) * (width - 2 * left);
  const parts: string[] = [
    `<line x1="${left}" y1="60" x2="${width - left}" y2="60" stroke="#999"/>`,
  ];
  for (let t = 0; t <= span; t += niceStep(span)) {
    parts.push(
      `<line x1="${x(t)}" y1="57" x2="${x(t)}" y2="63" stroke="#999"/><text x="${x(t)}" y="76" font-size="10" text-anchor="middle">${esc(formatMs(t))}</text>`,
    );
  }
  parts.push(
    `<circle cx="${x(0)}" cy="60" r="5" fill="#dc2626"><title>fault: ${esc(rep.faults.join('; '))}</title></circle>`,
  );
  rep.phases.forEach((p, i) => {
    const color = COLORS[p.phase] ?? '#000';
    if (p.slaMs !== null)
      parts.push(
        `<line x1="${x(p.slaMs)}" y1="${14 + i * 12}" x2="${x(p.slaMs)}" y2="100" stroke="${color}" stroke-dasharray="4 3"><title>${p.phase} SLA ${formatMs(p.slaMs)}</title></line>`,
      );
    if (p.ms !== null)
      parts.push(
        `<rect x="${x(0)}" y="${14 + i * 12}" width="${Math.max(1, x(p.ms) - x(0))}" height="8" fill="${color}" opacity="0.8"><title>${p.phase} ${formatMs(p.ms)}: ${esc(p.source)}</title></rect>`,
      );
  });
  for (const m of rep.timeline)
    parts.push(
      `<circle cx="${x(m.ms)}" cy="92" r="3" fill="#555"><title>${esc(`${formatMs(m.ms)} ${m.kind}: ${m.label}`)}</title></circle>`,
    );
  return `<svg width="${width}" height="104" role="img" aria-label="timeline of repetition ${rep.index}">${parts.join('')}</svg>`;
}

function niceStep(span: number): number {
  const raw = span / 8;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw) || 1;
}

function experimentSection(j: ChaosJournal): string {
  const summary = j.coxswain.summary
    .map(
      (s) =>
        `<tr><td>${s.phase}</td><td>${s.count}</td><td>${formatMs(s.p50Ms)}</td><td>${formatMs(s.p99Ms)}</td><td>${formatMs(s.maxMs)}</td><td>${formatMs(s.slaMs)}</td></tr>`,
    )
    .join('');
  const reps = j.coxswain.repetitions
    .map((r) => {
      const phases = r.phases
        .map(
          (p) =>
            `<li><b style="color:${COLORS[p.phase]}">${p.phase}</b> ${formatMs(p.ms)} (SLA ${formatMs(p.slaMs)}) ${p.met ? '✓' : '✗'} — ${esc(p.source)}</li>`,
        )
        .join('');
      const events = r.timeline
        .map((m) => `<li>${esc(formatMs(m.ms))} <code>${esc(m.kind)}</code> ${esc(m.label)}</li>`)
        .join('');
      return `<div class="rep ${r.verdict}"><h3>Repetition ${r.index}: ${r.verdict}</h3><p>${esc(r.reason)}</p><p>faults: ${esc(r.faults.join('; ') || 'none')}${r.traceIds.length ? ` · traces: ${r.traceIds.map((t) => `<code>${t}</code>`).join(' ')}` : ''}</p>${timeline(r)}<ul>${phases}</ul><details><summary>timeline (${r.timeline.length})</summary><ul>${events}</ul></details></div>`;
    })
    .join('');
  return `<section><h2>${esc(j.experiment.title)} — ${j.status} (exit ${j.coxswain.exitCode})</h2><p>${esc(j.experiment.description)}</p><p><small>${esc(j.file)} · ${j.start} · ${j.duration.toFixed(1)} s · seed ${j.coxswain.seed}${j.coxswain.abortedBy ? ` · aborted by ${esc(j.coxswain.abortedBy)}` : ''}</small></p>${j.coxswain.refused.map((r) => `<p><strong>refused before the run:</strong> ${esc(r)}</p>`).join('')}<p>steady state before: ${j.steady_states.before === null ? '—' : j.steady_states.before.steady_state_met ? 'met' : 'NOT met'}, after: ${j.steady_states.after === null ? '—' : j.steady_states.after.steady_state_met ? 'met' : 'NOT met'}</p><table><tr><th>phase</th><th>n</th><th>p50</th><th>p99</th><th>max</th><th>SLA</th></tr>${summary}</table>${reps}</section>`;
}

export function renderReport(journals: readonly ChaosJournal[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>coxswain chaos report</title><style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:900px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
.rep{border-left:4px solid #16a34a;padding-left:1em;margin:1em 0}.rep.failed{border-color:#dc2626}.rep.aborted{border-color:#d97706}code{font-size:12px}
</style></head><body><h1>coxswain chaos report</h1><p>${journals.length} experiment(s): ${journals.filter((j) => j.status === 'completed').length} passed.</p>${journals.map(experimentSection).join('')}</body></html>\n`;
}
