/**
 * What the cluster API's route modules share: the options, request parsing,
 * the `meta` every answer carries, error bodies, and the read and write
 * wrappers (read-routes.ts, write-routes.ts, event-routes.ts).
 */

import { randomUUID } from 'node:crypto';
import type { JsonObject } from '@coxswain/client';
import type { ClusterHealth } from '@coxswain/protocol';
import {
  API_ERROR_HTTP_STATUS,
  type ApiErrorBody,
  type ApiMeta,
  type ApiReply,
  type ClusterStateSnapshot,
  decode,
  IdempotencyKey,
  InvalidPayloadError,
  type NodeLiveness,
  type SchemaIssue,
  validate,
  type WriteReply,
} from '@coxswain/protocol';
import type { z } from 'zod';
import type { HttpResponse, RequestContext } from '../http-server.js';
import { ApiError, UnauthorizedError } from './api-errors.js';
import { type ApiWrite, type ClusterView, NoLeaderError, type ReportView } from './cluster-view.js';
import type { DecisionSource } from './insight-routes.js';
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
  /** The leader's decision log for `/v1/services/{name}/decisions` (insight-routes.ts). */
  readonly decisions?: DecisionSource;
  /** Raft health for `/v1/cluster`'s `health` (cluster-metrics.ts); null off the leader. */
  readonly health?: () => ClusterHealth | null;
}

export interface ClusterApi {
  readonly openapi: JsonObject;
  /** Open `/v1/events` streams. */
  readonly eventStreams: number;
  /** Ends every event stream (on shutdown, before the server closes). */
  close(): void;
}

export const DEFAULT_WINDOW_MS = 5 * 60_000;
export const MAX_WINDOW_MS = 60 * 60_000;
export const DEFAULT_COMMAND_LIMIT = 100;
export const MAX_COMMAND_LIMIT = 1000;
export const RECENT_COMMANDS_PER_SERVICE = 20;
/** A stream whose client reads slower than events arrive is cut rather than buffered without end. */
export const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;

export const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** How much sooner than the HTTP answer's timeout the write itself stops starting work. */
const WRITE_DEADLINE_MARGIN_MS = 500;

/** A 504 or 503 on a write says how to find out whether it applied, and how to retry it safely. */
function withRetryHint(error: unknown, key: string | undefined): unknown {
  if (key === undefined || !(error instanceof ApiError)) return error;
  if (error.httpStatus !== 504 && error.httpStatus !== 503) return error;
  if (error.message.includes('Idempotency-Key')) return error;
  const hint =
    error.httpStatus === 504
      ? `; the write may still apply: check GET /v1/writes/${key}, or retry with the same Idempotency-Key`
      : '; retry with the same Idempotency-Key';
  return new ApiError(error.httpStatus, error.code, `${error.message}${hint}`, {
    ...(error.issues ? { issues: error.issues } : {}),
    ...(error.leader !== undefined ? { leader: error.leader } : {}),
  });
}

export function headerValue(headers: RequestContext['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function queryObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) out[key] = value;
  return out;
}

export function prefixed(issues: readonly SchemaIssue[], prefix: string): SchemaIssue[] {
  return issues.map((i) => ({
    path: i.path === '(root)' ? prefix : `${prefix}.${i.path}`,
    message: i.message,
  }));
}

export function badRequest(where: string, issues: readonly SchemaIssue[]): ApiError {
  const list = issues.map((i) => `at ${i.path}: ${i.message}`).join('; ');
  return new ApiError(400, 'COX_INVALID_PAYLOAD', `${where}: ${list}`, { issues });
}

export function issuesOfResult(error: Error): SchemaIssue[] {
  return error instanceof InvalidPayloadError
    ? [...error.issues]
    : [{ path: '(root)', message: error.message }];
}

export function parseQuery<S extends z.ZodType>(schema: S, ctx: RequestContext): z.output<S> {
  const checked = validate(schema, queryObject(ctx.query), 'query');
  if (!checked.ok)
    throw badRequest('query string', prefixed(issuesOfResult(checked.error), 'query'));
  return checked.value;
}

export function parseParam<S extends z.ZodType>(
  schema: S,
  ctx: RequestContext,
  name: string,
): z.output<S> {
  const checked = validate(schema, ctx.params[name], `path parameter ${name}`);
  if (!checked.ok)
    throw badRequest('path', prefixed(issuesOfResult(checked.error), `path.${name}`));
  return checked.value;
}

export function parseBody<S extends z.ZodType>(schema: S, ctx: RequestContext): z.output<S> {
  const decoded = decode(schema, ctx.body === '' ? 'null' : ctx.body, { where: 'request body' });
  if (decoded.ok) return decoded.value;
  const error = decoded.error;
  if (error instanceof InvalidPayloadError) {
    throw badRequest('request body', prefixed(error.issues, 'body'));
  }
  const status = error.code === 'COX_PAYLOAD_TOO_LARGE' ? 413 : 400;
  throw new ApiError(status, error.code, error.message, { cause: error });
}

export function parseDurationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text)!;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

export function isTrue(flag: string | undefined): boolean {
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

export function runningOf(
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

export function liveness(view: ReportView | undefined): NodeLiveness {
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

/** The meta, headers and bodies of every answer (errors included). */
function createReplies(options: ClusterApiOptions) {
  const view = options.view;
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

  return { meta, metaHeaders, jsonReply, errorReply };
}

export function createRouteKit(options: ClusterApiOptions) {
  const view = options.view;
  const consistentReadTimeoutMs = options.consistentReadTimeoutMs ?? 5000;
  const writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  const maxEventStreams = options.maxEventStreams ?? 256;
  const heartbeatMs = options.eventHeartbeatMs ?? 15_000;
  const streams = new Set<() => void>();
  const { meta, metaHeaders, jsonReply, errorReply } = createReplies(options);

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

  const replyToResponse = (reply: ApiReply, key?: string): HttpResponse => {
    const m = meta(false);
    if (reply.ok) {
      const body: WriteReply = { meta: m, ok: true, appliedBy: reply.servedBy };
      if (reply.specVersion !== undefined) body.specVersion = reply.specVersion;
      if (key !== undefined) body.key = key;
      if (reply.replayed) body.replayed = true;
      if (reply.accepted) body.accepted = true;
      if (reply.commandsPending !== undefined) body.commandsPending = reply.commandsPending;
      const response = jsonReply(body, m, reply.accepted ? 202 : 200);
      return key === undefined
        ? response
        : { ...response, headers: { ...response.headers, 'idempotency-key': key } };
    }
    const leaderId = view.status().leaderId;
    const noLeader = reply.code === 'COX_NO_LEADER' || reply.code === 'COX_NOT_LEADER';
    throw new ApiError(API_ERROR_HTTP_STATUS[reply.code], reply.code, reply.message, {
      ...(noLeader ? { leader: leaderId ? view.apiAddressOf(leaderId) : null } : {}),
    });
  };

  /** The write's idempotency key: the client's `Idempotency-Key` header, or a new one. */
  const keyOf = (ctx: RequestContext): string => {
    const given = headerValue(ctx.headers, 'idempotency-key');
    if (given === undefined) return randomUUID();
    const checked = validate(IdempotencyKey, given, 'Idempotency-Key header');
    if (!checked.ok)
      throw badRequest(
        'headers',
        prefixed(issuesOfResult(checked.error), 'headers.idempotency-key'),
      );
    return checked.value;
  };

  /**
   * A write: authenticate first (an unauthenticated caller learns nothing from
   * validation), then apply through the leader. The write carries its key and
   * its deadline (a little before this answer's timeout): after that nothing
   * of it starts, and a 504 says how to find out whether it applied.
   */
  const write =
    (route: string, build: (ctx: RequestContext, token: string) => ApiWrite) =>
    async (ctx: RequestContext): Promise<HttpResponse> => {
      let key: string | undefined;
      try {
        const token = authenticate(ctx);
        key = keyOf(ctx);
        const deadlineMs = Math.max(100, writeTimeoutMs - WRITE_DEADLINE_MARGIN_MS);
        const request = { ...build(ctx, token), key, deadlineMs } as ApiWrite;
        const reply = await withTimeout(view.submit(request), writeTimeoutMs, 'write');
        return replyToResponse(reply, key);
      } catch (error) {
        const response = errorReply(route, withRetryHint(error, key));
        return key === undefined
          ? response
          : { ...response, headers: { ...response.headers, 'idempotency-key': key } };
      }
    };

  return {
    view,
    health: options.health,
    consistentReadTimeoutMs,
    writeTimeoutMs,
    maxEventStreams,
    heartbeatMs,
    streams,
    meta,
    metaHeaders,
    jsonReply,
    errorReply,
    withTimeout,
    read,
    authenticate,
    replyToResponse,
    write,
  };
}

export type RouteKit = ReturnType<typeof createRouteKit>;
