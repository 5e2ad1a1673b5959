import type { DecisionRecord, ServiceDetail } from '@coxswain/protocol';
import type { SpanRecord } from '@coxswain/telemetry';
import { describe, expect, it } from 'vitest';
import { renderExplain } from '../src/commands/explain.js';
import { renderHealth } from '../src/commands/status.js';
import { TraceFollower } from '../src/commands/traces.js';

const meta = {
  node: 'n1',
  appliedIndex: 9,
  leader: 'n1',
  term: 2,
  consistent: false,
  sinceLastApplyMs: 10,
  sinceLeaderContactMs: 0,
};

function detail(manual: number | null, desired: number): ServiceDetail {
  return {
    meta,
    name: 'web',
    record: {
      spec: {
        name: 'web',
        image: 'x',
        minReplicas: 2,
        maxReplicas: 6,
        policy: { name: 'predictive', params: {} },
      },
      specVersion: 1,
      desiredReplicas: desired,
      manualReplicas: manual,
      placement: { n1: 2, n2: 3 },
      placementToken: 4,
      deleted: false,
      updatedAtMs: 0,
    },
    running: { n1: 2, n2: 3 },
    lock: null,
    windowMs: 300_000,
    figures: {},
    forecast: null,
    recentCommands: [],
  } as unknown as ServiceDetail;
}

const decision: DecisionRecord = {
  id: 'n1-2-7',
  service: 'web',
  atEpochMs: 100_000,
  term: 2,
  leaderId: 'n1',
  policy: 'predictive',
  inputs: { replicas: 2, samples: 12, cpuPercent: 91.24, requestRatePerSecond: 240 },
  forecast: { predictedRequestRatePerSecond: 310, leadTimeSeconds: 60 },
  currentReplicas: 2,
  recommendedReplicas: 5,
  desiredReplicas: 5,
  binding: { rule: 'target', detail: 'the target alone asked for 5' },
  reason: 'p90 310 req/s ÷ 62 → 5',
  outcome: { status: 'scaled', token: 4, commandIds: ['c1', 'c2'], traceId: 'a'.repeat(32) },
};

describe('coxswain explain', () => {
  it('says why a policy scaled the service up', () => {
    const text = renderExplain(detail(null, 5), [decision], 112_000);
    expect(text.split('\n')).toEqual([
      'web has 5 desired replicas, 5 running (n1: 2, n2: 3).',
      'Its policy is predictive, between 2 and 6 replicas.',
      'The last decision, 12.0s ago by n1 in term 2, was to scale up from 2 to 5.',
      'It saw CPU 91.2 %, 240 req/s on 2 replicas (12 samples).',
      'It forecast 310 req/s 60 s ahead.',
      'The policy said: p90 310 req/s ÷ 62 → 5',
      'The rule that bound the count: target — the target alone asked for 5.',
      `Outcome: done (lock token 4, 2 commands, trace ${'a'.repeat(32)}).`,
    ]);
  });

  it('says a pin holds the count, and when no decision is known', () => {
    const pin: DecisionRecord = {
      ...decision,
      policy: 'manual',
      inputs: { replicas: 5, samples: 0 },
      forecast: null,
      binding: {
        rule: 'manual_pin',
        detail: 'pinned at 5 by `coxswain service scale`; the policy was not asked',
        limit: 5,
      },
    };
    const text = renderExplain(detail(5, 5), [pin, decision], 100_500);
    expect(text).toContain('It is pinned at 5 by `coxswain service scale`');
    expect(text).toContain(
      'Why: pinned at 5 by `coxswain service scale`; the policy was not asked.',
    );
    expect(text).toContain('Earlier decisions:');
    expect(text).not.toContain('It saw');
    expect(renderExplain(detail(null, 2), [], 0)).toContain(
      'The leader has made no decision about it',
    );
  });
});

describe('coxswain status health', () => {
  it('prints the voters as autopilot health does, or says it cannot tell', () => {
    const text = renderHealth({
      voters: [
        { id: 'n1', leader: true, lastContactMs: 0, matchIndex: 40, lag: 0, healthy: true },
        {
          id: 'n2',
          leader: false,
          lastContactMs: 8000,
          matchIndex: null,
          lag: null,
          healthy: false,
        },
      ],
      quorum: 2,
      healthyVoters: 1,
      failureTolerance: 0,
      nats: { connectedServer: 'nats://a:4222', knownServers: ['nats://a:4222', 'nats://b:4222'] },
    });
    expect(text.split('\n')).toEqual([
      'health:   1 of 2 voters healthy, quorum 2, failure tolerance 0',
      'nats:     nats://a:4222 (2 servers known)',
      '',
      'VOTER  LEADER  HEALTHY  LAST CONTACT  MATCH INDEX  LAG',
      'n1     yes     yes      0ms           40           0',
      'n2     no      no       8.0s          -            -',
    ]);
    expect(renderHealth(null)).toContain('unknown');
  });
});

describe('traces --follow', () => {
  const span = (traceId: string, spanId: string, startMs: number): SpanRecord =>
    ({
      traceId,
      spanId,
      name: 'coxswain.decide',
      startMs,
      endMs: startMs + 1,
      durationMs: 1,
      attributes: {},
      status: { code: 'ok' },
      resource: { service: 'coxswain-agent', node: 'n1' },
    }) as unknown as SpanRecord;

  it('skips traces already there, and prints each new one once when it has gone quiet', () => {
    const f = new TraceFollower(1000);
    expect(f.feed([span('old', 's1', 0)], 0)).toEqual([]);
    expect(f.feed([span('old', 's1', 0), span('new', 's2', 10)], 100)).toEqual([]);
    // A span of the same trace arrives from another agent: the quiet period starts again.
    expect(f.feed([span('new', 's2', 10), span('new', 's3', 12)], 900)).toEqual([]);
    expect(f.feed([span('new', 's2', 10), span('new', 's3', 12)], 1500)).toEqual([]);
    const out = f.feed([span('new', 's2', 10), span('new', 's3', 12)], 1900);
    expect(out.map((t) => t.map((s) => s.spanId))).toEqual([['s2', 's3']]);
    expect(f.feed([span('new', 's2', 10), span('new', 's3', 12)], 5000)).toEqual([]);
  });
});
