/**
 * The client's write retry against a real HTTP server that answers 504 and 503
 * before 200: every attempt carries the same Idempotency-Key; errors other
 * than 503/504 are not retried.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, ApiRequestError } from '@coxswain/client';
import { afterEach, describe, expect, it } from 'vitest';

const meta = {
  node: 'n1',
  appliedIndex: 1,
  leader: 'n1',
  term: 1,
  consistent: false,
  sinceLastApplyMs: 0,
  sinceLeaderContactMs: 0,
};

let server: Server | undefined;

async function serve(statuses: number[], seen: IncomingMessage[]): Promise<string> {
  server = createServer((req, res) => {
    seen.push(req);
    const status = statuses.shift() ?? 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        status === 200
          ? { meta, ok: true, appliedBy: 'n1', key: req.headers['idempotency-key'] }
          : {
              meta,
              error: { code: status === 400 ? 'COX_INVALID_PAYLOAD' : 'COX_TIMEOUT', message: 'x' },
            },
      ),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('ApiClient write retries', () => {
  it('retries 504 and 503 with the same idempotency key until applied', async () => {
    const seen: IncomingMessage[] = [];
    const baseUrl = await serve([504, 503], seen);
    const retried: number[] = [];
    const client = new ApiClient({ baseUrl, token: 't', retryDelayMs: 10 });
    const reply = await client.scaleService('web', 3, { onRetry: (n) => retried.push(n) });
    expect(reply.ok).toBe(true);
    expect(retried).toEqual([1, 2]);
    const keys = seen.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(reply.key).toBe(keys[0]);
  });

  it('does not retry a refusal, and gives up after its retries', async () => {
    const seen: IncomingMessage[] = [];
    const baseUrl = await serve([400, 504, 504, 504], seen);
    const client = new ApiClient({ baseUrl, token: 't', retryDelayMs: 10, writeRetries: 2 });
    await expect(client.scaleService('web', 3)).rejects.toMatchObject({ status: 400 });
    expect(seen).toHaveLength(1);
    const error = await client.scaleService('web', 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiRequestError);
    expect((error as ApiRequestError).status).toBe(504);
    expect(seen).toHaveLength(4);
  });
});
