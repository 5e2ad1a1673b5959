/**
 * The lab's own small client of the agents' cluster state API: the live view
 * asks any agent for the cluster and its services, and the scenario declares
 * and scales the sample service. Every answer is validated with the protocol
 * schema the agents answer in. (The full client, `ApiClient`, lives in
 * @coxswain/agent; the lab needs four routes and stays free of the agent.)
 */
import {
  ApiErrorBody,
  ClusterInfo,
  CoxswainError,
  type DecodeResult,
  decode,
  NodesReply,
  type ServiceSpecInput,
  ServicesReply,
  WriteReply,
} from '@coxswain/protocol';

/** An agent's API answered with an error status, could not be reached, or answered out of schema. */
export class LabApiError extends CoxswainError {
  readonly url: string;
  /** HTTP status, or undefined when the agent could not be reached. */
  readonly status: number | undefined;
  /** The agent's error code (COX_NO_LEADER, COX_UNAUTHORIZED, ...) when it sent one. */
  readonly serverCode: string | undefined;
  constructor(
    url: string,
    status: number | undefined,
    serverCode: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('COX_LAB_API', `${url}: ${message}`, options);
    this.url = url;
    this.status = status;
    this.serverCode = serverCode;
  }
}

/** Throws the decoder's error (it names the field and the request) as a LabApiError. */
function valid<T>(url: string, result: DecodeResult<T>): T {
  if (!result.ok) throw new LabApiError(url, 200, undefined, result.error.message);
  return result.value;
}

export class LabApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, token?: string, timeoutMs = 2000) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  /** The answer's text, or a LabApiError for an error status or no answer. */
  async #request(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = this.#timeoutMs,
  ): Promise<{ url: string; text: string }> {
    const url = `${this.baseUrl}${path}`;
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
      const detail = (cause as { cause?: Error }).cause?.message ?? String(cause);
      throw new LabApiError(url, undefined, undefined, `unreachable (${detail})`, { cause });
    }
    if (res.status >= 400) {
      const e = decode(ApiErrorBody, text, { where: `${method} ${url} (${res.status})` });
      throw e.ok
        ? new LabApiError(
            url,
            res.status,
            e.value.error.code,
            `${res.status} ${e.value.error.code}: ${e.value.error.message}`,
          )
        : new LabApiError(url, res.status, undefined, `${res.status}: ${text.slice(0, 200)}`);
    }
    return { url, text };
  }

  async cluster(): Promise<ClusterInfo> {
    const { url, text } = await this.#request('GET', '/v1/cluster');
    return valid(url, decode(ClusterInfo, text, { where: `GET ${url}` }));
  }

  async nodes(): Promise<NodesReply> {
    const { url, text } = await this.#request('GET', '/v1/nodes');
    return valid(
      url,
      decode(NodesReply, text, { where: `GET ${url}`, maxBytes: 16 * 1024 * 1024 }),
    );
  }

  async services(): Promise<ServicesReply> {
    const { url, text } = await this.#request('GET', '/v1/services');
    return valid(
      url,
      decode(ServicesReply, text, { where: `GET ${url}`, maxBytes: 16 * 1024 * 1024 }),
    );
  }

  async applyService(spec: ServiceSpecInput): Promise<WriteReply> {
    const { url, text } = await this.#request(
      'PUT',
      `/v1/services/${encodeURIComponent(spec.name)}`,
      spec,
      10_000,
    );
    return valid(url, decode(WriteReply, text, { where: `PUT ${url}` }));
  }

  /** Pins the count (the manual override); null hands the service back to its policy. */
  async scale(name: string, replicas: number | null): Promise<WriteReply> {
    const { url, text } = await this.#request(
      'POST',
      `/v1/services/${encodeURIComponent(name)}/scale`,
      { replicas },
      // A manual scale answers once its command is done, containers started on every host.
      30_000,
    );
    return valid(url, decode(WriteReply, text, { where: `POST ${url}` }));
  }
}
