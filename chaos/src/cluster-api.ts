/**
 * Every call chaos makes to the cluster state API, behind one interface. It is
 * implemented here over plain fetch, answers validated with the protocol's
 * schemas; when @coxswain/client lands, this file is the only one to change.
 */
import {
  ApiErrorBody,
  ClusterInfo,
  CommandsReply,
  CoxswainError,
  decode,
  type ServiceSpecInput,
  ServicesReply,
  WriteReply,
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
  /** Trace ids of the spans that carried each of these command ids (from `/v1/traces`). */
  traceIdsOf(url: string, commandIds: readonly string[]): Promise<string[]>;
  applyService(url: string, spec: ServiceSpecInput): Promise<void>;
  scale(url: string, service: string, replicas: number | null): Promise<void>;
}

export class FetchClusterApi implements ClusterApi {
  readonly urls: readonly string[];
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(urls: readonly string[], token?: string, timeoutMs = 1500) {
    this.urls = urls.map((u) => u.replace(/\/+$/, ''));
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  async #request<S extends z.ZodType>(
    schema: S,
    base: string,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.#timeoutMs,
  ): Promise<z.output<S>> {
    const url = `${base.replace(/\/+$/, '')}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET' && this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (cause) {
      const detail = (cause as { cause?: Error }).cause?.message ?? (cause as Error).message;
      throw new ClusterApiError(url, undefined, `unreachable (${detail})`, { cause });
    }
    if (res.status >= 400) {
      const e = decode(ApiErrorBody, text, { where: url });
      throw new ClusterApiError(
        url,
        res.status,
        e.ok ? `${res.status} ${e.value.error.code}: ${e.value.error.message}` : `${res.status}`,
      );
    }
    const decoded = decode(schema, text, { where: `${method} ${url}`, maxBytes: 32 * 1024 * 1024 });
    if (!decoded.ok) throw new ClusterApiError(url, res.status, decoded.error.message);
    return decoded.value;
  }

  cluster(url: string): Promise<ClusterInfo> {
    return this.#request(ClusterInfo, url, 'GET', '/v1/cluster');
  }

  services(url: string): Promise<ServicesReply> {
    return this.#request(ServicesReply, url, 'GET', '/v1/services');
  }

  commands(url: string, limit = 500): Promise<CommandsReply> {
    return this.#request(CommandsReply, url, 'GET', `/v1/commands?limit=${limit}`);
  }

  async traceIdsOf(url: string, commandIds: readonly string[]): Promise<string[]> {
    if (commandIds.length === 0) return [];
    const { spans } = await this.#request(SpanIds, url, 'GET', '/v1/traces?limit=20000');
    const wanted = new Set(commandIds);
    const out = new Set<string>();
    for (const s of spans) {
      const id = s.attributes['coxswain.command_id'];
      if (typeof id === 'string' && wanted.has(id)) out.add(s.traceId);
    }
    return [...out];
  }

  async applyService(url: string, spec: ServiceSpecInput): Promise<void> {
    await this.#request(
      WriteReply,
      url,
      'PUT',
      `/v1/services/${encodeURIComponent(spec.name)}`,
      spec,
      15_000,
    );
  }

  async scale(url: string, service: string, replicas: number | null): Promise<void> {
    await this.#request(
      WriteReply,
      url,
      'POST',
      `/v1/services/${encodeURIComponent(service)}/scale`,
      { replicas },
      30_000,
    );
  }
}
