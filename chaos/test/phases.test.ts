import type {
  AgentOperation,
  AgentOperationsReply,
  ChaosSla,
  CommandRecord,
} from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import {
  agentFencingViolations,
  fencingOverlaps,
  lateExecutions,
  phasesOf,
  summaryOf,
  verdictOf,
} from '../src/index.js';

const sla: ChaosSla = { detect: 1000, decide: 2000, recover: 5000, probes: [] };

describe('phases', () => {
  it('takes the earliest detection and checks each phase against its SLA', () => {
    const phases = phasesOf(
      {
        firstProbeFailure: { ms: 800, source: 'probe' },
        firstClusterDetection: { ms: 300, source: 'event node.dead' },
        firstDecision: { ms: 900, source: 'command.issued' },
        recovered: { ms: 6000, source: 'back' },
        deviated: true,
      },
      sla,
    );
    expect(phases.map((p) => [p.phase, p.ms, p.met])).toEqual([
      ['detect', 300, true],
      ['decide', 900, true],
      ['recover', 6000, false],
    ]);
    expect(verdictOf(phases, [], undefined)).toEqual({
      verdict: 'failed',
      reason: 'SLA broken: recover 6000 ms > SLA 5000 ms',
    });
  });

  it('counts a decision as proof of detection, and a steady state that never deviated as recovered', () => {
    const phases = phasesOf(
      {
        firstProbeFailure: undefined,
        firstClusterDetection: undefined,
        firstDecision: { ms: 350, source: 'container started' },
        recovered: undefined,
        deviated: false,
      },
      sla,
    );
    expect(phases[0]).toMatchObject({ phase: 'detect', ms: 350, met: true });
    expect(phases[2]).toMatchObject({
      phase: 'recover',
      ms: null,
      met: true,
      source: 'steady state never deviated',
    });
    expect(verdictOf(phases, [], undefined).verdict).toBe('passed');
  });

  it('fails a phase with an SLA that was never observed, and names it', () => {
    const phases = phasesOf(
      {
        firstProbeFailure: { ms: 100, source: 'p' },
        firstClusterDetection: undefined,
        firstDecision: undefined,
        recovered: undefined,
        deviated: true,
      },
      sla,
    );
    const v = verdictOf(phases, [], undefined);
    expect(v.verdict).toBe('failed');
    expect(v.reason).toMatch(/decide no repair command or restart observed/);
    expect(v.reason).toMatch(/recover steady state not back/);
  });

  it('fails on a slow probe and on an activity failure', () => {
    const ok = phasesOf(
      {
        firstProbeFailure: undefined,
        firstClusterDetection: { ms: 1, source: 'e' },
        firstDecision: { ms: 2, source: 'd' },
        recovered: undefined,
        deviated: false,
      },
      sla,
    );
    expect(
      verdictOf(ok, [{ probe: 'api', p95Ms: 300, limitMs: 250, met: false }], undefined).reason,
    ).toMatch(/probe api p95 300 ms > 250 ms/);
    expect(verdictOf(ok, [], 'fault x: boom')).toEqual({
      verdict: 'failed',
      reason: 'fault x: boom',
    });
  });

  it('summarises p50, p99 and max per phase', () => {
    const rep = (ms: number) => ({
      index: 1,
      faultAt: null,
      faults: [],
      probeSla: [],
      traceIds: [],
      deviated: true,
      verdict: 'passed' as const,
      reason: '',
      timeline: [],
      phases: [{ phase: 'recover' as const, ms, slaMs: 5000, met: true, source: '' }],
    });
    const s = summaryOf([rep(100), rep(300), rep(200)]).find((x) => x.phase === 'recover');
    expect(s).toEqual({
      phase: 'recover',
      count: 3,
      p50Ms: 200,
      p99Ms: 300,
      maxMs: 300,
      slaMs: 5000,
    });
  });
});

describe('fencing audit', () => {
  const cmd = (
    token: number,
    node: string,
    start: number,
    end: number | undefined,
  ): CommandRecord => ({
    id: `${token}-${node}`,
    service: 'web',
    nodeId: node,
    action: 'scale',
    replicas: 1,
    token,
    term: 1,
    leaderId: 'n1',
    status: 'done',
    issuedAtMs: start,
    ...(end === undefined ? {} : { finishedAtMs: end }),
  });

  it('treats commands of one token to several nodes as one operation', () => {
    expect(
      fencingOverlaps([cmd(5, 'a', 0, 100), cmd(5, 'b', 10, 120), cmd(9, 'a', 130, 200)]),
    ).toEqual([]);
  });

  it('reports two tokens running at once on one service', () => {
    const found = fencingOverlaps([cmd(5, 'a', 0, 100), cmd(9, 'b', 50, 150)]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/token 5 .* overlaps token 9/);
    expect(
      fencingOverlaps([cmd(5, 'a', 0, 100), { ...cmd(9, 'b', 50, 150), service: 'other' }]),
    ).toEqual([]);
  });
});

describe("the agents' half of the fencing audit", () => {
  const op = (
    token: number,
    outcome: 'done' | 'refused' | 'failed',
    startedAtEpochMs = 1000 + token,
  ): AgentOperation => ({
    id: `web.${token}.a`,
    service: 'web',
    token,
    term: 1,
    leaderId: 'n1',
    replicas: 1,
    startedAtEpochMs,
    endedAtEpochMs: startedAtEpochMs + 5,
    outcome,
  });
  const agent = (operations: AgentOperation[]): AgentOperationsReply => ({
    node: 'a',
    operations,
    tokens: {},
  });

  it('passes rising tokens and a refused lower one', () => {
    expect(
      agentFencingViolations([agent([op(5, 'done'), op(3, 'refused'), op(9, 'done')])]),
    ).toEqual([]);
  });

  it('reports a lower token acted on after a higher one', () => {
    const found = agentFencingViolations([agent([op(9, 'done'), op(5, 'done')])]);
    expect(found).toEqual(['a: web acted on token 5 after token 9 (web.5.a)']);
    expect(agentFencingViolations([agent([op(9, 'done'), op(5, 'done')])], 'other')).toEqual([]);
  });

  it('reports a command started after the leader recorded it failed, not one refused or started before', () => {
    const failed = (token: number, at: number): CommandRecord => ({
      id: `web.${token}.a`,
      service: 'web',
      nodeId: 'a',
      action: 'scale',
      replicas: 1,
      token,
      term: 1,
      leaderId: 'n1',
      status: 'failed',
      issuedAtMs: 0,
      finishedAtEpochMs: at,
    });
    const agents = [agent([op(5, 'done', 900), op(6, 'refused', 2500), op(7, 'done', 3200)])];
    const found = lateExecutions([failed(5, 1000), failed(6, 2000), failed(7, 3000)], agents);
    expect(found).toEqual(['a: web.7.a started 200 ms after the leader recorded it failed']);
  });
});
