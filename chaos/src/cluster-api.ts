/**
 * Every call chaos makes to the cluster state API, behind one interface,
 * implemented over @coxswain/client's ApiClient (one client per node URL), so
 * chaos and the CLI read the API through the same validated client.
 */
import { ApiClient, ApiRequestError, ApiUnreachableError } from '@coxswain/client';
import {
  type AgentOperationsReply,
  type ClusterInfo,
  type CommandsReply,
  CoxswainError,
  type ServiceDetail,
  type ServiceSpecInput,
  type ServicesReply,
  type WriteReply,
  type WriteStatusReply,
} from '@coxswain/protocol';
import { z } from 'zod';

/** An agent's API answered with an error status, could not be reached, or answered out of schema. */
export class ClusterApiError extends CoxswainError {
  readonly url: string;
  readonly status: number | undefined;
  constructor(
    url: string,
    status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('COX_CHAOS_API', `${url}: ${message}`, options);
    this.url = url;
    this.status = status;
  }
}

const SpanIds = z.object({
  spans: z.array(
    z.object({ traceId: z.string(), attributes: z.record(z.string(), z.unknown()) }).loose(),
  ),
});

export interface ClusterApi {
  /** The API base URLs, one per node (`http://10.1.2.11:7070`). */
  readonly urls: readonly string[];
  cluster(url: string): Promise<ClusterInfo>;
  services(url: string): Promise<ServicesReply>;
  commands(url: string, limit?: number): Promise<CommandsReply>;
  /** That node's own executor log and the fencing tokens it accepted and refused. */
  agentOperations(url: string): Promise<AgentOperationsReply>;
  /** Trace ids of the spans that carried each of these command ids (from `/v1/traces`). */
  traceIdsOf(url: string, commandIds: readonly string[]): Promise<string[]>;
  applyService(url: string, spec: ServiceSpecInput): Promise<void>;
  scale(url: string, service: string, replicas: number | null): Promise<void>;
  /** One attempt of a manual scale with this idempotency key, no retry: its answer is the datum. */
  scaleOnce(
    url: string,
    service: string,
    replicas: number,
    key: string,
    timeoutMs: number,
  ): Promise<WriteReply>;
  /** `GET /v1/writes/{key}` through the leader: whether that write applied, and at which index. */
  writeStatus(url: string, key: string): Promise<WriteStatusReply>;
  /** `GET /v1/services/{name}` (its spec: maxReplicas). */
  service(url: string, name: string): Promise<ServiceDetail>;
}

const trim = (u: string): string => u.replace(/\/+$/, '');

/** The ClusterApi over one ApiClient per node; every failure becomes a ClusterApiError. */
export class ClientClusterApi implements ClusterApi {
  readonly urls: readonly string[];
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #clients = new Map<string, ApiClient>();

  constructor(urls: readonly string[], token?: string, timeoutMs = 1500) {
    this.urls = urls.map(trim);
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  #client(url: string): ApiClient {
    const base = trim(url);
    let c = this.#clients.get(base);
    if (!c) {
      c = new ApiClient({ baseUrl: base, token: this.#token, timeoutMs: this.#timeoutMs });
      this.#clients.set(base, c);
    }
    return c;
  }

  async #call<T>(url: string, what: string, fn: (c: ApiClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.#client(url));
    } catch (cause) {
      if (cause instanceof ApiRequestError)
        throw new ClusterApiError(trim(url), cause.status, `${what}: ${cause.message}`, { cause });
      if (cause instanceof ApiUnreachableError)
        throw new ClusterApiError(trim(url), undefined, `${what}: unreachable (${cause.message})`, {
          cause,
        });
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new ClusterApiError(trim(url), undefined, `${what}: ${message}`, { cause });
    }
  }

  cluster(url: string): Promise<ClusterInfo> {
    return this.#call(url, 'GET /v1/cluster', (c) => c.cluster());
  }

  services(url: string): Promise<ServicesReply> {
    return this.#call(url, 'GET /v1/services', (c) => c.services());
  }

  commands(url: string, limit = 500): Promise<CommandsReply> {
    return this.#call(url, 'GET /v1/commands', (c) => c.commands({ limit: String(limit) }));
  }

  agentOperations(url: string): Promise<AgentOperationsReply> {
    return this.#call(url, 'GET /v1/agent/operations', (c) => c.agentOperations());
  }

  async traceIdsOf(url: string, commandIds: readonly string[]): Promise<string[]> {
    if (commandIds.length === 0) return [];
    const { spans } = await this.#call(url, 'GET /v1/traces', (c) =>
      c.get('/v1/traces', SpanIds, { limit: '20000' }),
    );
    const wanted = new Set(commandIds);
    const out = new Set<string>();
    for (const s of spans) {
      const id = s.attributes['coxswain.command_id'];
      if (typeof id === 'string' && wanted.has(id)) out.add(s.traceId);
    }
    return [...out];
  }

  async applyService(url: string, spec: ServiceSpecInput): Promise<void> {
    await this.#call(url, `PUT /v1/services/${spec.name}`, (c) =>
      c.applyService(spec, { timeoutMs: 15_000 }),
    );
  }

  scaleOnce(
    url: string,
    service: string,
    replicas: number,
    key: string,
    timeoutMs: number,
  ): Promise<WriteReply> {
    // ApiRequestError and ApiUnreachableError pass through: the caller classifies the answer.
    return this.#client(url).scaleService(service, replicas, {
      idempotencyKey: key,
      retries: 0,
      timeoutMs,
    });
  }

  writeStatus(url: string, key: string): Promise<WriteStatusReply> {
    return this.#call(url, `GET /v1/writes/${key}`, (c) =>
      c.writeStatus(key, { consistent: 'true' }, { timeoutMs: 5000 }),
    );
  }

  service(url: string, name: string): Promise<ServiceDetail> {
    return this.#call(url, `GET /v1/services/${name}`, (c) => c.service(name, { window: '1s' }));
  }

  async scale(url: string, service: string, replicas: number | null): Promise<void> {
    await this.#call(url, `POST /v1/services/${service}/scale`, (c) =>
      c.scaleService(service, replicas, { timeoutMs: 30_000 }),
    );
  }
}
