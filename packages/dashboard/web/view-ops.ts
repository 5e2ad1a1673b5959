/** Commands and locks: the replicated command log and the held locks with their fencing tokens. */
import { $, ago, clock, esc, orDash, pill, setHtml } from './dom.js';
import { state } from './state.js';

export function renderOps(): void {
  const counts = new Map<string, number>();
  for (const c of state.commands) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  setHtml(
    $('cmd-summary'),
    `${state.commandsTotal ?? state.commands.length} in the log · ${[...counts].map(([s, n]) => `${pill(s)} ${n}`).join(' ')}`,
  );
  setHtml(
    $('commands'),
    state.commands
      .slice(0, 200)
      .map(
        (
          c,
        ) => `<tr><td>${clock(c.issuedAtEpochMs)}</td><td class="mono">${esc(c.id.slice(0, 18))}</td><td>${esc(c.service)}</td>
        <td>${esc(c.nodeId)}</td><td>${esc(c.action ?? '')}</td><td class="num">${orDash(c.replicas)}</td><td class="num">${orDash(c.running)}</td>
        <td class="num">${orDash(c.token)}</td><td class="num">${orDash(c.term)}</td><td>${pill(c.status)}</td>
        <td class="num">${c.finishedAtEpochMs && c.issuedAtEpochMs ? ago(c.finishedAtEpochMs - c.issuedAtEpochMs) : '—'}</td>
        <td class="wrap dim">${esc(c.error ?? c.reason ?? '')}</td></tr>`,
      )
      .join('') || '<tr><td colspan="12" class="dim">no commands yet</td></tr>',
  );
  setHtml(
    $('locks'),
    state.locks
      .map((l) => {
        const frac =
          l.leaseMs && l.remainingMs !== undefined
            ? Math.max(0, Math.min(1, l.remainingMs / l.leaseMs))
            : 0;
        return `<tr><td>${esc(l.service)}</td><td>${esc(l.holder ?? '')}</td><td class="num">${orDash(l.term)}</td><td class="num">${orDash(l.token)}</td>
        <td><span class="lease"><i style="width:${Math.round(frac * 100)}%"></i></span> ${ago(l.remainingMs)}</td>
        <td>${l.expired ? pill('expired', 'warn') : pill('held', 'accent')}</td></tr>`;
      })
      .join('') ||
      '<tr><td colspan="6" class="dim">no lock held: nothing is being changed right now</td></tr>',
  );
}
