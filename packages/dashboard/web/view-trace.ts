/**
 * Trace: the recent decision traces this agent kept (GET /v1/traces), and
 * one of them as a waterfall, one row per span, coloured by the process
 * (node) that recorded it.
 */
import { colorOf } from './charts.js';
import { $, clock, esc, setHtml } from './dom.js';
import type { Span } from './schemas.js';
import { state } from './state.js';

interface Trace {
  id: string;
  root: Span;
  spans: Span[];
  start: number;
  end: number;
}

export function traces(): Trace[] {
  const by = new Map<string, Span[]>();
  for (const s of state.spans) {
    const l = by.get(s.traceId) ?? [];
    by.set(s.traceId, l);
    l.push(s);
  }
  const out: Trace[] = [];
  for (const [id, spans] of by) {
    const ids = new Set(spans.map((s) => s.spanId));
    const root = spans.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId)) ?? spans[0]!;
    out.push({
      id,
      root,
      spans,
      start: Math.min(...spans.map((s) => s.startMs)),
      end: Math.max(...spans.map((s) => s.endMs)),
    });
  }
  return out.sort((a, b) => b.start - a.start);
}

/** Decisions, commands, executions and elections; an agent's periodic sample-and-report alone is not worth a row. */
const DECISION_PATH =
  /^coxswain\.(decide|scale_operation|command|lock|raft|election|execute|docker)/;
const interesting = (t: Trace): boolean => t.spans.some((s) => DECISION_PATH.test(s.name));

export function renderTrace(): void {
  const all = traces();
  const list = all.filter(interesting);
  const shown = list.length ? list : all;
  const sel = state.selectedTrace ?? shown[0]?.id;
  setHtml(
    $('trace-list'),
    shown
      .slice(0, 30)
      .map((t) => {
        const svc = t.spans.find((s) => typeof s.attributes['coxswain.service'] === 'string')
          ?.attributes['coxswain.service'];
        const nodes = new Set(t.spans.map((s) => s.resource.node ?? s.resource.service));
        return `<a class="trace-item ${t.id === sel ? 'sel' : ''}" href="#trace/${t.id}" data-trace="${t.id}">
          <span class="mono">${clock(t.start)}</span> <b>${esc(t.root.name.replace('coxswain.', ''))}</b> ${svc ? esc(svc) : ''}
          <span class="dim">${t.spans.length} spans · ${nodes.size} proc · ${(t.end - t.start).toFixed(1)} ms</span></a>`;
      })
      .join('') || '<div class="dim pad">no traces kept on this agent yet</div>',
  );
  const t = all.find((x) => x.id === sel);
  setHtml($('waterfall'), t ? waterfall(t) : '<div class="dim pad">pick a trace</div>');
}

/** The duration label after the bar, or before it when the bar ends near the right edge. */
function durationPosition(left: number, width: number): string {
  return left + width > 80
    ? `right:${(100 - left).toFixed(2)}%;margin-right:6px`
    : `left:${(left + width).toFixed(2)}%;margin-left:6px`;
}

function waterfall(t: Trace): string {
  const children = new Map<string, Span[]>();
  const ids = new Set(t.spans.map((s) => s.spanId));
  const roots: Span[] = [];
  for (const s of t.spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const l = children.get(s.parentSpanId) ?? [];
      l.push(s);
      children.set(s.parentSpanId, l);
    } else roots.push(s);
  }
  const rows: { s: Span; depth: number }[] = [];
  const walk = (s: Span, depth: number): void => {
    rows.push({ s, depth });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startMs - b.startMs))
      walk(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.startMs - b.startMs)) walk(r, 0);
  const span = Math.max(0.001, t.end - t.start);
  const procs = [...new Set(t.spans.map((s) => s.resource.node ?? s.resource.service))];
  const legend = procs
    .map(
      (p) => `<span><span class="swatch" style="background:${colorOf(p)}"></span>${esc(p)}</span>`,
    )
    .join('');
  const body = rows
    .map(({ s, depth }) => {
      const left = ((s.startMs - t.start) / span) * 100;
      const width = Math.max(0.4, (s.durationMs / span) * 100);
      const proc = s.resource.node ?? s.resource.service;
      const attrs = Object.entries(s.attributes)
        .map(
          ([k, v]) =>
            `${k.replace('coxswain.', '')}=${typeof v === 'string' ? v : JSON.stringify(v)}`,
        )
        .join('  ');
      return `<div class="wf-row" title="${esc(attrs)}"><div class="wf-name" style="padding-left:${depth * 14 + 6}px">
        <span class="swatch" style="background:${colorOf(proc)}"></span>${esc(s.name.replace('coxswain.', ''))}<span class="dim"> ${esc(proc)}</span></div>
        <div class="wf-track"><div class="wf-bar ${s.status.code === 'error' ? 'err' : ''}" style="left:${left.toFixed(3)}%;width:${width.toFixed(3)}%;background:${colorOf(proc)}"></div>
        <span class="wf-dur" style="${durationPosition(left, width)}">${s.durationMs.toFixed(2)} ms</span></div></div>`;
    })
    .join('');
  return `<div class="wf-head"><b>${esc(t.root.name)}</b> <span class="dim mono">${t.id}</span> · ${(t.end - t.start).toFixed(2)} ms · ${t.spans.length} spans
    <div class="legend">${legend}</div></div>${body}`;
}
