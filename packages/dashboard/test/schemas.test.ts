import { describe, expect, it } from 'vitest';
import { readCluster, readDecisions, readServiceDetail, readSpans } from '../web/schemas.js';

const meta = {
  node: 'n1',
  appliedIndex: 9,
  leader: 'n1',
  term: 3,
  consistent: false,
  sinceLastApplyMs: 4,
  sinceLeaderContactMs: 0,
};
const cluster = {
  meta,
  cluster: 'lab',
  role: 'leader',
  leader: { id: 'n1', address: 'http://10.0.0.1:7070' },
  term: 3,
  commitIndex: 9,
  appliedIndex: 9,
  members: [{ id: 'n1', voter: true, address: '10.0.0.1', role: 'leader' }],
};
const health = {
  voters: [
    { id: 'n1', leader: true, lastContactMs: 0, matchIndex: 9, lag: 0, healthy: true },
    { id: 'n2', leader: false, lastContactMs: 40, matchIndex: 7, lag: 2, healthy: true },
  ],
  quorum: 2,
  healthyVoters: 2,
  failureTolerance: 0,
  nats: { connectedServer: 'nats://10.0.0.1:4222', knownServers: ['nats://10.0.0.1:4222'] },
};

const decision = {
  id: 'd-1',
  service: 'web',
  atEpochMs: 1_700_000_000_000,
  term: 3,
  leaderId: 'n1',
  policy: 'predictive',
  inputs: { replicas: 2, samples: 30, requestRatePerSecond: 41.5 },
  forecast: {
    predictedRequestRatePerSecond: 55,
    lowerRequestRatePerSecond: 40,
    upperRequestRatePerSecond: 70,
    quantile: 0.9,
  },
  currentReplicas: 2,
  recommendedReplicas: 7,
  desiredReplicas: 5,
  binding: { rule: 'max_step', detail: 'max step up 3 from 2', limit: 3 },
  reason: 'p90 forecast 70 req/s → 7; max step 3 → 5',
  outcome: { status: 'scaled', token: 12, commandIds: ['web.12.n1'] },
};

describe('the page’s tolerant readers', () => {
  it('reads today’s /v1/cluster without health, and the health block when the agent serves it', () => {
    expect(readCluster(cluster).healthParsed).toBeUndefined();
    expect(readCluster({ ...cluster, health }).healthParsed?.failureTolerance).toBe(0);
    // A health block of another shape is absent, not an error of the whole reply.
    const odd = readCluster({ ...cluster, health: { voters: 'many' } });
    expect(odd.healthParsed).toBeUndefined();
    expect(odd.leader?.id).toBe('n1');
  });

  it('turns an odd field into undefined and keeps the rest', () => {
    const c = readCluster({ ...cluster, term: 'three', members: [{ id: 'n1', voter: 'yes' }] });
    expect(c.term).toBeUndefined();
    expect(c.members[0]).toEqual({ id: 'n1', voter: undefined });
    expect(() => readCluster('not json object')).toThrow();
  });

  it('reads decisions one by one: a record of another shape hides only itself', () => {
    expect(readDecisions({ meta, service: 'web', decisions: [decision, { id: 'x' }] })).toEqual([
      { ...decision, outcome: { ...decision.outcome } },
    ]);
    expect(readDecisions({ error: { code: 'COX_NOT_FOUND' } })).toEqual([]);
  });

  it('reads the forecast interval when served, and the point forecast of today', () => {
    const base = {
      meta,
      name: 'web',
      record: {
        spec: { image: 'x' },
        specVersion: 1,
        desiredReplicas: 2,
        manualReplicas: null,
        placement: { n1: 2 },
      },
      running: { n1: 2 },
      figures: { n1: [{ time: 1, containerCount: 2 }] },
      recentCommands: [],
    };
    const today = readServiceDetail({
      ...base,
      forecast: { time: 1, predictedRequestRatePerSecond: 3 },
    });
    expect(today.predicted).toBe(3);
    expect(today.interval).toBeUndefined();
    const later = readServiceDetail({
      ...base,
      forecast: {
        time: 1,
        predictedRequestRatePerSecond: 3,
        lowerRequestRatePerSecond: 2,
        upperRequestRatePerSecond: 5,
        quantile: 0.9,
        capacityPerReplicaRequestsPerSecond: 8,
      },
    });
    expect(later.interval?.upperRequestRatePerSecond).toBe(5);
  });

  it('reads spans one by one', () => {
    const span = {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      name: 'coxswain.decide',
      kind: 'internal',
      startMs: 1,
      endMs: 2,
      durationMs: 1,
      attributes: {},
      status: { code: 'ok' },
      events: [],
      resource: { service: 'coxswain-agent', node: 'n1' },
    };
    expect(readSpans({ spans: [span, { name: 1 }] }).map((s) => s.name)).toEqual([
      'coxswain.decide',
    ]);
  });
});
