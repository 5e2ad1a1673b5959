import { type NodeReport, NodeReport as NodeReportSchema } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { withPredictedRates } from '../src/agent.js';

describe('withPredictedRates', () => {
  it("puts the leader's forecasts into its report as the ninth figure", () => {
    const base: NodeReport = {
      v: 1,
      cluster: 'c',
      nodeId: 'n1',
      address: 'n1',
      role: 'voter',
      capacity: { cpus: 8, memoryBytes: 2 ** 34, maxReplicas: 50 },
      labels: {},
      time: 1_700_000_000_000,
      seq: 3,
      dockerReachable: true,
      containers: [],
      services: { web: { time: 1_700_000_000_000, containerCount: 2, cpuPercent: 12 } },
    };
    expect(withPredictedRates(base, undefined)).toBe(base);
    const out = withPredictedRates(
      base,
      new Map([
        ['web', 41.5],
        ['api', 7],
      ]),
    );
    expect(out.services.web).toEqual({
      time: base.time,
      containerCount: 2,
      cpuPercent: 12,
      predictedRequestRatePerSecond: 41.5,
    });
    // A service with no replica on the leader's host still carries its forecast.
    expect(out.services.api).toEqual({
      time: base.time,
      containerCount: 0,
      predictedRequestRatePerSecond: 7,
    });
    expect(NodeReportSchema.safeParse(out).success).toBe(true);
    expect(base.services.web?.predictedRequestRatePerSecond).toBeUndefined();
  });
});
