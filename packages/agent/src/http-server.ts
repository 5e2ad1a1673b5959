/**
 * The agent's HTTP server on node:http with a tiny router that other parts add
 * routes to:
 *
 *   router.add('GET', '/v1/services/:name', async (ctx) => json({ name: ctx.params.name }));
 *
 * Handlers return a response (`json(value, status?)`, `text(body, contentType?)`)
 * or, for streams such as Server-Sent Events, take over `ctx.raw.res` and return
 * `undefined` (only over a real socket; `inject` has no raw response). Unknown
 * paths answer 404, known paths with another method 405 with `Allow`, and any
 * thrown error becomes JSON `{error:{code,message}}`: a CoxswainError's code
 * with its `httpStatus` when it has one (400 for invalid payloads), else 500.
 *
 * `inject(method, url, body?)` runs a request in-process, the way fastify's
 * does, so route tests need no socket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoxswainError, DEFAULT_MAX_PAYLOAD_BYTES } from '@coxswain/protocol';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RequestContext {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw request body (UTF-8), '' when none; parse and validate with `decode()`. */
  readonly body: string;
  /** Present over a real socket only: for handlers that stream. */
  readonly raw?: { readonly req: IncomingMessage; readonly res: ServerResponse };
}

export type RouteHandler = (
  ctx: RequestContext,
) => HttpResponse | undefined | Promise<HttpResponse | undefined>;

export function json(
  value: unknown,
  status = 200,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

export function text(
  body: string,
  contentType = 'text/plain; charset=utf-8',
  status = 200,
): HttpResponse {
  return { status, headers: { 'content-type': contentType }, body };
}

export function errorResponse(status: number, code: string, message: string): HttpResponse {
  return json({ error: { code, message } }, status);
}

/** An error a handler throws to answer with a given status. */
export class HttpError extends CoxswainError {
  readonly httpStatus: number;
  constructor(httpStatus: number, code: string, message: string) {
    super(code, message);
    this.httpStatus = httpStatus;
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  COX_INVALID_PAYLOAD: 400,
  COX_MALFORMED_PAYLOAD: 400,
  COX_PAYLOAD_TOO_LARGE: 413,
  COX_NOT_FOUND: 404,
  COX_UNAUTHORIZED: 401,
  COX_NOT_LEADER: 503,
};

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
}

export class Router {
  readonly #routes: Route[] = [];

  /** Adds a route; `:name` segments become `ctx.params.name`. */
  add(method: HttpMethod, pattern: string, handler: RouteHandler): this {
    this.#routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /** Finds the route for a request: a handler and params, or which methods the path allows. */
  match(
    method: string,
    path: string,
  ): { handler: RouteHandler; params: Record<string, string> } | { allowed: string[] } {
    const parts = path.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const route of this.#routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = route.segments[i]!;
        const part = parts[i]!;
        if (seg.startsWith(':')) {
          try {
            params[seg.slice(1)] = decodeURIComponent(part);
          } catch {
            ok = false;
            break;
          }
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET'))
        return { handler: route.handler, params };
      allowed.push(route.method);
    }
    return { allowed };
  }

  async handle(input: {
    method: string;
    url: string;
    headers: Record<string, string | string[] | undefined>;
    body: string;
    raw?: { req: IncomingMessage; res: ServerResponse };
  }): Promise<HttpResponse | undefined> {
    const url = new URL(input.url, 'http://agent.local');
    const found = this.match(input.method, url.pathname);
    const unsupported = unsupportedMediaType(input.method, input.headers, input.body);
    if (unsupported && !('allowed' in found)) return unsupported;
    if ('allowed' in found) {
      if (found.allowed.length === 0)
        return errorResponse(404, 'COX_NOT_FOUND', `no route for ${url.pathname}`);
      const r = errorResponse(
        405,
        'COX_METHOD_NOT_ALLOWED',
        `${input.method} not allowed on ${url.pathname}`,
      );
      return { ...r, headers: { ...r.headers, allow: [...new Set(found.allowed)].join(', ') } };
    }
    try {
      return await found.handler({
        method: input.method,
        path: url.pathname,
        params: found.params,
        query: url.searchParams,
        headers: input.headers,
        body: input.body,
        ...(input.raw ? { raw: input.raw } : {}),
      });
    } catch (error) {
      if (error instanceof HttpError)
        return errorResponse(error.httpStatus, error.code, error.message);
      if (error instanceof CoxswainError)
        return errorResponse(STATUS_BY_CODE[error.code] ?? 500, error.code, error.message);
      return errorResponse(
        500,
        'COX_INTERNAL',
        error instanceof Error ? error.message : String(error),
      );
    }
  }
}

/**
 * Bodies are JSON: a request with a body whose content-type is given and is
 * not JSON (`application/json` or `+json`) answers 415 instead of being parsed
 * as JSON anyway. A body without a content-type is still taken as JSON.
 */
function unsupportedMediaType(
  method: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): HttpResponse | undefined {
  if (body === '' || method === 'GET' || method === 'HEAD') return undefined;
  const raw = headers['content-type'];
  const type = (Array.isArray(raw) ? raw[0] : raw)?.split(';')[0]?.trim().toLowerCase();
  if (!type || type === 'application/json' || type.endsWith('+json')) return undefined;
  return errorResponse(
    415,
    'COX_UNSUPPORTED_MEDIA_TYPE',
    `request bodies are JSON (content-type application/json); got ${type}`,
  );
}

/** Request headers beyond this answer 431 (Node's own limit is 16 KiB). */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface InjectResult extends HttpResponse {
  json<T = unknown>(): T;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes?: number;
}

export class HttpServer {
  readonly router = new Router();
  readonly #options: HttpServerOptions;
  #server: Server | undefined;

  constructor(options: HttpServerOptions) {
    this.#options = options;
  }

  /** Runs one request in-process: no socket, same routing and error handling. */
  async inject(
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<InjectResult> {
    const bodyText =
      body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const response =
      (await this.router.handle({ method, url, headers, body: bodyText })) ??
      errorResponse(500, 'COX_INTERNAL', 'handler streamed; use a real socket');
    return { ...response, json: <T>() => JSON.parse(response.body) as T };
  }

  /** Listens; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    const maxBody = this.#options.maxBodyBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) {
          if (!refused) {
            refused = true;
            send(
              res,
              errorResponse(413, 'COX_PAYLOAD_TOO_LARGE', `request body over ${maxBody} bytes`),
            );
            req.resume();
          }
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (refused) return;
        this.router
          .handle({
            method: req.method ?? 'GET',
            url: req.url ?? '/',
            headers: req.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            raw: { req, res },
          })
          .then(
            (response) => {
              if (response) send(res, response, req.method === 'HEAD');
            },
            (error: unknown) => send(res, errorResponse(500, 'COX_INTERNAL', String(error))),
          );
      });
    });
    server.keepAliveTimeout = 5000;
    // Oversized headers: a clean 431 (and the rest of the request read and dropped, so the client
    // sees the answer rather than a reset), other parse errors a 400.
    server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
      const body = JSON.stringify({
        error: tooLarge
          ? {
              code: 'COX_HEADERS_TOO_LARGE',
              message: `request headers over ${MAX_HEADER_BYTES} bytes`,
            }
          : { code: 'COX_MALFORMED_REQUEST', message: 'malformed HTTP request' },
      });
      const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.end(
        `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      setTimeout(() => socket.destroy(), 2000).unref();
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  get port(): number | undefined {
    const address = this.#server?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Streams (SSE) and idle keep-alive sockets would hold close() open forever.
      server.closeAllConnections();
    });
  }
}

function send(res: ServerResponse, response: HttpResponse, headOnly = false): void {
  if (res.headersSent) return;
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
  });
  res.end(headOnly ? undefined : response.body);
}
