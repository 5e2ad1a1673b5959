/**
 * A client of the cluster state API, for the CLI, chaos probes and tests.
 * Every answer is validated with the schema the server answers in, so a
 * version skew shows as a clear error naming the field, not as `undefined`
 * further down.
 */
import {
  AgentOperationsReply,
  ApiErrorBody,
  ClusterEvent,
  ClusterHealth,
  ClusterInfo,
  CommandsReply,
  CoxswainError,
  DecisionsReply,
  decode,
  EndpointsReply,
  LocksReply,
  NodesReply,
  ServiceDetail,
  type ServiceSpecInput,
  ServicesReply,
  WriteReply,
  WriteStatusReply,
} from '@coxswain/protocol';
import { z } from 'zod';
import { SseParser } from './sse.js';

export interface ApiClientOptions {
  /** `http://host:port` of any agent. */
  readonly baseUrl: string;
  /** The API token; needed for writes only. */
  readonly token?: string | undefined;
  /** Per request, not for event streams (default 10 s). */
  readonly timeoutMs?: number;
  /** Retries of a write answered 503/504 or not answered at all, with the same idempotency key (default 4). */
  readonly writeRetries?: number;
  /** First pause before a retry, doubled each time up to 2 s (default 250 ms). */
  readonly retryDelayMs?: number;
}

/** Per call: overrides the client's request timeout (a manual scale waits for its command). */
export interface RequestOptions {
  readonly timeoutMs?: number;
  /** Writes: the idempotency key (generated when absent); every retry sends the same. */
  readonly idempotencyKey?: string;
  /** Writes: overrides the client's `writeRetries`. */
  readonly retries?: number;
  /** Writes: called before each retry (the CLI says so on stderr). */
  readonly onRetry?: (attempt: number, error: Error, key: string) => void;
}

/** Whether a write may have been lost and is safe to send again with its key. */
function retryable(error: unknown): error is Error {
  if (error instanceof ApiUnreachableError) return true;
  return error instanceof ApiRequestError && (error.status === 503 || error.status === 504);
}

/** Query of every read: `consistent: 'true'` reads through the leader. */
export type ReadQuery = { readonly consistent?: 'true' | 'false' | '1' | '0' | undefined };
export type ServiceQuery = ReadQuery & { readonly window?: string | undefined };
/** `port`: which of the spec's container ports to list (default: its first TCP port). */
export type EndpointsQuery = ReadQuery & { readonly port?: string | undefined };
export type CommandsQuery = ReadQuery & {
  readonly service?: string | undefined;
  readonly status?: string | undefined;
  readonly limit?: string | undefined;
};

/** The one HTTP error: the server answered with an error body (or a status without one). */
export class ApiRequestError extends CoxswainError {
  readonly status: number;
  /** The server's error code (COX_UNAUTHORIZED, COX_NO_LEADER, ...). */
  readonly serverCode: string;
  readonly issues: readonly { path: string; message: string }[];
  /** With 503: the leader's address when the server knew one. */
  readonly leader: string | null | undefined;
  constructor(
    status: number,
    serverCode: string,
    message: string,
    extra: { issues?: readonly { path: string; message: string }[]; leader?: string | null } = {},
  ) {
    super('COX_API_ERROR', `${status} ${serverCode}: ${message}`);
    this.status = status;
    this.serverCode = serverCode;
    this.issues = extra.issues ?? [];
    this.leader = extra.leader;
  }
}

/** The agent could not be reached at all. */
export class ApiUnreachableError extends CoxswainError {
  readonly url: string;
  constructor(url: string, cause: unknown) {
    const detail =
      cause instanceof Error
        ? ((cause.cause as Error | undefined)?.message ?? cause.message)
        : String(cause);
    super('COX_API_UNREACHABLE', `cannot reach ${url}: ${detail}`, { cause });
    this.url = url;
  }
}

export interface StreamEventsOptions {
  readonly types?: readonly string[];
  /** Resume after this event id (sent as Last-Event-ID). */
  readonly since?: number;
  /** Start with the last N events the agent kept. */
  readonly replay?: number;
  readonly signal?: AbortSignal;
  /** Reconnect (resuming after the last id seen) when the stream ends or fails (default true). */
  readonly reconnect?: boolean;
  /** Called when a reconnect is scheduled, with the reason. */
  readonly onReconnect?: (reason: string) => void;
  readonly reconnectDelayMs?: number;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #writeRetries: number;
  readonly #retryDelayMs: number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#writeRetries = Math.max(0, Math.floor(options.writeRetries ?? 4));
    this.#retryDelayMs = Math.max(0, options.retryDelayMs ?? 250);
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.#timeoutMs,
    extraHeaders: Readonly<Record<string, string>> = {},
  ): Promise<{ status: number; text: string }> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (this.#token && method !== 'GET') headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new ApiUnreachableError(url, cause);
    }
    const text = await res.text();
    if (res.status >= 400) throw this.#error(res.status, text);
    return { status: res.status, text };
  }

  #error(status: number, text: string): ApiRequestError {
    const decoded = decode(ApiErrorBody, text, { where: `error body (${status})` });
    if (!decoded.ok)
      return new ApiRequestError(status, 'COX_HTTP_ERROR', text.slice(0, 200) || 'no body');
    const e = decoded.value.error;
    return new ApiRequestError(status, e.code, e.message, {
      ...(e.issues ? { issues: e.issues } : {}),
      ...(e.leader !== undefined ? { leader: e.leader } : {}),
    });
  }

  /** GET a path and validate the answer with `schema`. */
  async get<S extends z.ZodType>(
    path: string,
    schema: S,
    query: Readonly<Record<string, string | undefined>> = {},
    options: RequestOptions = {},
  ): Promise<z.output<S>> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    const qs = params.size > 0 ? `?${params}` : '';
    const { text } = await this.#request('GET', `${path}${qs}`, undefined, options.timeoutMs);
    const decoded = decode(schema, text, { where: `GET ${path}`, maxBytes: 64 * 1024 * 1024 });
    if (!decoded.ok) throw decoded.error;
    return decoded.value;
  }

  /** GET /v1/cluster: this node's role, the leader, the members. */
  cluster(query: ReadQuery = {}, options: RequestOptions = {}): Promise<ClusterInfo> {
    return this.get('/v1/cluster', ClusterInfo, query, options);
  }

  /** GET /v1/nodes: every node's replicated record and liveness. */
  nodes(query: ReadQuery = {}, options: RequestOptions = {}): Promise<NodesReply> {
    return this.get('/v1/nodes', NodesReply, query, options);
  }

  /** GET /v1/services. */
  services(query: ReadQuery = {}, options: RequestOptions = {}): Promise<ServicesReply> {
    return this.get('/v1/services', ServicesReply, query, options);
  }

  /** GET /v1/services/{name}: record, lock, figures over `window`, recent commands. */
  service(
    name: string,
    query: ServiceQuery = {},
    options: RequestOptions = {},
  ): Promise<ServiceDetail> {
    return this.get(`/v1/services/${encodeURIComponent(name)}`, ServiceDetail, query, options);
  }

  /** GET /v1/services/{name}/endpoints: healthy replicas as `address:port` a load balancer reaches. */
  endpoints(
    name: string,
    query: EndpointsQuery = {},
    options: RequestOptions = {},
  ): Promise<EndpointsReply> {
    return this.get(
      `/v1/services/${encodeURIComponent(name)}/endpoints`,
      EndpointsReply,
      query,
      options,
    );
  }

  /** GET /v1/services/{name}/decisions: the leader's last `limit` decisions about it, newest first. */
  decisions(name: string, limit?: number, options: RequestOptions = {}): Promise<DecisionsReply> {
    return this.get(
      `/v1/services/${encodeURIComponent(name)}/decisions`,
      DecisionsReply,
      limit === undefined ? {} : { limit: String(limit) },
      options,
    );
  }

  /** GET /v1/cluster's Raft health (`health`), null when the answering node cannot tell (not the leader). */
  async clusterHealth(
    query: ReadQuery = {},
    options: RequestOptions = {},
  ): Promise<ClusterHealth | null> {
    const reply = await this.get(
      '/v1/cluster',
      z.object({ health: ClusterHealth.nullish() }),
      query,
      options,
    );
    return reply.health ?? null;
  }

  /** GET /v1/commands, newest first. */
  commands(query: CommandsQuery = {}, options: RequestOptions = {}): Promise<CommandsReply> {
    return this.get('/v1/commands', CommandsReply, query, options);
  }

  /** GET /v1/locks. */
  locks(query: ReadQuery = {}, options: RequestOptions = {}): Promise<LocksReply> {
    return this.get('/v1/locks', LocksReply, query, options);
  }

  /**
   * GET /v1/agent/operations: this agent's own operation log and the fencing
   * tokens it accepted and refused per service (answered by the node asked,
   * never forwarded), for a fencing audit across agents.
   */
  agentOperations(options: RequestOptions = {}): Promise<AgentOperationsReply> {
    return this.get('/v1/agent/operations', AgentOperationsReply, {}, options);
  }

  /** GET /v1/openapi.json: the API's own description (an OpenAPI 3.1 document). */
  async openapi(options: RequestOptions = {}): Promise<Record<string, unknown>> {
    const { text } = await this.#request('GET', '/v1/openapi.json', undefined, options.timeoutMs);
    return JSON.parse(text) as Record<string, unknown>;
  }

  /**
   * A write, retried by itself when it may have been lost (503, 504, no
   * answer): every attempt carries the same `Idempotency-Key`, so the leader
   * applies it at most once and answers a repeat with the first result.
   */
  async #write(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<WriteReply> {
    const key = options.idempotencyKey ?? crypto.randomUUID();
    const retries = Math.max(0, Math.floor(options.retries ?? this.#writeRetries));
    let text: string;
    for (let attempt = 0; ; attempt++) {
      try {
        ({ text } = await this.#request(method, path, body, options.timeoutMs, {
          'idempotency-key': key,
        }));
        break;
      } catch (error) {
        if (attempt >= retries || !retryable(error)) throw error;
        options.onRetry?.(attempt + 1, error, key);
        const pause = Math.min(2000, this.#retryDelayMs * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    const decoded = decode(WriteReply, text, { where: `${method} ${path}` });
    if (!decoded.ok) throw decoded.error;
    return decoded.value;
  }

  applyService(spec: ServiceSpecInput, options: RequestOptions = {}): Promise<WriteReply> {
    return this.#write('PUT', `/v1/services/${encodeURIComponent(spec.name)}`, spec, options);
  }

  deleteService(name: string, options: RequestOptions = {}): Promise<WriteReply> {
    return this.#write('DELETE', `/v1/services/${encodeURIComponent(name)}`, undefined, options);
  }

  /** Pins the count (the manual override); null hands the service back to its policy. */
  scaleService(
    name: string,
    replicas: number | null,
    options: RequestOptions = {},
  ): Promise<WriteReply> {
    return this.#write(
      'POST',
      `/v1/services/${encodeURIComponent(name)}/scale`,
      { replicas },
      options,
    );
  }

  removeNode(id: string, options: RequestOptions = {}): Promise<WriteReply> {
    return this.#write('DELETE', `/v1/nodes/${encodeURIComponent(id)}`, undefined, options);
  }

  /** Adds a node started with `join` as a learner, then promotes it once caught up. */
  addVoter(id: string, options: RequestOptions = {}): Promise<WriteReply> {
    return this.#write('POST', `/v1/nodes/${encodeURIComponent(id)}/voter`, undefined, options);
  }

  /** GET /v1/writes/{key}: whether the write with that idempotency key applied. */
  writeStatus(
    key: string,
    query: ReadQuery = {},
    options: RequestOptions = {},
  ): Promise<WriteStatusReply> {
    return this.get(`/v1/writes/${encodeURIComponent(key)}`, WriteStatusReply, query, options);
  }

  /** The events the agent kept (the last `replay`, or those after `since`), without following. */
  async recentEvents(
    options: { types?: readonly string[]; replay?: number; since?: number } = {},
  ): Promise<Array<{ id: number; event: ClusterEvent }>> {
    const params = new URLSearchParams({ follow: 'false' });
    if (options.types && options.types.length > 0) params.set('types', options.types.join(','));
    if (options.since !== undefined) params.set('since', String(options.since));
    else params.set('replay', String(options.replay ?? 50));
    const { text } = await this.#request('GET', `/v1/events?${params}`);
    const out: Array<{ id: number; event: ClusterEvent }> = [];
    for (const frame of new SseParser().push(text)) {
      const decoded = decode(ClusterEvent, frame.data, { where: `event ${frame.id ?? '?'}` });
      if (!decoded.ok) throw decoded.error;
      out.push({ id: Number(frame.id), event: decoded.value });
    }
    return out;
  }

  /**
   * Streams `/v1/events`, validated; resumes after the last id seen when the
   * connection drops (unless `reconnect: false`). Ends when `signal` aborts.
   */
  async *events(
    options: StreamEventsOptions = {},
  ): AsyncGenerator<{ id: number; event: ClusterEvent }> {
    let lastId = options.since;
    let replay = options.replay;
    const reconnect = options.reconnect ?? true;
    const signal = options.signal;
    for (;;) {
      if (signal?.aborted) return;
      const params = new URLSearchParams();
      if (options.types && options.types.length > 0) params.set('types', options.types.join(','));
      if (replay !== undefined && lastId === undefined) params.set('replay', String(replay));
      const url = `${this.baseUrl}/v1/events${params.size > 0 ? `?${params}` : ''}`;
      let reason: string;
      try {
        const res = await fetch(url, {
          headers: {
            accept: 'text/event-stream',
            ...(lastId !== undefined ? { 'last-event-id': String(lastId) } : {}),
          },
          ...(signal ? { signal } : {}),
        });
        if (res.status >= 400) throw this.#error(res.status, await res.text());
        const parser = new SseParser();
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const frame of parser.push(decoder.decode(chunk, { stream: true }))) {
            const decoded = decode(ClusterEvent, frame.data, { where: `event ${frame.id ?? '?'}` });
            if (!decoded.ok) continue;
            const id = Number(frame.id);
            if (Number.isInteger(id)) lastId = id;
            yield { id, event: decoded.value };
          }
        }
        reason = 'stream ended';
      } catch (error) {
        if (signal?.aborted) return;
        if (error instanceof ApiRequestError) throw error;
        reason = error instanceof Error ? error.message : String(error);
      }
      replay = undefined;
      if (!reconnect) return;
      options.onReconnect?.(reason);
      await new Promise((resolve) => setTimeout(resolve, options.reconnectDelayMs ?? 1000));
    }
  }
}
