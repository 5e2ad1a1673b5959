/**
 * The Decisions view: why a service has the replicas it has. Each decision
 * shows its inputs, the forecast, the rule that bound the result and the
 * outcome (GET /v1/services/{name}/decisions). Where the agent does not serve
 * that route yet, the reasons the leader wrote on its commands stand in, and
 * the page says so.
 */
import { $, clock, DASH, esc, fixed, orDash, pill, setHtml } from './dom.js';
import type { Decision } from './schemas.js';
import { state } from './state.js';
import { renderServiceList } from './view-services.js';

const RULE_TEXT: Record<string, string> = {
  target: 'target',
  stabilisation: 'stabilisation window',
  clamp: 'clamp (min/max)',
  max_step: 'max step',
  manual_pin: 'manual pin',
};

export function renderDecisions(): void {
  renderServiceList($('dec-list'), 'decisions');
  const name = state.selectedService;
  const target = $('dec-body');
  if (!name) {
    setHtml(target, '<div class="dim pad">pick a service</div>');
    return;
  }
  if (state.decisions === null) {
    const cmds = (state.detail?.name === name ? state.detail.recentCommands : []).filter(
      (c) => c.reason,
    );
    setHtml(
      target,
      `<div class="note">This agent does not serve <code>GET /v1/services/${esc(name)}/decisions</code> yet, so the inputs, forecast and binding rule of each decision are not shown. The reasons the leader wrote on its commands:</div>
      ${
        cmds.length
          ? `<table><thead><tr><th>when</th><th>node</th><th>replicas</th><th>token</th><th>status</th><th>reason</th></tr></thead><tbody>${cmds
              .map(
                (
                  c,
                ) => `<tr><td>${clock(c.issuedAtEpochMs)}</td><td>${esc(c.nodeId)}</td><td class="num">${orDash(c.replicas)}</td>
          <td class="num">${orDash(c.token)}</td><td>${pill(c.status)}</td><td class="wrap">${esc(c.reason)}</td></tr>`,
              )
              .join('')}</tbody></table>`
          : '<div class="dim pad">no commands with a reason yet</div>'
      }`,
    );
    return;
  }
  const list = state.decisions ?? [];
  setHtml(
    target,
    list.length
      ? `<div class="decisions">${list.map(decisionCard).join('')}</div>`
      : `<div class="dim pad">${state.decisions === undefined ? 'loading…' : 'no decisions recorded for this service yet'}</div>`,
  );
}

function delta(d: Decision): string {
  const diff = d.desiredReplicas - d.currentReplicas;
  if (diff > 0) return `<span class="up">▲ ${d.currentReplicas} → ${d.desiredReplicas}</span>`;
  if (diff < 0) return `<span class="down">▼ ${d.currentReplicas} → ${d.desiredReplicas}</span>`;
  return `<span class="dim">= ${d.currentReplicas}</span>`;
}

function decisionCard(d: Decision): string {
  const i = d.inputs;
  const f = d.forecast;
  const b = d.binding;
  return `<article class="decision" data-decision="${esc(d.id)}" data-direction="${d.desiredReplicas > d.currentReplicas ? 'up' : d.desiredReplicas < d.currentReplicas ? 'down' : 'same'}">
    <header><span class="when">${clock(d.atEpochMs)}</span><span class="delta">${delta(d)}</span>
      <span class="rule rule-${esc(b.rule)}" title="the rule that bound the result">${esc(RULE_TEXT[b.rule] ?? b.rule)}</span>
      <span class="grow"></span>${pill(d.outcome.status)}
      <span class="dim">term ${d.term} · ${esc(d.leaderId)} · ${esc(d.policy)}</span></header>
    <div class="why">${esc(b.detail)}</div>
    <div class="dec-grid">
      <div><div class="k">inputs</div>
        <div>${i.replicas} replicas · ${i.samples} samples</div>
        <div>rate ${i.requestRatePerSecond === undefined ? DASH : `${fixed(i.requestRatePerSecond)} req/s`} · CPU ${orDash(i.cpuPercent === undefined ? undefined : fixed(i.cpuPercent), '%')}</div>
        <div>p95 ${orDash(i.p95LatencyMs === undefined ? undefined : fixed(i.p95LatencyMs), ' ms')} ${i.sloP95Ms ? `(SLO ${i.sloP95Ms} ms)` : ''}</div></div>
      <div><div class="k">forecast</div>${
        f
          ? `<div>${fixed(f.predictedRequestRatePerSecond)} req/s${f.lowerRequestRatePerSecond !== undefined && f.upperRequestRatePerSecond !== undefined ? ` <span class="dim">[${fixed(f.lowerRequestRatePerSecond)}, ${fixed(f.upperRequestRatePerSecond)}]${f.quantile ? ` p${Math.round(f.quantile * 100)}` : ''}</span>` : ''}</div>
             <div class="dim">${f.leadTimeSeconds !== undefined ? `lead time ${fixed(f.leadTimeSeconds)} s` : ''}${f.model ? ` · ${esc(f.model)}` : ''}</div>`
          : `<div class="dim">${DASH}</div>`
      }</div>
      <div><div class="k">result</div>
        <div>target asked <b>${d.recommendedReplicas}</b> → desired <b>${d.desiredReplicas}</b></div>
        <div class="dim">${b.limit !== undefined ? `limit ${b.limit}` : ''}${b.windowSeconds !== undefined ? ` · window ${b.windowSeconds} s` : ''}</div></div>
      <div><div class="k">outcome</div>
        <div>${d.outcome.token ? `token ${d.outcome.token} · ` : ''}${d.outcome.commandIds.length} commands</div>
        <div>${d.outcome.traceId ? `<a href="#trace/${esc(d.outcome.traceId)}">trace ${esc(d.outcome.traceId.slice(0, 8))}…</a>` : ''}${d.outcome.error ? ` <span class="bad">${esc(d.outcome.error)}</span>` : ''}</div></div>
    </div>
    <div class="reason">${esc(d.reason)}</div></article>`;
}
