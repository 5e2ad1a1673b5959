/** The header strip and the Cluster view: leader, term, indexes, voters' health, NATS, and the nodes. */
import { TimeChart } from './charts.js';
import { $, ago, bytes, DASH, esc, orDash, pill, setHtml, total } from './dom.js';
import { state } from './state.js';

export function renderHeader(): void {
  const c = state.cluster;
  const leader = c?.leader?.id;
  const el = $('leader');
  el.textContent = leader ?? 'no leader';
  el.dataset.leader = leader ?? '';
  el.className = leader ? 'leader-name' : 'leader-name none';
  $('term').textContent = orDash(c?.term);
  $('commit').textContent = orDash(c?.commitIndex);
  $('applied').textContent = orDash(c?.appliedIndex);
  $('cluster').textContent = c?.cluster ?? DASH;
  const ft = c?.healthParsed?.failureTolerance;
  const tol = $('tolerance');
  tol.textContent = ft === undefined ? DASH : String(ft);
  tol.className = ft === undefined ? 'dim' : ft === 0 ? 'bad' : 'ok';
  $('served').textContent = c?.meta.node ?? DASH;
  $('since').textContent =
    leader && state.leaderSeenAt ? `since ${ago(Date.now() - state.leaderSeenAt)}` : '';
  const dot = $('live');
  dot.className = `live ${state.stream}`;
  dot.title = `event stream: ${state.stream}`;
  $('live-text').textContent = state.stream === 'live' ? 'live' : state.stream;
  const errs = [...state.errors.values()];
  const banner = $('error');
  banner.style.display = errs.length ? 'block' : 'none';
  setHtml(banner, errs.map((e) => `<div>${esc(e)}</div>`).join(''));
}

let commitChart: TimeChart | undefined;

export function renderCluster(): void {
  const c = state.cluster;
  const health = c?.healthParsed;
  const voters = c?.members.filter((m) => m.voter) ?? [];
  const nats = health?.nats;
  setHtml(
    $('cluster-cards'),
    [
      card(
        'Leader',
        c?.leader?.id ?? 'none',
        c?.leader ? 'accent' : 'bad',
        c?.leader?.address ?? '',
      ),
      card('Term', orDash(c?.term), '', `role here: ${c?.role ?? DASH}`),
      card(
        'Commit / applied',
        `${orDash(c?.commitIndex)} <span class="dim">/ ${orDash(c?.appliedIndex)}</span>`,
        '',
        `served by ${c?.meta.node ?? DASH}`,
      ),
      card(
        'Failure tolerance',
        health ? String(health.failureTolerance) : DASH,
        health ? (health.failureTolerance === 0 ? 'bad' : 'ok') : 'dim',
        health
          ? `${health.healthyVoters} of ${health.voters.length} voters healthy, quorum ${health.quorum}`
          : `${voters.length} voters`,
      ),
      card(
        'NATS',
        nats ? (nats.connectedServer ? 'connected' : 'disconnected') : DASH,
        nats ? (nats.connectedServer ? 'ok' : 'bad') : 'dim',
        nats
          ? `${esc(nats.connectedServer ?? 'none')} · ${nats.knownServers.length} servers known`
          : '',
      ),
    ].join(''),
  );

  const byId = new Map(health?.voters.map((v) => [v.id, v]) ?? []);
  const rows = (c?.members ?? [])
    .map((m) => {
      const v = byId.get(m.id);
      const isLeader = c?.leader?.id === m.id;
      return `<tr data-member="${esc(m.id)}">
        <td><b>${esc(m.id)}</b>${isLeader ? ' <span class="crown" title="leader">★</span>' : ''}</td>
        <td>${pill(m.role ?? undefined)}</td>
        <td>${m.voter ? 'voter' : '<span class="dim">non-voter</span>'}</td>
        <td class="num">${v ? ago(v.lastContactMs) : DASH}</td>
        <td class="num">${orDash(v?.matchIndex)}</td>
        <td class="num">${lagCell(v?.lag)}</td>
        <td>${v ? pill(v.healthy ? 'healthy' : 'unhealthy', v.healthy ? 'ok' : 'bad') : DASH}</td>
        <td class="dim">${esc(m.address ?? '')}</td></tr>`;
    })
    .join('');
  setHtml($('voters'), rows || `<tr><td colspan="8" class="dim">no members yet</td></tr>`);

  commitChart ??= new TimeChart($('chart-commit'), {
    title: 'Raft log · entries committed per second',
    height: 150,
    series: [{ label: 'commits/s', color: '#5aa9e6', fill: 'rgba(90,169,230,0.15)' }],
  });
  const h = state.commitHistory;
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  for (let i = 1; i < h.length; i++) {
    const a = h[i - 1]!;
    const b = h[i]!;
    const dt = b.t - a.t;
    if (dt <= 0) continue;
    xs.push(b.t);
    ys.push(Math.max(0, (b.commit - a.commit) / dt));
  }
  commitChart.set([xs, ys]);
  renderNodes();
}

function lagCell(lag: number | null | undefined): string {
  if (lag === undefined || lag === null) return DASH;
  return `<span class="${lag === 0 ? 'ok' : lag < 50 ? 'warn' : 'bad'}">${lag}</span>`;
}

function card(title: string, value: string, tone: string, sub: string): string {
  return `<div class="card"><div class="card-title">${esc(title)}</div>
    <div class="card-value ${tone}">${value}</div><div class="card-sub">${sub}</div></div>`;
}

function renderNodes(): void {
  const leader = state.cluster?.leader?.id;
  const members = new Map(state.cluster?.members.map((m) => [m.id, m]) ?? []);
  const placedByNode = new Map<string, number>();
  for (const s of state.services)
    for (const [n, k] of Object.entries(s.placement))
      placedByNode.set(n, (placedByNode.get(n) ?? 0) + k);
  const html = state.nodes
    .map((n) => {
      const declared = n.record?.state ?? 'unregistered';
      const age = n.live.reportAgeMs;
      const stale = age === null || age === undefined || age > 5000;
      const cap = n.record?.capacity;
      const running = total(n.live.running);
      const placed = placedByNode.get(n.id) ?? 0;
      const max = Math.max(cap?.maxReplicas ?? 0, placed, running, 1);
      const svc = Object.entries(n.live.running)
        .filter(([, k]) => k > 0)
        .map(([s, k]) => `<span class="tag">${esc(s)} ×${k}</span>`)
        .join('');
      return `<div class="node ${declared === 'dead' ? 'is-dead' : ''} ${declared === 'removed' ? 'is-removed' : ''}" data-node="${esc(n.id)}">
        <div class="node-head"><span class="node-name">${esc(n.id)}</span>
          ${n.id === leader ? '<span class="pill accent">leader</span>' : pill(members.get(n.id)?.role ?? n.record?.role)}
          <span class="grow"></span>${pill(declared)}</div>
        <div class="node-grid">
          <div><span class="k">CPUs</span>${orDash(cap?.cpus)}</div>
          <div><span class="k">memory</span>${cap?.memoryBytes ? bytes(cap.memoryBytes) : DASH}</div>
          <div><span class="k">containers</span>${orDash(n.live.containers)}</div>
          <div><span class="k">report age</span><span class="${stale ? 'warn' : ''}">${ago(age)}</span></div>
          <div><span class="k">docker</span>${n.live.dockerReachable === false ? '<span class="bad">unreachable</span>' : n.live.dockerReachable ? '<span class="ok">ok</span>' : DASH}</div>
          <div><span class="k">replicas</span>${running} running / ${placed} placed</div>
        </div>
        <div class="meter" title="${running} running of ${placed} placed">${meter(running, placed, max)}</div>
        <div class="tags">${svc || '<span class="dim">no replicas</span>'}</div></div>`;
    })
    .join('');
  setHtml($('nodes'), html || '<div class="dim">no node has reported yet</div>');
}

function meter(running: number, placed: number, max: number): string {
  const cells: string[] = [];
  const n = Math.min(max, 24);
  for (let i = 0; i < n; i++)
    cells.push(
      `<i class="${i < Math.min(running, placed) ? 'on' : i < placed ? 'want' : i < running ? 'extra' : ''}"></i>`,
    );
  return cells.join('');
}
