import { reconnectDelayMs } from '@coxswain/nats-link';
import { describe, expect, it } from 'vitest';
import { rejectedLabels } from '../src/cluster-metrics.js';

describe('reconnectDelayMs', () => {
  it('grows exponentially to a cap, with half of it jittered', () => {
    expect(reconnectDelayMs(0, 100, 5000, () => 0)).toBe(50);
    expect(reconnectDelayMs(0, 100, 5000, () => 1)).toBe(100);
    expect(reconnectDelayMs(3, 100, 5000, () => 1)).toBe(800);
    expect(reconnectDelayMs(30, 100, 5000, () => 1)).toBe(5000);
  });
});

describe('rejectedLabels', () => {
  it("maps subjects and codes onto METRICS.md's bounded labels", () => {
    expect(rejectedLabels({ subject: 'cox.c.report.*', reason: 'COX_PAYLOAD_TOO_LARGE' })).toEqual({
      subject: 'report',
      reason: 'too_large',
    });
    expect(rejectedLabels({ subject: 'cox.c.raft.n1', reason: 'COX_MALFORMED_PAYLOAD' })).toEqual({
      subject: 'raft',
      reason: 'malformed',
    });
    expect(rejectedLabels({ subject: 'reply _INBOX.x', reason: 'COX_INVALID_PAYLOAD' })).toEqual({
      subject: 'cmd',
      reason: 'invalid',
    });
    expect(rejectedLabels({ subject: 'cox.c.events', reason: 'COX_TOO_MANY_PEERS' }).reason).toBe(
      'too_many_peers',
    );
    expect(rejectedLabels({ subject: 'cox.c.api.n2', reason: 'x' }).subject).toBe('api');
    expect(rejectedLabels({ subject: 'service.policy', reason: 'x' }).subject).toBe('other');
  });
});
