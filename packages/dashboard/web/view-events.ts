/** Events, live from the SSE stream, and the chaos runs' timelines built from `chaos.*` events. */
import { $, clock, esc, setHtml } from './dom.js';
import { ChaosFaultData, ChaosVerdictData, type Event, optionalOf } from './schemas.js';
import { state } from './state.js';

const TONE: Record<string, string> = {
  'leader.elected': 'accent',
  'leader.stepped_down': 'warn',
  'node.dead': 'bad',
  'node.returned': 'ok',
  'node.joined': 'ok',
  'command.done': 'ok',
  'command.refused': 'bad',
  'container.died': 'bad',
  'container.restarted': 'ok',
  'chaos.fault': 'warn',
  'chaos.verdict': 'accent',
};

export function eventRow(e: Event): string {
  return `<div class="ev" data-type="${esc(e.type)}"><span class="ev-time">${clock(e.time)}</span>
    <span class="ev-type ${TONE[e.type] ?? 'dim'}">${esc(e.type)}</span><span class="ev-node">${esc(e.nodeId)}</span>
    <span class="ev-msg">${esc(e.message)}</span></div>`;
}

export function renderEvents(): void {
  const filter = ($('ev-filter') as HTMLInputElement).value.trim();
  const shown = state.events.filter(
    (e) => !filter || e.type.includes(filter) || e.message.includes(filter),
  );
  setHtml(
    $('events'),
    shown.slice(-300).reverse().map(eventRow).join('') ||
      '<div class="dim pad">no events yet</div>',
  );
  $('ev-count').textContent = `${shown.length} of ${state.events.length}`;
}

export function renderRecentEvents(): void {
  setHtml(
    $('recent-events'),
    state.events.slice(-8).reverse().map(eventRow).join('') ||
      '<div class="dim pad">waiting for events…</div>',
  );
}

interface Run {
  id: string;
  experiment: string;
  start: number;
  end: number;
  marks: { t: number; label: string; tone: string }[];
  verdict?: { ok: boolean; text: string };
}

export function renderChaos(): void {
  const runs = new Map<string, Run>();
  for (const e of state.events) {
    if (!e.type.startsWith('chaos.')) continue;
    const fault = e.type === 'chaos.fault' ? optionalOf(ChaosFaultData, e.data) : undefined;
    const verdict = e.type === 'chaos.verdict' ? optionalOf(ChaosVerdictData, e.data) : undefined;
    const id = fault?.runId ?? verdict?.runId ?? String(e.data.runId ?? 'unnamed run');
    let run = runs.get(id);
    if (!run) {
      run = {
        id,
        experiment: fault?.experiment ?? verdict?.experiment ?? String(e.data.experiment ?? ''),
        start: e.time,
        end: e.time,
        marks: [],
      };
      runs.set(id, run);
    }
    run.end = Math.max(run.end, e.time);
    if (verdict) {
      run.verdict = {
        ok: verdict.ok,
        text: `${verdict.ok ? 'met' : 'missed'} SLA${verdict.recoveredMs !== null ? ` · recovered in ${(verdict.recoveredMs / 1000).toFixed(2)} s` : ''}${verdict.slaMs !== null ? ` (SLA ${(verdict.slaMs / 1000).toFixed(1)} s)` : ''}`,
      };
      run.marks.push({
        t: e.time,
        label: verdict.summary ?? (verdict.ok ? 'pass' : 'fail'),
        tone: verdict.ok ? 'ok' : 'bad',
      });
    } else {
      const label = fault ? `${fault.phase}: ${fault.fault} → ${fault.target}` : e.message;
      const tone =
        fault?.phase === 'recovered' ? 'ok' : fault?.phase === 'injected' ? 'bad' : 'warn';
      run.marks.push({ t: e.time, label, tone });
    }
  }
  const html = [...runs.values()]
    .reverse()
    .map((r) => {
      const span = Math.max(1, r.end - r.start);
      return `<div class="run"><div class="run-head"><b>${esc(r.experiment || r.id)}</b> <span class="dim">${esc(r.id)} · ${clock(r.start)}</span>
        <span class="grow"></span>${r.verdict ? `<span class="pill ${r.verdict.ok ? 'ok' : 'bad'}">${esc(r.verdict.text)}</span>` : '<span class="pill dim">running</span>'}</div>
        <div class="timeline">${r.marks
          .map(
            (m) =>
              `<span class="mark ${m.tone}" style="left:${(((m.t - r.start) / span) * 96 + 2).toFixed(2)}%" title="${esc(`${clock(m.t)} ${m.label}`)}"></span>`,
          )
          .join('')}</div>
        <div class="run-marks">${r.marks.map((m) => `<div><span class="ev-time">+${((m.t - r.start) / 1000).toFixed(2)} s</span> <span class="${m.tone}">${esc(m.label)}</span></div>`).join('')}</div></div>`;
    })
    .join('');
  setHtml(
    $('chaos'),
    html ||
      '<div class="note">No chaos run seen yet. Runs appear here as they publish <code>chaos.fault</code> and <code>chaos.verdict</code> events (<code>coxswain chaos run …</code>).</div>',
  );
}
