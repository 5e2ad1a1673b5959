/**
 * `coxswain explain SERVICE`: why the service has the replicas it has now, in
 * plain words, from `GET /v1/services/{name}` (desired, running, pin) and the
 * leader's decision log (`GET /v1/services/{name}/decisions`): what the last
 * decision saw, what the policy asked for, which rule bound the count and how
 * the change ended.
 */
import type { DecisionRecord, ServiceDetail } from '@coxswain/protocol';
import type { Command } from 'commander';
import { adviseOn, loadAdvisorConfig } from './explain-advice.js';
import {
  type ApiFlags,
  clientFrom,
  consistentQuery,
  ms,
  printJson,
  reportFailure,
  withApiOptions,
} from './status.js';

const r1 = (n: number): string => String(Math.round(n * 10) / 10);

function inputsText(d: DecisionRecord): string {
  const i = d.inputs;
  const parts: string[] = [];
  if (i.cpuPercent !== undefined) parts.push(`CPU ${r1(i.cpuPercent)} %`);
  if (i.memoryPercent !== undefined) parts.push(`memory ${r1(i.memoryPercent)} %`);
  if (i.requestRatePerSecond !== undefined) parts.push(`${r1(i.requestRatePerSecond)} req/s`);
  if (i.p95LatencyMs !== undefined) parts.push(`p95 ${r1(i.p95LatencyMs)} ms`);
  const seen = parts.length > 0 ? parts.join(', ') : 'no figures yet';
  return `${seen} on ${i.replicas} replica${i.replicas === 1 ? '' : 's'} (${i.samples} sample${i.samples === 1 ? '' : 's'})`;
}

function changeText(d: DecisionRecord): string {
  if (d.desiredReplicas === d.currentReplicas) return `kept ${d.desiredReplicas}`;
  const verb = d.desiredReplicas > d.currentReplicas ? 'scale up' : 'scale down';
  return `${verb} from ${d.currentReplicas} to ${d.desiredReplicas}`;
}

function outcomeText(d: DecisionRecord): string {
  const o = d.outcome;
  const extra: string[] = [];
  if (o.token !== undefined) extra.push(`lock token ${o.token}`);
  if (o.commandIds.length > 0)
    extra.push(`${o.commandIds.length} command${o.commandIds.length === 1 ? '' : 's'}`);
  if (o.traceId) extra.push(`trace ${o.traceId}`);
  const words = {
    scaled: 'done',
    unchanged: 'nothing to change',
    refused: 'refused',
    failed: 'failed',
  }[o.status];
  return `${words}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}${o.error ? `: ${o.error}` : ''}`;
}

/** The explanation as lines of text. Pure: `nowMs` is the wall clock the ages are measured from. */
export function renderExplain(
  detail: ServiceDetail,
  decisions: readonly DecisionRecord[],
  nowMs: number,
): string {
  const rec = detail.record;
  const running = Object.values(detail.running).reduce((a, b) => a + b, 0);
  const perNode = Object.entries(detail.running)
    .filter(([, n]) => n > 0)
    .map(([node, n]) => `${node}: ${n}`)
    .join(', ');
  const lines = [
    `${detail.name} has ${rec.desiredReplicas} desired replica${rec.desiredReplicas === 1 ? '' : 's'}, ${running} running${perNode ? ` (${perNode})` : ''}.`,
  ];
  if (rec.deleted)
    lines.push('It is deleted: the leader scales it to 0 everywhere, then forgets it.');
  if (rec.manualReplicas !== null)
    lines.push(
      `It is pinned at ${rec.manualReplicas} by \`coxswain service scale\`: the policy is not asked until the pin is cleared or the spec is re-applied.`,
    );
  else
    lines.push(
      `Its policy is ${rec.spec.policy.name}, between ${rec.spec.minReplicas} and ${rec.spec.maxReplicas} replicas.`,
    );
  const last = decisions[0];
  if (!last) {
    lines.push(
      'The leader has made no decision about it since it began leading (it keeps the last decisions in memory).',
    );
    if (rec.reason) lines.push(`The count was last written with the reason: ${rec.reason}`);
    return lines.join('\n');
  }
  const age = ms(Math.max(0, nowMs - last.atEpochMs));
  lines.push(
    `The last decision, ${age} ago by ${last.leaderId} in term ${last.term}, was to ${changeText(last)}.`,
  );
  if (last.binding.rule === 'manual_pin') lines.push(`Why: ${last.binding.detail}.`);
  else {
    lines.push(`It saw ${inputsText(last)}.`);
    if (last.forecast) {
      const f = last.forecast;
      const lead = f.leadTimeSeconds !== undefined ? ` ${r1(f.leadTimeSeconds)} s ahead` : '';
      lines.push(`It forecast ${r1(f.predictedRequestRatePerSecond)} req/s${lead}.`);
    }
    lines.push(`The policy said: ${last.reason}`);
    lines.push(`The rule that bound the count: ${last.binding.rule} — ${last.binding.detail}.`);
  }
  lines.push(`Outcome: ${outcomeText(last)}.`);
  if (decisions.length > 1) {
    lines.push('', 'Earlier decisions:');
    for (const d of decisions.slice(1, 6))
      lines.push(
        `  ${new Date(d.atEpochMs).toISOString()}  ${changeText(d)}  [${d.binding.rule}]  ${d.outcome.status}`,
      );
  }
  return lines.join('\n');
}

export function registerExplainCommand(program: Command): void {
  withApiOptions(
    program
      .command('explain')
      .argument('<service>', 'the service to explain')
      .option('--limit <n>', 'decisions to read', '20')
      .option(
        '--config <file>',
        'a YAML/JSON file whose `advisor:` section configures the LLM advisor (off unless enabled)',
      )
      .description('say in plain words why a service has the replicas it has now'),
  ).action(async (service: string, flags: ApiFlags & { limit: string; config?: string }) => {
    try {
      const advisor = flags.config ? await loadAdvisorConfig(flags.config) : undefined;
      const client = clientFrom(flags);
      const limit = Math.max(1, Math.min(500, Number.parseInt(flags.limit, 10) || 20));
      const [detail, decisions] = await Promise.all([
        client.service(service, consistentQuery(flags)),
        client.decisions(service, limit),
      ]);
      const advice = advisor?.enabled
        ? await adviseOn(advisor, detail, decisions.decisions)
        : undefined;
      const applied = advice?.spec ? await client.applyService(advice.spec) : undefined;
      if (flags.json) {
        printJson({
          service: detail,
          decisions: decisions.decisions,
          ...(advice ? { advice: advice.advice ?? null, adviceNotes: advice.lines } : {}),
          ...(applied ? { applied } : {}),
        });
        return;
      }
      const text = [renderExplain(detail, decisions.decisions, Date.now())];
      if (advice) text.push('', ...advice.lines);
      if (applied)
        text.push(
          `  applied: ${service} is now at spec version ${applied.specVersion ?? '?'} (applied by ${applied.appliedBy})`,
        );
      process.stdout.write(`${text.join('\n')}\n`);
    } catch (error) {
      reportFailure('explain', error);
    }
  });
}
