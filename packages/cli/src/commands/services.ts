/**
 * `coxswain services [name]`: every declared service with its desired and
 * running replicas per node; with a name, one service in detail (spec
 * version, placement, lock, the latest figures per node, forecast, recent
 * commands).
 */
import { ServiceDetail, ServicesReply } from '@coxswain/protocol';
import type { Command } from 'commander';
import {
  type ApiFlags,
  clientFrom,
  consistentQuery,
  ms,
  printJson,
  renderMeta,
  renderTable,
  reportFailure,
  withApiOptions,
} from './status.js';

const perNode = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, n]) => `${node}=${n}`)
    .join(' ') || '-';

const sum = (counts: Readonly<Record<string, number>>): number =>
  Object.values(counts).reduce((a, b) => a + b, 0);

const num = (n: number | undefined, digits = 1): string =>
  n === undefined ? '-' : n.toFixed(digits);

export function renderServices(reply: ServicesReply): string {
  if (reply.services.length === 0) return `no services declared\n${renderMeta(reply.meta)}`;
  const rows = [['SERVICE', 'VERSION', 'RUNNING/DESIRED', 'PLACED', 'RUNNING', 'STATE']];
  for (const s of reply.services) {
    const state = [
      s.deleted ? 'deleted' : '',
      s.locked ? 'locked' : '',
      s.manualReplicas !== null ? `manual=${s.manualReplicas}` : '',
    ]
      .filter(Boolean)
      .join(',');
    rows.push([
      s.name,
      `v${s.specVersion}`,
      `${sum(s.running)}/${s.desiredReplicas}`,
      perNode(s.placement),
      perNode(s.running),
      state || 'ok',
    ]);
  }
  return `${renderTable(rows)}\n${renderMeta(reply.meta)}`;
}

export function renderServiceDetail(d: ServiceDetail): string {
  const r = d.record;
  const lines = [
    `service:  ${d.name} (spec v${r.specVersion}${r.deleted ? ', deleted' : ''})`,
    `image:    ${r.spec.image}`,
    `replicas: ${sum(d.running)} running / ${r.desiredReplicas} desired (min ${r.spec.minReplicas}, max ${r.spec.maxReplicas}${r.manualReplicas !== null ? `, pinned at ${r.manualReplicas}` : ''})`,
    `placed:   ${perNode(r.placement)} (token ${r.placementToken})`,
    `running:  ${perNode(d.running)}`,
    `lock:     ${d.lock ? `held by ${d.lock.holder}, term ${d.lock.term}, token ${d.lock.token}` : 'free'}`,
  ];
  if (r.reason) lines.push(`reason:   ${r.reason}`);
  if (d.forecast) lines.push(`forecast: ${num(d.forecast.predictedRequestRatePerSecond)} req/s`);
  const rows = [
    ['NODE', 'SAMPLES', 'CONTAINERS', 'CPU%', 'MEM%', 'IN B/s', 'OUT B/s', 'REQ/S', 'P95MS'],
  ];
  for (const [node, series] of Object.entries(d.figures).sort(([a], [b]) => a.localeCompare(b))) {
    const f = series.at(-1);
    if (!f) continue;
    rows.push([
      node,
      String(series.length),
      String(f.containerCount),
      num(f.cpuPercent),
      num(f.memoryPercent),
      num(f.ingressBytesPerSecond, 0),
      num(f.egressBytesPerSecond, 0),
      num(f.requestRatePerSecond),
      num(f.p95LatencyMs),
    ]);
  }
  lines.push('', `latest figures per node (window ${ms(d.windowMs)}):`);
  lines.push(rows.length > 1 ? renderTable(rows) : '  no reports in the window');
  if (d.recentCommands.length > 0) {
    lines.push('', 'recent commands:');
    const cmds = [['ID', 'NODE', 'ACTION', 'REPLICAS', 'TOKEN', 'STATUS']];
    for (const c of d.recentCommands.slice(0, 10)) {
      cmds.push([c.id, c.nodeId, c.action, String(c.replicas), String(c.token), c.status]);
    }
    lines.push(renderTable(cmds));
  }
  lines.push(renderMeta(d.meta));
  return lines.join('\n');
}

interface ServicesFlags extends ApiFlags {
  window?: string;
}

export function registerServicesCommand(program: Command): void {
  withApiOptions(
    program
      .command('services')
      .argument('[name]', 'one service in detail')
      .description('list services with replicas per node, or show one in detail')
      .option(
        '--window <duration>',
        'figure history to fetch for one service, e.g. 30s, 5m (default 5m)',
      ),
  ).action(async (name: string | undefined, flags: ServicesFlags) => {
    try {
      const client = clientFrom(flags);
      if (name) {
        const detail = await client.get(`/v1/services/${encodeURIComponent(name)}`, ServiceDetail, {
          ...consistentQuery(flags),
          window: flags.window,
        });
        if (flags.json) printJson(detail);
        else process.stdout.write(`${renderServiceDetail(detail)}\n`);
        return;
      }
      const reply = await client.get('/v1/services', ServicesReply, consistentQuery(flags));
      if (flags.json) printJson(reply);
      else process.stdout.write(`${renderServices(reply)}\n`);
    } catch (error) {
      reportFailure('services', error);
    }
  });
}
