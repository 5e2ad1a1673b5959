/**
 * `coxswain traces` against real agent HTTP servers (port 0): one serves the
 * spans a real telemetry ring recorded in this process (the "leader"), the
 * other the spans of the agent that executed the command, so the merged tree
 * crosses nodes as a decision's trace does.
 */
import { HttpServer, json } from '@coxswain/agent';
import {
  recentSpansResponse,
  type SpanRecord,
  startTelemetry,
  type Telemetry,
  withSpan,
} from '@coxswain/telemetry';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCommands } from '../src/commands/index.js';
import { mergeSpans, renderTraces } from '../src/commands/traces.js';

let telemetry: Telemetry;
let leader: HttpServer;
let agent: HttpServer;
let leaderUrl: string;
let agentUrl: string;
let traceId = '';
let commandSpanId = '';
const agentSpans: SpanRecord[] = [];

beforeAll(async () => {
  telemetry = await startTelemetry({
    serviceName: 'coxswain-agent',
    cluster: 'c',
    nodeId: 'n1',
    host: 'h1',
    env: {},
  });
  await withSpan(telemetry.tracer, 'coxswain.scale_operation', { 'coxswain.service': 'web' }, () =>
    withSpan(
      telemetry.tracer,
      'coxswain.command',
      { 'coxswain.service': 'web', 'coxswain.target_node': 'n2', 'coxswain.replicas': 3 },
      async (span) => {
        traceId = span.spanContext().traceId;
        commandSpanId = span.spanContext().spanId;
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
    ),
  );
  telemetry.tracer.startSpan('unrelated').end();
  const now = Date.now();
  agentSpans.push({
    traceId,
    spanId: 'a1a1a1a1a1a1a1a1',
    parentSpanId: commandSpanId,
    name: 'coxswain.execute',
    kind: 'server',
    startMs: now,
    endMs: now + 120,
    durationMs: 120,
    attributes: { 'coxswain.service': 'web' },
    status: { code: 'unset' },
    events: [],
    resource: { service: 'coxswain-agent', node: 'n2' },
  });
  leader = new HttpServer({ host: '127.0.0.1', port: 0 });
  leader.router.add('GET', '/v1/traces', (ctx) => {
    const out = recentSpansResponse(telemetry, ctx.query);
    return json(out.body, out.status);
  });
  agent = new HttpServer({ host: '127.0.0.1', port: 0 });
  agent.router.add('GET', '/v1/traces', () => json({ spans: agentSpans }));
  leaderUrl = `http://127.0.0.1:${await leader.listen()}`;
  agentUrl = `http://127.0.0.1:${await agent.listen()}`;
});

afterAll(async () => {
  await leader?.close();
  await agent?.close();
  await telemetry?.shutdown();
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function run(...args: string[]): Promise<{ out: string; err: string; code: unknown }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('coxswain').exitOverride();
  registerCommands(program);
  await program.parseAsync(['node', 'coxswain', ...args]);
  const code = process.exitCode;
  vi.restoreAllMocks();
  return { out, err, code };
}

describe('coxswain traces', () => {
  it("merges agents' spans into one tree per trace, with durations and nodes", async () => {
    const { out, code } = await run('traces', '--api', leaderUrl, '--api', agentUrl);
    expect(code).toBeUndefined();
    const block = out.split('\n\n').find((b) => b.startsWith(`trace ${traceId}`))!;
    const lines = block.split('\n');
    expect(lines[0]).toMatch(/3 spans {2}nodes: n1, n2$/);
    expect(lines[1]).toMatch(
      /^ {2}coxswain\.scale_operation {2}[\d.]+ms {2}\[n1\] {2}\+0\.00ms {2}service=web$/,
    );
    expect(lines[2]).toMatch(
      /^ {4}coxswain\.command {2}[\d.]+ms {2}\[n1\] .*service=web target_node=n2 replicas=3$/,
    );
    expect(lines[3]).toMatch(/^ {6}coxswain\.execute {2}120ms {2}\[n2\]/);
    // The unrelated span is a trace of its own.
    expect(out.match(/^trace /gm)).toHaveLength(2);
  });

  it('--trace-id reaches every agent; --json prints the merged spans', async () => {
    const { out } = await run(
      'traces',
      '--api',
      leaderUrl,
      '--api',
      agentUrl,
      '--trace-id',
      traceId,
      '--json',
    );
    const spans = (JSON.parse(out) as { spans: SpanRecord[] }).spans;
    expect(spans.map((s) => s.name)).toEqual([
      'coxswain.scale_operation',
      'coxswain.command',
      'coxswain.execute',
    ]);
  });

  it('a span whose parent no agent was asked for is a marked root', async () => {
    const { out } = await run('traces', '--api', agentUrl);
    expect(out).toMatch(/^ {2}↖ coxswain\.execute {2}120ms {2}\[n2\]/m);
  });

  it('a bad trace id is refused by the agent and named; exit code 2', async () => {
    const { err, code } = await run('traces', '--api', leaderUrl, '--trace-id', 'nope');
    expect(code).toBe(2);
    expect(err).toMatch(/coxswain traces: 400/);
    expect(err).toMatch(/traceId/);
  });

  it('renders nothing as "no spans" and keeps one copy of a span served twice', () => {
    expect(renderTraces([])).toBe('no spans');
    expect(mergeSpans([agentSpans, agentSpans])).toHaveLength(1);
  });
});
