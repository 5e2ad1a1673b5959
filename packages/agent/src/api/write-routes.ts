/**
 * The cluster API's writes: authenticated, applied through the leader.
 */
import {
  IdempotencyKey,
  Name,
  NodeId,
  PROTOCOL_VERSION,
  ReadQuery,
  ServiceScaleBody,
  ServiceSpec,
  type WriteStatusReply,
} from '@coxswain/protocol';
import { scaleLimitIssue } from '../cluster/coordinator.js';
import type { Router } from '../http-server.js';
import { badRequest, parseBody, parseParam, type RouteKit } from './route-kit.js';

/**
 * PUT/DELETE /v1/services/{name}, POST /v1/services/{name}/scale, DELETE /v1/nodes/{id},
 * POST /v1/nodes/{id}/voter (202: poll GET /v1/cluster), and GET /v1/writes/{key}: whether
 * the write with that idempotency key applied (what a 504 tells the client to check).
 */
export function registerWriteRoutes(router: Router, kit: RouteKit): void {
  const { write, read } = kit;

  router.add(
    'GET',
    '/v1/writes/:key',
    read('GET /v1/writes/{key}', ReadQuery, (ctx, _query, snapshot, meta): WriteStatusReply => {
      const key = parseParam(IdempotencyKey, ctx, 'key');
      const applied = snapshot.writes.find((w) => w.key === key);
      return applied
        ? { meta, key, applied: true, index: applied.index, op: applied.op }
        : { meta, key, applied: false };
    }),
  );

  router.add(
    'PUT',
    '/v1/services/:name',
    write('PUT /v1/services/{name}', (ctx, token) => {
      const name = parseParam(Name, ctx, 'name');
      const spec = parseBody(ServiceSpec, ctx);
      if (spec.name !== name) {
        throw badRequest('request body', [
          {
            path: 'body.name',
            message: `must equal the name in the path (${JSON.stringify(name)})`,
          },
        ]);
      }
      return { v: PROTOCOL_VERSION, op: 'service.apply', token, spec };
    }),
  );

  router.add(
    'DELETE',
    '/v1/services/:name',
    write('DELETE /v1/services/{name}', (ctx, token) => ({
      v: PROTOCOL_VERSION,
      op: 'service.delete',
      token,
      name: parseParam(Name, ctx, 'name'),
    })),
  );

  router.add(
    'POST',
    '/v1/services/:name/scale',
    write('POST /v1/services/{name}/scale', (ctx, token) => {
      const name = parseParam(Name, ctx, 'name');
      const body = parseBody(ServiceScaleBody, ctx);
      // Never more than max: refused here against the local replica, and again
      // by the leader's coordinator against the committed spec.
      const spec = kit.view.snapshot().services[name]?.spec;
      if (spec && body.replicas !== null) {
        const limit = scaleLimitIssue(body.replicas, spec.maxReplicas);
        if (limit) throw badRequest('request body', [{ path: 'body.replicas', message: limit }]);
      }
      return { v: PROTOCOL_VERSION, op: 'service.scale', token, name, replicas: body.replicas };
    }),
  );

  router.add(
    'DELETE',
    '/v1/nodes/:id',
    write('DELETE /v1/nodes/{id}', (ctx, token) => ({
      v: PROTOCOL_VERSION,
      op: 'node.declare',
      token,
      nodeId: parseParam(NodeId, ctx, 'id'),
      state: 'removed',
    })),
  );

  router.add(
    'POST',
    '/v1/nodes/:id/voter',
    write('POST /v1/nodes/{id}/voter', (ctx, token) => ({
      v: PROTOCOL_VERSION,
      op: 'node.addVoter',
      token,
      nodeId: parseParam(NodeId, ctx, 'id'),
    })),
  );
}
