/**
 * The decision path's span helpers against the real telemetry SDK (its
 * in-memory ring, no exporter): elections, proposals inside and outside an
 * operation, report contexts as parents, and a fresh trace without one.
 */
import type { NodeReport } from '@coxswain/protocol';
import {
  natsHeaders,
  type SpanRecord,
  startTelemetry,
  type Telemetry,
  withSpan,
} from '@coxswain/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ElectionSpans,
  ReportContexts,
  traceProposal,
  withReportContext,
} from '../src/cluster/decision-tracing.js';

let telemetry: Telemetry;

beforeAll(async () => {
  telemetry = await startTelemetry({
    serviceName: 'coxswain-agent',
    cluster: 'c',
    nodeId: 'n1',
    host: 'h1',
    env: {},
  });
});

afterAll(async () => {
  await telemetry?.shutdown();
});

const spans = (name: string): SpanRecord[] =>
  telemetry.recentSpans({}).filter((s) => s.name === name);

const report = (services: string[]): NodeReport => ({
  v: 1,
  cluster: 'c',
  nodeId: 'n2',
  address: 'n2',
  role: 'voter',
  capacity: { cpus: 1, memoryBytes: 2 ** 30 },
  labels: {},
  time: 0,
  seq: 0,
  dockerReachable: true,
  containers: [],
  services: Object.fromEntries(services.map((s) => [s, { time: 0, containerCount: 1 }])),
});

describe('decision tracing', () => {
  it('an election is one span per campaign: won, lost, or superseded by the next', () => {
    const elections = new ElectionSpans('n1');
    elections.observe({ type: 'election-started', term: 3, preVote: false });
    elections.observe({ type: 'election-lost', term: 3, ticks: 12 });
    elections.observe({ type: 'election-started', term: 4, preVote: true });
    elections.observe({ type: 'election-started', term: 5, preVote: false });
    elections.observe({ type: 'role-changed', from: 'candidate', to: 'leader', term: 5 });
    // Nothing open: a later win is not attributed to a finished campaign.
    elections.observe({ type: 'election-won', term: 5, ticks: 3 });
    const got = spans('coxswain.election').map((s) => ({
      term: s.attributes['coxswain.term'],
      outcome: s.attributes['coxswain.election.outcome'],
      preVote: s.attributes['coxswain.election.pre_vote'],
      node: s.attributes['coxswain.node'],
      parent: s.parentSpanId,
    }));
    expect(got).toEqual([
      { term: 3, outcome: 'lost', preVote: false, node: 'n1', parent: undefined },
      { term: 4, outcome: 'superseded', preVote: true, node: 'n1', parent: undefined },
      { term: 5, outcome: 'won', preVote: false, node: 'n1', parent: undefined },
    ]);
  });

  it('proposals are spans only inside an operation, named lock.acquire / lock.release', async () => {
    const before = spans('coxswain.lock.acquire').length;
    const commit = async () => ({ index: 7, result: { ok: true } });
    await traceProposal(
      { type: 'lock.acquire', at: 0, service: 'web', holder: 'n1', term: 1, leaseMs: 100 },
      commit,
    );
    expect(spans('coxswain.lock.acquire')).toHaveLength(before);
    await withSpan(telemetry.tracer, 'op', {}, async () => {
      await traceProposal(
        { type: 'lock.acquire', at: 0, service: 'web', holder: 'n1', term: 1, leaseMs: 100 },
        commit,
      );
      await traceProposal({ type: 'lock.release', at: 0, service: 'web', token: 7 }, commit);
    });
    const op = spans('op').at(-1)!;
    const acquire = spans('coxswain.lock.acquire').at(-1)!;
    const release = spans('coxswain.lock.release').at(-1)!;
    expect(acquire.parentSpanId).toBe(op.spanId);
    expect(acquire.attributes).toMatchObject({
      'coxswain.service': 'web',
      'coxswain.raft.index': 7,
      'coxswain.command_type': 'lock.acquire',
    });
    expect(release.attributes).toMatchObject({ 'coxswain.token': 7, 'coxswain.raft.index': 7 });
  });

  it('a decision continues the trace of the newest report that carried its service, else starts one', async () => {
    const contexts = new ReportContexts();
    let reportTraceId = '';
    let reportSpanId = '';
    await withSpan(telemetry.tracer, 'agent.sample_and_report', {}, (span) => {
      reportTraceId = span.spanContext().traceId;
      reportSpanId = span.spanContext().spanId;
      contexts.observe(report(['web']), natsHeaders());
    });
    // A report without trace headers changes nothing.
    contexts.observe(report(['web']), undefined);
    await withSpan(telemetry.tracer, 'unrelated-active', {}, async () => {
      await withReportContext(contexts.contextFor('web'), () =>
        withSpan(telemetry.tracer, 'decision-web', {}, () => undefined),
      );
      await withReportContext(contexts.contextFor('api'), () =>
        withSpan(telemetry.tracer, 'decision-api', {}, () => undefined),
      );
    });
    const web = spans('decision-web').at(-1)!;
    expect(web.traceId).toBe(reportTraceId);
    expect(web.parentSpanId).toBe(reportSpanId);
    // No report carried it: a trace of its own, not the active span's.
    const api = spans('decision-api').at(-1)!;
    expect(api.parentSpanId).toBeUndefined();
    expect(api.traceId).not.toBe(spans('unrelated-active').at(-1)!.traceId);
  });
});
