import { type ContainerState, LABELS } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import type { TrackedContainer } from '../src/docker-driver.js';
import {
  aggregateServices,
  countsTowardService,
  metricsFromLabels,
  metricsUrl,
} from '../src/sampler.js';

const base = (over: Partial<ContainerState>): ContainerState => ({
  id: 'c',
  name: 'n',
  service: 'web',
  image: 'img',
  status: 'running',
  health: 'none',
  ...over,
});

describe('aggregateServices', () => {
  it('means CPU and memory, sums network and request rate, counts only healthy or unchecked running', () => {
    const out = aggregateServices(
      [
        {
          state: base({ id: 'a' }),
          figures: {
            cpuPercent: 40,
            memoryPercent: 10,
            rxBytesPerSecond: 100,
            txBytesPerSecond: 5,
          },
          requestRatePerSecond: 10,
        },
        {
          state: base({ id: 'b', health: 'healthy' }),
          figures: { cpuPercent: 60, memoryPercent: 30, rxBytesPerSecond: 50, txBytesPerSecond: 5 },
          requestRatePerSecond: 5,
        },
        { state: base({ id: 'c', health: 'starting' }), figures: { cpuPercent: 80 } },
        { state: base({ id: 'd', status: 'exited' }) },
        { state: base({ id: 'e', service: 'db' }) },
      ],
      1234,
    );
    expect(out.web).toEqual({
      time: 1234,
      containerCount: 2,
      cpuPercent: 60,
      memoryPercent: 20,
      ingressBytesPerSecond: 150,
      egressBytesPerSecond: 10,
      requestRatePerSecond: 15,
    });
    // Nothing measured yet: the figures are absent, not 0.
    expect(out.db).toEqual({ time: 1234, containerCount: 1 });
  });
  it('takes p95 from the merged interval histograms', () => {
    const inf = Number.POSITIVE_INFINITY;
    const out = aggregateServices(
      [
        {
          state: base({ id: 'a' }),
          latencyDelta: [
            { le: 0.1, count: 50 },
            { le: 0.2, count: 100 },
            { le: inf, count: 100 },
          ],
        },
        {
          state: base({ id: 'b' }),
          latencyDelta: [
            { le: 0.1, count: 0 },
            { le: 0.2, count: 0 },
            { le: inf, count: 0 },
          ],
        },
      ],
      1,
    );
    expect(out.web!.p95LatencyMs).toBeCloseTo(190, 6);
  });
});

describe('countsTowardService', () => {
  it('needs running and healthy-or-unchecked', () => {
    expect(countsTowardService(base({}))).toBe(true);
    expect(countsTowardService(base({ health: 'unhealthy' }))).toBe(false);
    expect(countsTowardService(base({ status: 'paused' }))).toBe(false);
  });
});

describe('metrics endpoint of a replica', () => {
  const tracked = (over: Partial<TrackedContainer>): TrackedContainer => ({
    state: base({}),
    pid: 1,
    cpuLimit: undefined,
    memoryLimitBytes: undefined,
    ipAddress: undefined,
    hostPorts: new Map(),
    networkMode: 'none',
    labels: {},
    ...over,
  });
  it('reads the labels written at create time', () => {
    expect(metricsFromLabels({ [LABELS.metricsPort]: '9100', [LABELS.metricsPath]: '/m' })).toEqual(
      {
        port: 9100,
        path: '/m',
        requestCounter: 'http_requests_total',
        latencyHistogram: 'http_request_duration_seconds',
      },
    );
    expect(metricsFromLabels({ [LABELS.metricsPort]: 'x' })).toBeUndefined();
  });
  it('prefers the container IP, then a published port, then host networking', () => {
    const ep = { port: 80, path: '/metrics', requestCounter: 'r', latencyHistogram: 'l' };
    expect(metricsUrl(tracked({ ipAddress: '172.17.0.2' }), ep)).toBe(
      'http://172.17.0.2:80/metrics',
    );
    expect(metricsUrl(tracked({ hostPorts: new Map([[80, 32768]]) }), ep)).toBe(
      'http://127.0.0.1:32768/metrics',
    );
    expect(metricsUrl(tracked({ networkMode: 'host' }), ep)).toBe('http://127.0.0.1:80/metrics');
    expect(metricsUrl(tracked({}), ep)).toBeUndefined();
  });
});
