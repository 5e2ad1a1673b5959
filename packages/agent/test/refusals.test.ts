import { ServiceVanishedError } from '@coxswain/control';
import {
  API_ERROR_HTTP_STATUS,
  ApiErrorBody,
  ApiErrorCode,
  type ApiReply,
  ClusterApplyErrorCode,
  PROTOCOL_VERSION,
} from '@coxswain/protocol';
import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  NodeStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  ReadIndexTimeoutError,
} from 'raft-consensus-ts';
import { afterEach, describe, expect, it } from 'vitest';
import { registerClusterApi } from '../src/api/cluster-api.js';
import type { ApiWrite } from '../src/api/cluster-view.js';
import {
  ApiRefusal,
  InternalRefusal,
  InvalidWriteRefusal,
  LockHeldRefusal,
  LockLostRefusal,
  MembershipBusyRefusal,
  NotLeaderRefusal,
  PlacementConflictRefusal,
  refusalOfError,
  refusalOfOutcome,
  refusalOfResult,
} from '../src/cluster/refusals.js';
import { HttpServer } from '../src/http-server.js';
import { MemoryClusterView } from './api-memory-view.js';

const TOKEN = 'secret-token-1234';

describe('refusal codes', () => {
  it('gives every API error code an HTTP status: 4xx to fix, 503 to retry, 504 may apply, 500 ours', () => {
    for (const code of ApiErrorCode.options) {
      const status = API_ERROR_HTTP_STATUS[code];
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
    expect(Object.keys(API_ERROR_HTTP_STATUS).sort()).toEqual([...ApiErrorCode.options].sort());
    // Only COX_INTERNAL is a 500: every other refusal tells the caller what to do.
    const fiveHundreds = ApiErrorCode.options.filter((c) => API_ERROR_HTTP_STATUS[c] === 500);
    expect(fiveHundreds).toEqual(['COX_INTERNAL']);
    expect(API_ERROR_HTTP_STATUS.COX_NOT_LEADER).toBe(503);
    expect(API_ERROR_HTTP_STATUS.COX_NO_LEADER).toBe(503);
    expect(API_ERROR_HTTP_STATUS.COX_TIMEOUT).toBe(504);
  });

  it('maps every state-machine refusal to a stable code other than COX_INTERNAL', () => {
    const expected: Record<string, [string, number]> = {
      COX_INVALID_COMMAND: ['COX_INVALID_PAYLOAD', 400],
      COX_LOCK_HELD: ['COX_LOCK_HELD', 409],
      COX_LOCK_NOT_HELD: ['COX_LOCK_LOST', 503],
      COX_NO_SUCH_SERVICE: ['COX_NO_SUCH_SERVICE', 404],
      COX_NO_SUCH_NODE: ['COX_NO_SUCH_NODE', 404],
      COX_BAD_PLACEMENT: ['COX_PLACEMENT_CONFLICT', 409],
      COX_SUPERSEDED: ['COX_SUPERSEDED', 409],
    };
    expect(Object.keys(expected).sort()).toEqual([...ClusterApplyErrorCode.options].sort());
    for (const code of ClusterApplyErrorCode.options) {
      const refusal = refusalOfResult(
        { ok: false, code, message: `because ${code}` },
        { service: 'web', nodeId: 'n9', from: 'write' },
      );
      expect([refusal.code, refusal.httpStatus], code).toEqual(expected[code]);
      expect(refusal).toBeInstanceOf(ApiRefusal);
      expect(refusal.message).toContain(`because ${code}`);
    }
    // A node named by the leader's own placement that is gone is a conflict, not the caller's 404.
    const fromOperation = refusalOfResult(
      { ok: false, code: 'COX_NO_SUCH_NODE', message: 'placement names unknown node "n4"' },
      { service: 'web', from: 'operation' },
    );
    expect(fromOperation).toBeInstanceOf(PlacementConflictRefusal);
    expect(fromOperation.httpStatus).toBe(409);
  });

  it('maps locked-operation outcomes: the max clamp is a 400, a lost lock a 503, only the unknown a 500', () => {
    const refused = (code: string) =>
      refusalOfOutcome('web', { status: 'refused', code, message: 'm' }, 'n1');
    const max = refusalOfOutcome(
      'web',
      {
        status: 'refused',
        code: 'COX_INVALID_PAYLOAD',
        message: 'replicas must be at most maxReplicas (6); got 12',
      },
      'n1',
    );
    expect(max).toBeInstanceOf(InvalidWriteRefusal);
    expect(max).toMatchObject({ code: 'COX_INVALID_PAYLOAD', httpStatus: 400 });
    expect(max?.message).toMatch(/maxReplicas \(6\)/);
    expect(refused('COX_LOCK_NOT_HELD')).toBeInstanceOf(LockLostRefusal);
    expect(refused('COX_LOCK_NOT_HELD')?.httpStatus).toBe(503);
    expect(refused('COX_BAD_PLACEMENT')?.code).toBe('COX_PLACEMENT_CONFLICT');
    expect(refused('COX_SUPERSEDED')?.httpStatus).toBe(409);
    expect(refused('COX_SOMETHING_NEW')).toBeInstanceOf(InternalRefusal);

    const held = refusalOfOutcome('web', { status: 'lock-held', heldBy: 'n2' }, 'n1');
    expect(held).toBeInstanceOf(LockHeldRefusal);
    expect(held).toMatchObject({ code: 'COX_LOCK_HELD', service: 'web', heldBy: 'n2' });
    expect(refusalOfOutcome('web', { status: 'expired' }, 'n1')?.httpStatus).toBe(504);
    for (const status of ['nothing', 'purged'] as const)
      expect(refusalOfOutcome('web', { status, token: 3 }, 'n1')).toBeUndefined();
    expect(
      refusalOfOutcome('web', { status: 'done', token: 3, replies: [], failed: 1 }, 'n1'),
    ).toBeUndefined();

    const aborted = (error: unknown) => refusalOfOutcome('web', { status: 'aborted', error }, 'n1');
    expect(aborted(new NotLeaderError('n3'))).toMatchObject({
      code: 'COX_NOT_LEADER',
      leaderId: 'n3',
    });
    expect(aborted(new ProposalDroppedError(7, 2, 'overwritten'))?.httpStatus).toBe(503);
    expect(aborted(new ServiceVanishedError('web'))?.code).toBe('COX_NO_SUCH_SERVICE');
    expect(aborted(new Error('disk on fire'))).toBeInstanceOf(InternalRefusal);
  });

  it('maps thrown errors by class, passing the cause through', () => {
    const busy = new ConfigChangeInProgressError(12);
    const refusal = refusalOfError(busy, 'n1');
    expect(refusal).toBeInstanceOf(MembershipBusyRefusal);
    expect(refusal).toMatchObject({
      name: 'MembershipBusyRefusal',
      code: 'COX_MEMBERSHIP_BUSY',
      httpStatus: 409,
    });
    expect(refusal.cause).toBe(busy);
    const bad = refusalOfError(
      new InvalidConfigChangeError({ type: 'removeNode', node: 'n1' }, 'the last voter'),
      'n1',
    );
    expect([bad.code, bad.httpStatus]).toEqual(['COX_BAD_MEMBERSHIP_CHANGE', 400]);
    const noQuorum = refusalOfError(new ReadIndexTimeoutError(2000), 'n1');
    expect([noQuorum.code, noQuorum.httpStatus]).toEqual(['COX_NO_LEADER', 503]);
    expect(refusalOfError(new NodeStoppedError('stop() called'), 'n1').httpStatus).toBe(503);
    const same = new NotLeaderRefusal('n2');
    expect(refusalOfError(same, 'n1')).toBe(same);
    const odd = refusalOfError('a string', null);
    expect([odd.code, odd.httpStatus, odd.message]).toEqual(['COX_INTERNAL', 500, 'a string']);
  });
});

/** A leader whose every write is refused with a given reply (what member-api answers over NATS). */
class RefusingView extends MemoryClusterView {
  refusal: ApiRefusal = new InternalRefusal('unset');
  override async submit(_write: ApiWrite): Promise<ApiReply> {
    return {
      v: PROTOCOL_VERSION,
      ok: false,
      servedBy: this.nodeId,
      code: this.refusal.code,
      message: this.refusal.message,
    };
  }
}

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('refusals over HTTP', () => {
  it('answers each refusal from the leader with its status and code', async () => {
    const view = new RefusingView('n1');
    view.role = 'leader';
    view.leaderId = 'n1';
    const server = new HttpServer({ host: '127.0.0.1', port: 0 });
    servers.push(server);
    const api = registerClusterApi(server.router, {
      view,
      token: TOKEN,
      dashboardHtml: () => '<!doctype html><title>coxswain</title>',
    });
    try {
      const cases: [ApiRefusal, number][] = [
        [new LockLostRefusal('web', 'token 7 does not hold the lock of web'), 503],
        [new PlacementConflictRefusal('placement names unknown node "n4"'), 409],
        [new MembershipBusyRefusal('a config change is in progress'), 409],
        [new InvalidWriteRefusal('replicas must be at most maxReplicas (6); got 12'), 400],
        [new InternalRefusal('disk on fire'), 500],
      ];
      for (const [refusal, status] of cases) {
        view.refusal = refusal;
        const res = await server.inject('DELETE', '/v1/services/web', undefined, {
          authorization: `Bearer ${TOKEN}`,
        });
        expect(res.status, refusal.code).toBe(status);
        const error = ApiErrorBody.parse(res.json()).error;
        expect(error.code).toBe(refusal.code);
        expect(error.message).toContain(refusal.message.slice(0, 20));
      }
    } finally {
      api.close();
    }
  });
});
