import { SseParser } from '@coxswain/client';
import {
  ApiErrorBody,
  ClusterEvent,
  ClusterInfo,
  CommandsReply,
  EndpointsReply,
  LocksReply,
  NodesReply,
  ServiceDetail,
  ServicesReply,
  WriteReply,
} from '@coxswain/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { type ClusterApi, registerClusterApi } from '../src/api/cluster-api.js';
import { tokenMatches } from '../src/api/token.js';
import { HttpServer, type InjectResult } from '../src/http-server.js';
import { type MemoryClusterView, report, threeNodeCluster } from './api-memory-view.js';

const TOKEN = 'secret-token-1234';
const auth = { authorization: `Bearer ${TOKEN}` };

interface Mounted {
  server: HttpServer;
  api: ClusterApi;
}

const mounted: Mounted[] = [];

function mount(
  view: MemoryClusterView,
  options: { token?: string; consistentReadTimeoutMs?: number } = {},
): Mounted {
  const server = new HttpServer({ host: '127.0.0.1', port: 0 });
  const api = registerClusterApi(server.router, {
    view,
    token: 'token' in options ? options.token : TOKEN,
    consistentReadTimeoutMs: options.consistentReadTimeoutMs ?? 2000,
    dashboardHtml: () => '<!doctype html><title>coxswain</title>',
  });
  const m = { server, api };
  mounted.push(m);
  return m;
}

afterEach(async () => {
  for (const m of mounted.splice(0)) {
    m.api.close();
    await m.server.close();
  }
});

/** Parses a body with its schema: the test fails with zod's message if the route answered another shape. */
function body<S extends z.ZodType>(schema: S, response: InjectResult): z.output<S> {
  return schema.parse(response.json());
}

function expectMeta(response: InjectResult, node: string, appliedIndex: number): void {
  expect(response.headers['x-coxswain-node']).toBe(node);
  expect(response.headers['x-coxswain-applied-index']).toBe(String(appliedIndex));
  const meta = (response.json() as { meta: { node: string; appliedIndex: number } }).meta;
  expect(meta.node).toBe(node);
  expect(meta.appliedIndex).toBe(appliedIndex);
}

describe('reads from the local replica', () => {
  it('GET /v1/cluster: leader, term, commit index, members and roles', async () => {
    const { n2 } = threeNodeCluster();
    n2.term = 4;
    const { server } = mount(n2);
    const res = await server.inject('GET', '/v1/cluster');
    expect(res.status).toBe(200);
    const info = body(ClusterInfo, res);
    expect(info.role).toBe('follower');
    expect(info.leader).toEqual({ id: 'n1', address: 'http://127.0.0.1:7010' });
    expect(info.term).toBe(4);
    expect(info.commitIndex).toBe(n2.commitIndex);
    expect(info.members.map((m) => [m.id, m.role])).toEqual([
      ['n1', 'leader'],
      ['n2', 'follower'],
      ['n3', 'follower'],
    ]);
    expect(info.meta).toMatchObject({
      node: 'n2',
      leader: 'n1',
      term: 4,
      consistent: false,
      sinceLeaderContactMs: 40,
    });
    expectMeta(res, 'n2', n2.state.appliedIndex);
    expect(n2.consistentReads).toBe(0);
  });

  it('GET /v1/nodes: replicated records with liveness from reports', async () => {
    const { n1 } = threeNodeCluster();
    const res = await mount(n1).server.inject('GET', '/v1/nodes');
    const reply = body(NodesReply, res);
    expect(reply.nodes.map((n) => n.id)).toEqual(['n1', 'n2', 'n3']);
    const [a, b, c] = reply.nodes;
    expect(a!.record?.state).toBe('alive');
    // Two containers on n1, one still starting: only the healthy one counts.
    expect(a!.live).toMatchObject({
      containers: 2,
      running: { web: 1 },
      dockerReachable: true,
      reportAgeMs: 150,
    });
    expect(b!.live.running).toEqual({ web: 1 });
    expect(c!.live).toEqual({
      lastReportEpochMs: null,
      reportAgeMs: null,
      dockerReachable: null,
      containers: 0,
      running: {},
    });
  });

  it('GET /v1/services: desired, placement and running per node', async () => {
    const { n3 } = threeNodeCluster();
    const reply = body(ServicesReply, await mount(n3).server.inject('GET', '/v1/services'));
    expect(reply.services.map((s) => s.name)).toEqual(['api', 'web']);
    const web = reply.services[1]!;
    expect(web).toMatchObject({
      desiredReplicas: 3,
      placement: { n1: 2, n2: 1 },
      running: { n1: 1, n2: 1 },
      locked: false,
      deleted: false,
      reason: 'request rate above target',
    });
    expect(reply.services[0]!.locked).toBe(true);
  });

  it('GET /v1/services/{name}: record, figures over the window, forecast, recent commands', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const all = body(ServiceDetail, await server.inject('GET', '/v1/services/web'));
    expect(all.windowMs).toBe(300_000);
    expect(all.figures.n1).toHaveLength(2);
    expect(all.figures.n2).toHaveLength(1);
    expect(all.forecast).toEqual({
      time: 1_700_000_001_000,
      predictedRequestRatePerSecond: 44 * 1.1,
    });
    expect(all.recentCommands.map((c) => [c.id, c.status])).toEqual([
      ['c-2', 'refused'],
      ['c-1', 'done'],
    ]);
    expect(all.record.spec.maxReplicas).toBe(6);
    expect(all.lock).toBeNull();
    const narrow = body(ServiceDetail, await server.inject('GET', '/v1/services/web?window=500ms'));
    expect(narrow.windowMs).toBe(500);
    expect(Object.keys(narrow.figures)).toEqual(['n1']);
    expect(narrow.figures.n1).toHaveLength(1);
  });

  it('GET /v1/services/{name}/endpoints: healthy replicas with a published port, at the host address', async () => {
    const { n3 } = threeNodeCluster();
    const { server } = mount(n3);
    // The spec publishes no port yet: no container port, no endpoints (not an error).
    const none = body(EndpointsReply, await server.inject('GET', '/v1/services/web/endpoints'));
    expect(none).toMatchObject({ service: 'web', containerPort: null, endpoints: [] });
    n3.commit({
      type: 'service.put',
      at: 0,
      spec: { name: 'web', image: 'coxswain/busybox:latest', ports: [{ containerPort: 8080 }] },
    });
    const r = report('n2', 1_700_000_002_000, 2, 20);
    r.containers = r.containers.map((c, i) => ({
      ...c,
      ports: [{ containerPort: 8080, hostPort: 32768 + i }],
    }));
    n3.addReport(r);
    const res = await server.inject('GET', '/v1/services/web/endpoints');
    expectMeta(res, 'n3', n3.snapshot().appliedIndex);
    // n2's first replica is still starting; n1's report carries no published ports.
    expect(body(EndpointsReply, res)).toMatchObject({
      containerPort: 8080,
      endpoints: [{ node: 'n2', container: 'web-1', address: '127.0.0.1', port: 32769 }],
    });
    const bad = await server.inject('GET', '/v1/services/web/endpoints?port=9090');
    expect(bad.status).toBe(400);
    expect(body(ApiErrorBody, bad).error.issues?.[0]?.path).toBe('query.port');
    expect((await server.inject('GET', '/v1/services/nope/endpoints')).status).toBe(404);
  });

  it('GET /v1/commands: newest first, filtered, limited', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const all = body(CommandsReply, await server.inject('GET', '/v1/commands'));
    expect(all.commands.map((c) => c.id)).toEqual(['c-2', 'c-1']);
    expect(all.total).toBe(2);
    const refused = body(CommandsReply, await server.inject('GET', '/v1/commands?status=refused'));
    expect(refused.commands.map((c) => c.id)).toEqual(['c-2']);
    const one = body(CommandsReply, await server.inject('GET', '/v1/commands?limit=1&service=web'));
    expect(one.commands.map((c) => c.id)).toEqual(['c-2']);
    expect(one.total).toBe(2);
  });

  it('GET /v1/locks: holder, fencing token and lease left in the replicated clock', async () => {
    const { n1 } = threeNodeCluster();
    const reply = body(LocksReply, await mount(n1).server.inject('GET', '/v1/locks'));
    expect(reply.locks).toHaveLength(1);
    const lock = reply.locks[0]!;
    expect(lock).toMatchObject({
      service: 'api',
      holder: 'n1',
      term: 1,
      leaseMs: 15_000,
      expired: false,
    });
    expect(lock.token).toBe(n1.state.lock('api')!.token);
    expect(lock.remainingMs).toBe(15_000);
  });
});

describe('consistent reads', () => {
  it('?consistent=true waits for the read index and says so', async () => {
    const { n2 } = threeNodeCluster();
    const res = await mount(n2).server.inject('GET', '/v1/services?consistent=true');
    expect(res.status).toBe(200);
    expect(n2.consistentReads).toBe(1);
    expect(res.headers['x-coxswain-consistent']).toBe('true');
    expect(body(ServicesReply, res).meta.consistent).toBe(true);
  });

  it('503 with leader null when no leader can confirm it', async () => {
    const { n2 } = threeNodeCluster();
    n2.leaderId = null;
    n2.role = 'candidate';
    const res = await mount(n2).server.inject('GET', '/v1/cluster?consistent=true');
    expect(res.status).toBe(503);
    const error = body(ApiErrorBody, res);
    expect(error.error).toMatchObject({ code: 'COX_NO_LEADER', leader: null });
    expect(error.meta?.node).toBe('n2');
    // The same read without consistency is served from the replica.
    const local = await mount(n2).server.inject('GET', '/v1/cluster');
    expect(body(ClusterInfo, local).leader).toBeNull();
  });

  it('504 when the leader does not answer in time', async () => {
    const { n2 } = threeNodeCluster();
    n2.consistentReadDelayMs = 500;
    const res = await mount(n2, { consistentReadTimeoutMs: 50 }).server.inject(
      'GET',
      '/v1/locks?consistent=1',
    );
    expect(res.status).toBe(504);
    expect(body(ApiErrorBody, res).error.code).toBe('COX_TIMEOUT');
  });
});

describe('bad requests', () => {
  it('400 names the zod path of a bad query or path parameter', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const cases: Array<[string, string]> = [
      ['/v1/cluster?consistent=yes', 'query.consistent'],
      ['/v1/services/Not_A_Name', 'path.name'],
      ['/v1/services/web?window=forever', 'query.window'],
      ['/v1/services/web?window=2h', 'query.window'],
      ['/v1/commands?limit=0', 'query.limit'],
      ['/v1/commands?status=lost', 'query.status'],
      ['/v1/events?types=leader.elected,nonsense', 'query.types[1]'],
    ];
    for (const [url, path] of cases) {
      const res = await server.inject('GET', url);
      expect(res.status, url).toBe(400);
      const error = body(ApiErrorBody, res).error;
      expect(error.code).toBe('COX_INVALID_PAYLOAD');
      expect(
        error.issues?.map((i) => i.path),
        url,
      ).toContain(path);
      expectMeta(res, 'n1', n1.state.appliedIndex);
    }
  });

  it('404 for an unknown service', async () => {
    const { n1 } = threeNodeCluster();
    const res = await mount(n1).server.inject('GET', '/v1/services/nope');
    expect(res.status).toBe(404);
    expect(body(ApiErrorBody, res).error.code).toBe('COX_NO_SUCH_SERVICE');
  });
});

describe('writes', () => {
  const spec = { name: 'cart', image: 'coxswain/busybox:latest', minReplicas: 1, maxReplicas: 4 };

  it('401 without a token, with a wrong one, and when the node has none configured', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const none = await server.inject('PUT', '/v1/services/cart', spec);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    const wrong = await server.inject('PUT', '/v1/services/cart', spec, {
      authorization: 'Bearer nope-nope-nope',
    });
    expect(wrong.status).toBe(401);
    const malformed = await server.inject('DELETE', '/v1/services/web', undefined, {
      authorization: TOKEN,
    });
    expect(malformed.status).toBe(401);
    const open = mount(threeNodeCluster().n1, { token: undefined });
    const disabled = await open.server.inject(
      'POST',
      '/v1/services/web/scale',
      { replicas: 2 },
      auth,
    );
    expect(disabled.status).toBe(401);
    expect(body(ApiErrorBody, disabled).error.message).toMatch(/no api.token/);
    expect(n1.applied).toHaveLength(0);
  });

  it('authenticates before it validates', async () => {
    const { n1 } = threeNodeCluster();
    const res = await mount(n1).server.inject('PUT', '/v1/services/cart', { nonsense: true });
    expect(res.status).toBe(401);
  });

  it('400 names the zod path of a bad body', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const bad = await server.inject(
      'PUT',
      '/v1/services/cart',
      { ...spec, image: '', ports: [{ containerPort: 0 }] },
      auth,
    );
    expect(bad.status).toBe(400);
    const paths = body(ApiErrorBody, bad).error.issues?.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['body.image', 'body.ports[0].containerPort']));
    const refine = await server.inject(
      'PUT',
      '/v1/services/cart',
      { ...spec, minReplicas: 5 },
      auth,
    );
    expect(body(ApiErrorBody, refine).error.issues?.map((i) => i.path)).toEqual([
      'body.minReplicas',
    ]);
    const mismatch = await server.inject(
      'PUT',
      '/v1/services/cart',
      { ...spec, name: 'other' },
      auth,
    );
    expect(body(ApiErrorBody, mismatch).error.issues?.map((i) => i.path)).toEqual(['body.name']);
    const notJson = await server.inject('PUT', '/v1/services/cart', '{"name":', auth);
    expect(notJson.status).toBe(400);
    expect(body(ApiErrorBody, notJson).error.code).toBe('COX_MALFORMED_PAYLOAD');
    const scale = await server.inject('POST', '/v1/services/web/scale', { replicas: -1 }, auth);
    expect(body(ApiErrorBody, scale).error.issues?.map((i) => i.path)).toEqual(['body.replicas']);
    const node = await server.inject('DELETE', '/v1/nodes/bad.id', undefined, auth);
    expect(body(ApiErrorBody, node).error.issues?.map((i) => i.path)).toEqual(['path.id']);
    expect(n1.applied).toHaveLength(0);
  });

  it('the leader applies PUT, scale, DELETE of services and DELETE of a node', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const put = await server.inject('PUT', '/v1/services/cart', spec, auth);
    expect(put.status).toBe(200);
    expect(body(WriteReply, put)).toMatchObject({ ok: true, appliedBy: 'n1', specVersion: 1 });
    expect(n1.state.service('cart')?.spec.maxReplicas).toBe(4);
    expectMeta(put, 'n1', n1.state.appliedIndex);
    const scale = await server.inject('POST', '/v1/services/cart/scale', { replicas: 3 }, auth);
    expect(scale.status).toBe(200);
    const del = await server.inject('DELETE', '/v1/services/cart', undefined, auth);
    expect(del.status).toBe(200);
    expect(n1.state.service('cart')?.deleted).toBe(true);
    const node = await server.inject('DELETE', '/v1/nodes/n3', undefined, auth);
    expect(node.status).toBe(200);
    expect(n1.state.node('n3')?.state).toBe('removed');
    expect(n1.applied.map((w) => w.op)).toEqual([
      'service.apply',
      'service.scale',
      'service.delete',
      'node.declare',
    ]);
    // The bearer token rides along, so the leader can check it again.
    expect(n1.applied.every((w) => w.token === TOKEN)).toBe(true);
  });

  it('a follower forwards the write to the leader', async () => {
    const { n1, n3 } = threeNodeCluster();
    const res = await mount(n3).server.inject('PUT', '/v1/services/cart', spec, auth);
    expect(res.status).toBe(200);
    expect(body(WriteReply, res)).toMatchObject({ appliedBy: 'n1', meta: { node: 'n3' } });
    expect(n1.applied).toHaveLength(1);
    expect(n3.applied).toHaveLength(0);
  });

  it('the leader refusing maps to 404', async () => {
    const { n2 } = threeNodeCluster();
    const { server } = mount(n2);
    const svc = await server.inject('DELETE', '/v1/services/ghost', undefined, auth);
    expect(svc.status).toBe(404);
    expect(body(ApiErrorBody, svc).error.code).toBe('COX_NO_SUCH_SERVICE');
    const node = await server.inject('DELETE', '/v1/nodes/n9', undefined, auth);
    expect(node.status).toBe(404);
  });

  it('503 with leader null when there is no leader', async () => {
    const { n2 } = threeNodeCluster();
    n2.leaderId = null;
    n2.role = 'follower';
    const res = await mount(n2).server.inject('PUT', '/v1/services/cart', spec, auth);
    expect(res.status).toBe(503);
    expect(body(ApiErrorBody, res).error).toMatchObject({ code: 'COX_NO_LEADER', leader: null });
  });

  it('503 names the leader address when the leader is known but unreachable', async () => {
    const { n2 } = threeNodeCluster();
    n2.peers.clear();
    const res = await mount(n2).server.inject('DELETE', '/v1/services/web', undefined, auth);
    expect(res.status).toBe(503);
    expect(body(ApiErrorBody, res).error.leader).toBe('http://127.0.0.1:7010');
  });

  it('compares tokens without leaking length', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
  });
});

describe('events', () => {
  it('in-process: answers with the replayed backlog as SSE frames', async () => {
    const { n1 } = threeNodeCluster();
    n1.events.emit({ type: 'leader.elected', message: 'n1 elected', data: { term: 1 } });
    n1.events.emit({ type: 'command.issued', message: 'c-1' });
    n1.events.emit({ type: 'command.done', message: 'c-1 done' });
    const { server } = mount(n1);
    const res = await server.inject(
      'GET',
      '/v1/events?replay=10&types=command.issued,command.done',
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const frames = new SseParser().push(res.body);
    expect(frames.map((f) => f.event)).toEqual(['command.issued', 'command.done']);
    expect(frames.map((f) => f.id)).toEqual(['2', '3']);
    expect(ClusterEvent.parse(JSON.parse(frames[0]!.data)).message).toBe('c-1');
    const since = await server.inject('GET', '/v1/events', undefined, { 'last-event-id': '2' });
    expect(new SseParser().push(since.body).map((f) => f.id)).toEqual(['3']);
  });

  it('over a real socket: streams live events, resumes with Last-Event-ID, ends on close', async () => {
    const { n2 } = threeNodeCluster();
    n2.events.emit({ type: 'node.joined', message: 'n3 joined' });
    const m = mount(n2);
    const port = await m.server.listen();
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/v1/events?types=leader.elected,node.joined`, {
      headers: { 'last-event-id': '0' },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-coxswain-node')).toBe('n2');
    const reader = res.body!.getReader();
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const received: string[] = [];
    const readUntil = async (n: number): Promise<void> => {
      while (received.length < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended early');
        for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
          received.push(`${frame.id}:${frame.event}`);
        }
      }
    };
    await readUntil(1);
    expect(m.api.eventStreams).toBe(1);
    n2.events.emit({ type: 'command.issued', message: 'filtered out' });
    n2.events.emit({
      type: 'leader.elected',
      message: 'n2 elected',
      data: { term: 5, electionMs: 312 },
    });
    // An event from another node, as NATS delivers it.
    const foreign = ClusterEvent.parse({
      v: 1,
      type: 'node.joined',
      time: 1,
      nodeId: 'n3',
      message: 'n4 joined',
    });
    expect(n2.events.ingest(JSON.stringify(foreign))).toBe(true);
    await readUntil(3);
    expect(received).toEqual(['1:node.joined', '3:leader.elected', '4:node.joined']);
    controller.abort();
    await reader.cancel().catch(() => {});
    await expect.poll(() => m.api.eventStreams).toBe(0);
    expect(n2.events.listenerCount).toBe(0);
  });
});

describe('documents and the real socket', () => {
  it('serves the dashboard at / and the OpenAPI document', async () => {
    const { n1 } = threeNodeCluster();
    const { server } = mount(n1);
    const page = await server.inject('GET', '/');
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<title>coxswain</title>');
    const doc = await server.inject('GET', '/v1/openapi.json');
    expect(doc.json<{ openapi: string }>().openapi).toBe('3.1.0');
  });

  it('answers through a socket on port 0 with the same meta headers', async () => {
    const { n1, n2 } = threeNodeCluster();
    const leader = mount(n1);
    const follower = mount(n2);
    const port = await follower.server.listen();
    await leader.server.listen();
    const res = await fetch(`http://127.0.0.1:${port}/v1/cluster`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-coxswain-node')).toBe('n2');
    expect(res.headers.get('x-coxswain-applied-index')).toBe(String(n2.state.appliedIndex));
    ClusterInfo.parse(await res.json());
    const put = await fetch(`http://127.0.0.1:${port}/v1/services/cart`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cart', image: 'x' }),
    });
    expect(put.status).toBe(200);
    expect(WriteReply.parse(await put.json()).appliedBy).toBe('n1');
    const unauth = await fetch(`http://127.0.0.1:${port}/v1/services/cart`, { method: 'DELETE' });
    expect(unauth.status).toBe(401);
    ApiErrorBody.parse(await unauth.json());
  });
});
