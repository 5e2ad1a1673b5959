/**
 * Probes: each asks the cluster (from outside: API, HTTP, Prometheus, a
 * command) one question and returns a value, checked against its tolerance or,
 * without one, its own default check.
 */
import { spawn } from 'node:child_process';
import type { AgentOperationsReply, ChaosProbe, CommandRecord } from '@coxswain/protocol';
import { percentile } from './duration.js';
import type { ChaosEnv, ChaosHost } from './target.js';
import { meetsTolerance } from './tolerance.js';

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly value: unknown;
  readonly detail: string;
  /** The p95 latency the probe measured, when it measures one (http). */
  readonly p95Ms?: number;
}

export interface ProbeContext {
  readonly env: ChaosEnv;
  /** Hosts no fault has taken down: where the API is worth asking. */
  readonly liveHosts: () => readonly ChaosHost[];
  /** The leader's term when the repetition began; a later leader must not be of a lower one. */
  readonly baselineTerm: number | undefined;
}

/** The first live host whose API answers `ask`. */
async function firstAnswer<T>(
  ctx: ProbeContext,
  ask: (url: string) => Promise<T>,
): Promise<{ value: T; host: string }> {
  const errors: string[] = [];
  for (const h of ctx.liveHosts()) {
    try {
      return { value: await ask(h.apiUrl), host: h.name };
    } catch (error) {
      errors.push(`${h.name}: ${(error as Error).message}`);
    }
  }
  throw new Error(`no live host answered (${errors.join('; ') || 'no live host'})`);
}

async function replicas(
  ctx: ProbeContext,
  service: string,
  mode: 'placed' | 'total',
): Promise<ProbeOutcome> {
  const { value, host } = await firstAnswer(ctx, (url) => ctx.env.api.services(url));
  const svc = value.services.find((s) => s.name === service && !s.deleted);
  if (!svc) return { ok: false, value: null, detail: `${host} knows no service ${service}` };
  const running = Object.values(svc.running).reduce((a, b) => a + b, 0);
  // Replicas running where the cluster placed them: a dead node's orphans (its agent gone, its
  // containers still up, as static stability wants) count in `running` but not here.
  const placed = Object.entries(svc.placement).reduce(
    (a, [node, want]) => a + Math.min(want, svc.running[node] ?? 0),
    0,
  );
  const desired = svc.desiredReplicas;
  const counted = mode === 'placed' ? placed : running;
  return {
    ok: desired > 0 && counted === desired,
    value: { running, placed, desired },
    detail: `${service} ${counted}/${desired} running${mode === 'placed' ? ` where placed (${running} in all)` : ''} (per ${host})`,
  };
}

async function leader(ctx: ProbeContext): Promise<ProbeOutcome> {
  const voters = ctx.liveHosts().filter((h) => h.voter);
  const views = await Promise.all(
    voters.map((h) =>
      ctx.env.api.cluster(h.apiUrl).then(
        (c) => ({ host: h.name, leader: c.leader?.id ?? null, term: c.term }),
        () => ({ host: h.name, leader: null, term: -1 }),
      ),
    ),
  );
  const leaders = new Set(views.map((v) => v.leader));
  const terms = new Set(views.map((v) => v.term));
  const the = views[0];
  const agreed = views.length > 0 && leaders.size === 1 && terms.size === 1 && the?.leader !== null;
  const live = ctx.liveHosts().some((h) => h.name === the?.leader);
  const termOk = ctx.baselineTerm === undefined || (the?.term ?? -1) >= ctx.baselineTerm;
  const value = {
    leader: agreed ? the!.leader : null,
    term: agreed ? the!.term : null,
    agreed,
    views,
  };
  return {
    ok: agreed && live && termOk,
    value,
    detail: agreed
      ? `leader ${the!.leader} term ${the!.term}${live ? '' : ' (not live)'}${termOk ? '' : ` (< ${ctx.baselineTerm})`}`
      : `no agreed leader: ${views.map((v) => `${v.host}→${v.leader ?? '-'}@${v.term}`).join(' ')}`,
  };
}

async function http(
  ctx: ProbeContext,
  p: Extract<ChaosProbe, { type: 'http' }>,
): Promise<ProbeOutcome> {
  const urls = p.url.includes('{host}')
    ? ctx.liveHosts().map((h) => p.url.replaceAll('{host}', h.address))
    : [p.url];
  const latencies: number[] = [];
  const bad: string[] = [];
  for (let i = 0; i < p.samples; i++) {
    const url = urls[i % urls.length]!;
    const t0 = performance.now();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(p.timeoutMs) });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== p.status) bad.push(`${url} → ${res.status}`);
    } catch (error) {
      latencies.push(performance.now() - t0);
      bad.push(`${url} → ${(error as Error).message}`);
    }
  }
  const p95 = percentile(latencies, 95) ?? 0;
  const slow = p.p95Ms !== undefined && p95 > p.p95Ms;
  return {
    ok: bad.length === 0 && !slow,
    value: {
      status: bad.length === 0 ? p.status : 'error',
      p95Ms: Math.round(p95 * 10) / 10,
      failures: bad.length,
    },
    detail: `${bad.length}/${p.samples} failed${bad[0] ? ` (${bad[0]})` : ''}, p95 ${p95.toFixed(1)} ms`,
    p95Ms: p95,
  };
}

/**
 * Overlapping operations on one service in the replicated command log. One
 * operation (one lock, one fencing token) may send a command to several nodes
 * at once; two operations with different tokens must never run at the same time.
 * Times are the replicated logical clock, the same for every leader.
 */
export function fencingOverlaps(commands: readonly CommandRecord[], service?: string): string[] {
  const ops = new Map<string, { service: string; token: number; start: number; end: number }>();
  for (const c of commands) {
    if (service !== undefined && c.service !== service) continue;
    const key = `${c.service}#${c.token}`;
    const end = c.finishedAtMs ?? c.issuedAtMs;
    const op = ops.get(key);
    if (op) {
      op.start = Math.min(op.start, c.issuedAtMs);
      op.end = Math.max(op.end, end);
    } else ops.set(key, { service: c.service, token: c.token, start: c.issuedAtMs, end });
  }
  const list = [...ops.values()].sort((a, b) => a.start - b.start);
  const found: string[] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i]!;
      const b = list[j]!;
      if (a.service !== b.service) continue;
      if (b.start < a.end)
        found.push(
          `${a.service}: token ${a.token} [${a.start}, ${a.end}] overlaps token ${b.token} [${b.start}, ${b.end}]`,
        );
    }
  }
  return found;
}

/**
 * The agents' half of the audit, from each agent's own operation log (oldest
 * first): an agent that acted on a token below one it had already acted on for
 * the same service let a superseded holder through.
 */
export function agentFencingViolations(
  agents: readonly AgentOperationsReply[],
  service?: string,
): string[] {
  const found: string[] = [];
  for (const agent of agents) {
    const highest = new Map<string, number>();
    for (const op of agent.operations) {
      if (service !== undefined && op.service !== service) continue;
      if (op.outcome === 'refused') continue;
      const before = highest.get(op.service) ?? 0;
      if (op.token < before)
        found.push(
          `${agent.node}: ${op.service} acted on token ${op.token} after token ${before} (${op.id})`,
        );
      else highest.set(op.service, op.token);
    }
  }
  return found;
}

/**
 * Commands the leader recorded as failed that an agent nevertheless started
 * after that record: the promise is that "failed" can no longer start work.
 */
export function lateExecutions(
  commands: readonly CommandRecord[],
  agents: readonly AgentOperationsReply[],
  service?: string,
): string[] {
  const failedAt = new Map<string, number>();
  for (const c of commands) {
    if (service !== undefined && c.service !== service) continue;
    if (c.status === 'failed' && c.finishedAtEpochMs !== undefined)
      failedAt.set(c.id, c.finishedAtEpochMs);
  }
  const found: string[] = [];
  for (const agent of agents)
    for (const op of agent.operations) {
      const at = failedAt.get(op.id);
      if (at !== undefined && op.outcome !== 'refused' && op.startedAtEpochMs > at)
        found.push(
          `${agent.node}: ${op.id} started ${op.startedAtEpochMs - at} ms after the leader recorded it failed`,
        );
    }
  return found;
}

async function fencing(ctx: ProbeContext, service: string | undefined): Promise<ProbeOutcome> {
  const { value, host } = await firstAnswer(ctx, (url) => ctx.env.api.commands(url, 1000));
  const overlaps = fencingOverlaps(value.commands, service);
  // Every live agent's own log; one that does not answer is left out (and said so).
  const asked = await Promise.all(
    ctx.liveHosts().map(async (h) => {
      try {
        return await ctx.env.api.agentOperations(h.apiUrl);
      } catch {
        return h.name;
      }
    }),
  );
  const agents = asked.filter((a): a is AgentOperationsReply => typeof a !== 'string');
  const silent = asked.filter((a): a is string => typeof a === 'string');
  const agentSide = agentFencingViolations(agents, service);
  const late = lateExecutions(value.commands, agents, service);
  const problems = [...overlaps, ...agentSide, ...late];
  return {
    ok: problems.length === 0,
    value: {
      overlaps: overlaps.length,
      commands: value.commands.length,
      agentViolations: agentSide.length,
      lateExecutions: late.length,
      agents: agents.length,
    },
    detail:
      problems.length === 0
        ? `${value.commands.length} commands, no overlap (per ${host}); ${agents.length} agents' logs: no lower token acted on, no failed command started late${silent.length > 0 ? ` (no answer from ${silent.join(', ')})` : ''}`
        : problems.slice(0, 3).join('; '),
  };
}

async function prometheus(url: string, query: string): Promise<ProbeOutcome> {
  const res = await fetch(
    `${url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`,
    {
      signal: AbortSignal.timeout(3000),
    },
  );
  const body = (await res.json()) as {
    status?: string;
    data?: { result?: { value?: [number, string] }[] };
  };
  const raw = body.data?.result?.[0]?.value?.[1];
  const value = raw === undefined ? null : Number(raw);
  return { ok: body.status === 'success' && value !== null, value, detail: `${query} = ${value}` };
}

export function runCommand(
  command: readonly string[],
  timeoutMs: number,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = command;
    const child = spawn(program!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 64_000) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 64_000) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ exitCode: null, stdout, stderr: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout, stderr });
    });
  });
}

async function evaluate(p: ChaosProbe, ctx: ProbeContext): Promise<ProbeOutcome> {
  switch (p.type) {
    case 'replicas':
      return replicas(ctx, p.service, p.count);
    case 'leader':
      return leader(ctx);
    case 'http':
      return http(ctx, p);
    case 'fencing-audit':
      return fencing(ctx, p.service);
    case 'prometheus':
      return prometheus(p.url, p.query);
    case 'command': {
      const r = await runCommand(p.command, p.timeoutMs);
      return {
        ok: r.exitCode === 0,
        value: { exitCode: r.exitCode, stdout: r.stdout.trim() },
        detail: `exit ${r.exitCode}${r.stderr ? `: ${r.stderr.trim().slice(0, 200)}` : ''}`,
      };
    }
  }
}

/** Runs a probe; a probe that throws has failed, with the error as its detail. */
export async function runProbe(p: ChaosProbe, ctx: ProbeContext): Promise<ProbeOutcome> {
  let out: ProbeOutcome;
  try {
    out = await evaluate(p, ctx);
  } catch (error) {
    return { ok: false, value: null, detail: (error as Error).message.slice(0, 500) };
  }
  if (p.tolerance === undefined) return out;
  const t = meetsTolerance(out.value, p.tolerance);
  return { ...out, ok: t.met, detail: `${out.detail}; tolerance: ${t.why}` };
}

/** Every probe with its parameters, for `coxswain chaos list`. */
export const PROBE_CATALOGUE: readonly {
  type: ChaosProbe['type'];
  params: string;
  about: string;
}[] = [
  {
    type: 'replicas',
    params: 'service',
    about: "a service's running replicas equal its desired count (value {running, desired})",
  },
  {
    type: 'leader',
    params: '',
    about:
      'exactly one leader, agreed by every live voter, term not lower than at the start (value {leader, term, agreed})',
  },
  {
    type: 'http',
    params: 'url ({host} → each live host), status=200, samples=5, p95Ms?, timeoutMs=2000',
    about: 'HTTP status and p95 latency (value {status, p95Ms, failures})',
  },
  {
    type: 'fencing-audit',
    params: 'service?',
    about:
      'no two operations (fencing tokens) on one service overlap in the replicated command log; no agent acted on a token below one it had acted on; no command the leader recorded failed started afterwards (value {overlaps, commands, agentViolations, lateExecutions, agents})',
  },
  {
    type: 'prometheus',
    params: 'url, query',
    about: 'a Prometheus instant query; value is the first sample (use a tolerance)',
  },
  {
    type: 'command',
    params: 'command[], timeoutMs=10000',
    about: "a command's exit code and output (value {exitCode, stdout})",
  },
];
