/**
 * The cluster state API, mounted on the agent's router: reads served from the
 * local replica with their freshness, `?consistent=true` reads through the
 * leader (ReadIndex), authenticated writes applied through the leader, the
 * `/v1/events` Server-Sent Events stream, the generated OpenAPI document and
 * the dashboard.
 *
 * Every answer, errors included, says who answered and how fresh its replica
 * is: the `meta` field of JSON bodies and the `X-Coxswain-*` headers, so a
 * client reading from a lagging follower can tell.
 */
import {
  type ApiErrorBody,
  type ApiMeta,
  type ApiReply,
  ClusterEventType,
  type ClusterInfo,
  type ClusterStateSnapshot,
  type CommandRecord,
  CommandsQuery,
  type CommandsReply,
  decode,
  EventsQuery,
  InvalidPayloadError,
  type LocksReply,
  Name,
  NodeId,
  type NodeLiveness,
  type NodesReply,
  PROTOCOL_VERSION,
  type RaftRole,
  ReadQuery,
  type SchemaIssue,
  type ServiceDetail,
  ServiceQuery,
  ServiceScaleBody,
  ServiceSpec,
  type ServicesReply,
  validate,
  type WriteReply,
} from '@coxswain/protocol';
import type { z } from 'zod';
import type { StoredEvent } from '../events.js';
import type { HttpResponse, RequestContext, Router } from '../http-server.js';
import type { JsonObject } from '../openapi.js';
import { buildClusterApiDocument } from './api-document.js';
import { ApiError, UnauthorizedError } from './api-errors.js';
import { type ApiWrite, type ClusterView, NoLeaderError, type ReportView } from './cluster-view.js';
import { sseFrame } from './sse.js';
import { tokenMatches } from './token.js';

export interface RejectionCounter {
  inc(labels: Readonly<Record<string, string>>): void;
}

export interface ClusterApiOptions {
  readonly view: ClusterView;
  /** `api.token` from the agent config; when unset every write is refused. */
  readonly token?: string | undefined;
  /** How long a consistent read waits for the leader (default 5 s). */
  readonly consistentReadTimeoutMs?: number;
  /** How long a write waits for the leader to apply it (default 10 s). */
  readonly writeTimeoutMs?: number;
  /** Concurrent `/v1/events` streams (default 256). */
  readonly maxEventStreams?: number;
  /** Comment lines that keep idle streams open through proxies (default 15 s). */
  readonly eventHeartbeatMs?: number;
  /** The dashboard page served at `/`; omitted, `/` is not mounted. */
  readonly dashboardHtml?: () => string;
  /** Counts refused requests by {route, code} (`coxswain_api_rejected_total`). */
  readonly rejected?: RejectionCounter;
  /** Agent version for the OpenAPI document. */
  readonly version?: string;
}

export interface ClusterApi {
  readonly openapi: JsonObject;
  /** Open `/v1/events` streams. */
  readonly eventStreams: number;
  /** Ends every event stream (on shutdown, before the server closes). */
  close(): void;
}

const DEFAULT_WINDOW_MS = 5 * 60_000;
const MAX_WINDOW_MS = 60 * 60_000;
const DEFAULT_COMMAND_LIMIT = 100;
const MAX_COMMAND_LIMIT = 1000;
const RECENT_COMMANDS_PER_SERVICE = 20;
/** A stream whose client reads slower than events arrive is cut rather than buffered without end. */
const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const STATUS_BY_REPLY_CODE: Record<string, number> = {
  COX_UNAUTHORIZED: 401,
  COX_NOT_LEADER: 503,
  COX_NO_LEADER: 503,
  COX_INVALID_PAYLOAD: 400,
  COX_LOCK_HELD: 409,
  COX_NO_SUCH_SERVICE: 404,
  COX_NO_SUCH_NODE: 404,
  COX_TIMEOUT: 504,
  COX_INTERNAL: 500,
};

function headerValue(headers: RequestContext['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function queryObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) out[key] = value;
  return out;
}

function prefixed(issues: readonly SchemaIssue[], prefix: string): SchemaIssue[] {
  return issues.map((i) => ({
    path: i.path === '(root)' ? prefix : `${prefix}.${i.path}`,
    message: i.message,
  }));
}

function badRequest(where: string, issues: readonly SchemaIssue[]): ApiError {
  const list = issues.map((i) => `at ${i.path}: ${i.message}`).join('; ');
  return new ApiError(400, 'COX_INVALID_PAYLOAD', `${where}: ${list}`, { issues });
}

function issuesOfResult(error: Error): SchemaIssue[] {
  return error instanceof InvalidPayloadError
    ? [...error.issues]
    : [{ path: '(root)', message: error.message }];
}

function parseQuery<S extends z.ZodType>(schema: S, ctx: RequestContext): z.output<S> {
  const checked = validate(schema, queryObject(ctx.query), 'query');
  if (!checked.ok)
    throw badRequest('query string', prefixed(issuesOfResult(checked.error), 'query'));
  return checked.value;
}

function parseParam<S extends z.ZodType>(
  schema: S,
  ctx: RequestContext,
  name: string,
): z.output<S> {
  const checked = validate(schema, ctx.params[name], `path parameter ${name}`);
  if (!checked.ok)
    throw badRequest('path', prefixed(issuesOfResult(checked.error), `path.${name}`));
  return checked.value;
}

function parseBody<S extends z.ZodType>(schema: S, ctx: RequestContext): z.output<S> {
  const decoded = decode(schema, ctx.body === '' ? 'null' : ctx.body, { where: 'request body' });
  if (decoded.ok) return decoded.value;
  const error = decoded.error;
  if (error instanceof InvalidPayloadError) {
    throw badRequest('request body', prefixed(error.issues, 'body'));
  }
  const status = error.code === 'COX_PAYLOAD_TOO_LARGE' ? 413 : 400;
  throw new ApiError(status, error.code, error.message, { cause: error });
}

function parseDurationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text)!;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

function isTrue(flag: string | undefined): boolean {
  return flag === 'true' || flag === '1';
}

/** Healthy replicas (or running ones, without a health check) per service in one report. */
export function runningByService(view: ReportView | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!view) return out;
  for (const c of view.report.containers) {
    const counts = c.health === 'healthy' || (c.health === 'none' && c.status === 'running');
    if (counts) out[c.service] = (out[c.service] ?? 0) + 1;
  }
  return out;
}

function runningOf(
  service: string,
  reports: ReadonlyMap<string, ReportView>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [nodeId, view] of reports) {
    const n = runningByService(view)[service];
    if (n !== undefined && n > 0) out[nodeId] = n;
  }
  return out;
}

function liveness(view: ReportView | undefined): NodeLiveness {
  if (!view) {
    return {
      lastReportEpochMs: null,
      reportAgeMs: null,
      dockerReachable: null,
      containers: 0,
      running: {},
    };
  }
  return {
    lastReportEpochMs: view.report.time,
    reportAgeMs: Math.max(0, Math.round(view.ageMs)),
    dockerReachable: view.report.dockerReachable,
    containers: view.report.containers.length,
    running: runningByService(view),
  };
}

export function registerClusterApi(router: Router, options: ClusterApiOptions): ClusterApi {
  const view = options.view;
  const consistentReadTimeoutMs = options.consistentReadTimeoutMs ?? 5000;
  const writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  const maxEventStreams = options.maxEventStreams ?? 256;
  const heartbeatMs = options.eventHeartbeatMs ?? 15_000;
  const streams = new Set<() => void>();
  const openapi = buildClusterApiDocument(options.version ?? '0.1.0');

  const meta = (consistent: boolean): ApiMeta => {
    const s = view.status();
    return {
      node: view.nodeId,
      appliedIndex: s.appliedIndex,
      leader: s.leaderId,
      term: s.term,
      consistent,
      sinceLastApplyMs: s.sinceLastApplyMs === null ? null : Math.round(s.sinceLastApplyMs),
      sinceLeaderContactMs:
        s.sinceLeaderContactMs === null ? null : Math.round(s.sinceLeaderContactMs),
    };
  };

  const metaHeaders = (m: ApiMeta): Record<string, string> => ({
    'x-coxswain-node': m.node,
    'x-coxswain-applied-index': String(m.appliedIndex),
    'x-coxswain-term': String(m.term),
    'x-coxswain-leader': m.leader ?? '',
    'x-coxswain-consistent': String(m.consistent),
    'cache-control': 'no-store',
  });

  const jsonReply = (body: unknown, m: ApiMeta, status = 200): HttpResponse => ({
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...metaHeaders(m) },
    body: JSON.stringify(body),
  });

  const errorReply = (route: string, error: unknown): HttpResponse => {
    let status = 500;
    let body: ApiErrorBody;
    const m = meta(false);
    if (error instanceof ApiError) {
      status = error.httpStatus;
      body = { meta: m, error: { code: error.code, message: error.message } };
      if (error.issues) body.error.issues = [...error.issues];
      if (error.leader !== undefined) body.error.leader = error.leader;
    } else if (error instanceof NoLeaderError) {
      status = 503;
      body = {
        meta: m,
        error: { code: error.code, message: error.message, leader: error.leaderAddress },
      };
    } else {
      body = {
        meta: m,
        error: {
          code: 'COX_INTERNAL',
          message: error instanceof Error ? error.message : String(error),
        },
      };
    }
    options.rejected?.inc({ route, code: body.error.code });
    const response = jsonReply(body, m, status);
    if (status === 401) {
      return {
        ...response,
        headers: { ...response.headers, 'www-authenticate': 'Bearer realm="coxswain"' },
      };
    }
    return response;
  };

  const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ApiError(504, 'COX_TIMEOUT', `${what} took longer than ${ms} ms`)),
        ms,
      );
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });

  /** A read: parse the query, optionally wait for the leader's read index, then answer from the local replica. */
  const read =
    <Q extends z.ZodType>(
      route: string,
      querySchema: Q,
      build: (
        ctx: RequestContext,
        query: z.output<Q>,
        snapshot: ClusterStateSnapshot,
        m: ApiMeta,
      ) => unknown,
    ) =>
    async (ctx: RequestContext): Promise<HttpResponse> => {
      try {
        const query = parseQuery(querySchema, ctx);
        const consistent = isTrue((query as { consistent?: string }).consistent);
        if (consistent)
          await withTimeout(view.consistentRead(), consistentReadTimeoutMs, 'consistent read');
        else if (view.beforeRead) await view.beforeRead();
        const m = meta(consistent);
        return jsonReply(build(ctx, query, view.snapshot(), m), m);
      } catch (error) {
        return errorReply(route, error);
      }
    };

  const authenticate = (ctx: RequestContext): string => {
    if (!options.token)
      throw new UnauthorizedError('writes are disabled on this node: no api.token is configured');
    const header = headerValue(ctx.headers, 'authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new UnauthorizedError('missing "Authorization: Bearer <api token>"');
    if (!tokenMatches(match[1]!, options.token))
      throw new UnauthorizedError('the API token does not match');
    return match[1]!;
  };

  const replyToResponse = (reply: ApiReply): HttpResponse => {
    const m = meta(false);
    if (reply.ok) {
      const body: WriteReply = { meta: m, ok: true, appliedBy: reply.servedBy };
      if (reply.specVersion !== undefined) body.specVersion = reply.specVersion;
      return jsonReply(body, m);
    }
    const leaderId = view.status().leaderId;
    const noLeader = reply.code === 'COX_NO_LEADER' || reply.code === 'COX_NOT_LEADER';
    throw new ApiError(STATUS_BY_REPLY_CODE[reply.code] ?? 500, reply.code, reply.message, {
      ...(noLeader ? { leader: leaderId ? view.apiAddressOf(leaderId) : null } : {}),
    });
  };

  /** A write: authenticate first (an unauthenticated caller learns nothing from validation), then apply through the leader. */
  const write =
    (route: string, build: (ctx: RequestContext, token: string) => ApiWrite) =>
    async (ctx: RequestContext): Promise<HttpResponse> => {
      try {
        const token = authenticate(ctx);
        const request = build(ctx, token);
        const reply = await withTimeout(view.submit(request), writeTimeoutMs, 'write');
        return replyToResponse(reply);
      } catch (error) {
        return errorReply(route, error);
      }
    };

  // --- reads -------------------------------------------------------------

  router.add(
    'GET',
    '/v1/cluster',
    read('/v1/cluster', ReadQuery, (_ctx, _q, snapshot, m): ClusterInfo => {
      const s = view.status();
      const memberRole = (id: string, voter: boolean): RaftRole | null => {
        if (id === view.nodeId) return s.role;
        if (id === s.leaderId) return 'leader';
        if (!voter) return 'learner';
        // Membership says voter; without a leader we cannot tell follower from candidate.
        return s.leaderId ? 'follower' : null;
      };
      return {
        meta: m,
        cluster: view.cluster,
        role: s.role,
        leader: s.leaderId ? { id: s.leaderId, address: view.apiAddressOf(s.leaderId) } : null,
        term: s.term,
        commitIndex: s.commitIndex,
        appliedIndex: snapshot.appliedIndex,
        members: s.members.map((member) => ({
          id: member.id,
          voter: member.voter,
          address: snapshot.nodes[member.id]?.address ?? null,
          role: memberRole(member.id, member.voter),
        })),
      };
    }),
  );

  router.add(
    'GET',
    '/v1/nodes',
    read('/v1/nodes', ReadQuery, (_ctx, _q, snapshot, m): NodesReply => {
      const reports = view.reports();
      const ids = new Set([...Object.keys(snapshot.nodes), ...reports.keys()]);
      return {
        meta: m,
        nodes: [...ids].sort().map((id) => ({
          id,
          record: snapshot.nodes[id] ?? null,
          live: liveness(reports.get(id)),
        })),
      };
    }),
  );

  router.add(
    'GET',
    '/v1/services',
    read('/v1/services', ReadQuery, (_ctx, _q, snapshot, m): ServicesReply => {
      const reports = view.reports();
      return {
        meta: m,
        services: Object.entries(snapshot.services)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, record]) => {
            const summary: ServicesReply['services'][number] = {
              name,
              image: record.spec.image,
              specVersion: record.specVersion,
              desiredReplicas: record.desiredReplicas,
              manualReplicas: record.manualReplicas,
              placement: record.placement,
              running: runningOf(name, reports),
              locked: snapshot.locks[name] !== undefined,
              deleted: record.deleted,
            };
            if (record.reason !== undefined) summary.reason = record.reason;
            return summary;
          }),
      };
    }),
  );

  router.add(
    'GET',
    '/v1/services/:name',
    read(
      '/v1/services/{name}',
      ServiceQuery,
      (ctx, query, snapshot, m): z.output<typeof ServiceDetail> => {
        const name = parseParam(Name, ctx, 'name');
        const record = snapshot.services[name];
        if (!record)
          throw new ApiError(404, 'COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(name)}`);
        const windowMs = query.window ? parseDurationMs(query.window) : DEFAULT_WINDOW_MS;
        if (windowMs <= 0 || windowMs > MAX_WINDOW_MS) {
          throw badRequest('query string', [
            { path: 'query.window', message: 'must be between 1ms and 1h' },
          ]);
        }
        const figures = view.figures(name, windowMs);
        let forecast: z.output<typeof ServiceDetail>['forecast'] = null;
        for (const series of Object.values(figures)) {
          for (const f of series) {
            if (f.predictedRequestRatePerSecond === undefined) continue;
            if (!forecast || f.time > forecast.time) {
              forecast = {
                time: f.time,
                predictedRequestRatePerSecond: f.predictedRequestRatePerSecond,
              };
            }
          }
        }
        const recentCommands: CommandRecord[] = [];
        for (
          let i = snapshot.commands.length - 1;
          i >= 0 && recentCommands.length < RECENT_COMMANDS_PER_SERVICE;
          i--
        ) {
          const c = snapshot.commands[i]!;
          if (c.service === name) recentCommands.push(c);
        }
        return {
          meta: m,
          name,
          record,
          running: runningOf(name, view.reports()),
          lock: snapshot.locks[name] ?? null,
          windowMs,
          figures,
          forecast,
          recentCommands,
        };
      },
    ),
  );

  router.add(
    'GET',
    '/v1/commands',
    read('/v1/commands', CommandsQuery, (_ctx, query, snapshot, m): CommandsReply => {
      const limit = query.limit === undefined ? DEFAULT_COMMAND_LIMIT : Number(query.limit);
      if (limit < 1 || limit > MAX_COMMAND_LIMIT) {
        throw badRequest('query string', [
          { path: 'query.limit', message: `must be between 1 and ${MAX_COMMAND_LIMIT}` },
        ]);
      }
      const matching = snapshot.commands.filter(
        (c) =>
          (!query.service || c.service === query.service) &&
          (!query.status || c.status === query.status),
      );
      return { meta: m, commands: matching.slice(-limit).reverse(), total: matching.length };
    }),
  );

  router.add(
    'GET',
    '/v1/locks',
    read(
      '/v1/locks',
      ReadQuery,
      (_ctx, _q, snapshot, m): LocksReply => ({
        meta: m,
        locks: Object.values(snapshot.locks)
          .sort((a, b) => a.service.localeCompare(b.service))
          .map((lock) => {
            const remainingMs = Math.max(0, lock.acquiredAtMs + lock.leaseMs - snapshot.clockMs);
            return { ...lock, remainingMs, expired: remainingMs === 0 };
          }),
      }),
    ),
  );

  // --- writes ------------------------------------------------------------

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

  // --- events ------------------------------------------------------------

  router.add('GET', '/v1/events', async (ctx) => {
    try {
      const query = parseQuery(EventsQuery, ctx);
      let types: Set<string> | undefined;
      if (query.types) {
        const list = query.types.split(',');
        const issues: SchemaIssue[] = [];
        list.forEach((t, i) => {
          if (!ClusterEventType.safeParse(t).success) {
            issues.push({
              path: `query.types[${i}]`,
              message: `unknown event type ${JSON.stringify(t)}`,
            });
          }
        });
        if (issues.length > 0) throw badRequest('query string', issues);
        types = new Set(list);
      }
      const lastEventId = headerValue(ctx.headers, 'last-event-id');
      const sinceText = lastEventId ?? query.since;
      let backlog: StoredEvent[] = [];
      if (sinceText !== undefined) {
        if (!/^\d+$/.test(sinceText)) {
          throw badRequest('request', [{ path: 'header.last-event-id', message: 'an event id' }]);
        }
        backlog = view.events.recent({ since: Number(sinceText), ...(types ? { types } : {}) });
      } else if (query.replay !== undefined) {
        backlog = view.events.recent({ limit: Number(query.replay), ...(types ? { types } : {}) });
      }
      const m = meta(false);
      const headers = {
        ...metaHeaders(m),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      };
      const raw = ctx.raw;
      if (!raw || query.follow === 'false' || ctx.method === 'HEAD') {
        // Asked not to follow, or in-process (inject, no socket to hold open): the backlog alone.
        return { status: 200, headers, body: backlog.map(sseFrame).join('') };
      }
      if (streams.size >= maxEventStreams) {
        throw new ApiError(
          503,
          'COX_TOO_MANY_STREAMS',
          `already ${streams.size} event streams open on this node`,
        );
      }
      const { res } = raw;
      res.writeHead(200, { ...headers, connection: 'keep-alive' });
      res.write(`retry: 2000\n: coxswain events from ${view.nodeId}\n\n`);
      for (const stored of backlog) res.write(sseFrame(stored));
      let closed = false;
      const unsubscribe = view.events.subscribe((stored) => {
        if (types && !types.has(stored.event.type)) return;
        if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
          end();
          return;
        }
        res.write(sseFrame(stored));
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      heartbeat.unref();
      const end = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(end);
        if (!res.writableEnded) res.end();
      };
      streams.add(end);
      // Not req 'close': since Node 16 it fires once the request body is read, not when the client leaves.
      res.on('close', end);
      res.on('error', end);
      return undefined;
    } catch (error) {
      return errorReply('/v1/events', error);
    }
  });

  // --- documents ---------------------------------------------------------

  router.add('GET', '/v1/openapi.json', () => {
    const m = meta(false);
    return jsonReply(openapi, m);
  });

  const dashboard = options.dashboardHtml;
  if (dashboard) {
    router.add('GET', '/', () => ({
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', ...metaHeaders(meta(false)) },
      body: dashboard(),
    }));
  }

  return {
    openapi,
    get eventStreams() {
      return streams.size;
    },
    close() {
      for (const end of [...streams]) end();
    },
  };
}
