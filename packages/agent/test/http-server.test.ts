import { request } from 'node:http';
import { InvalidPayloadError } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { HttpError, HttpServer, json } from '../src/http-server.js';

function server(): HttpServer {
  const s = new HttpServer({ host: '127.0.0.1', port: 0, maxBodyBytes: 1024 });
  s.router
    .add('GET', '/v1/services/:name', (ctx) =>
      json({ name: ctx.params.name, q: ctx.query.get('consistent') }),
    )
    .add('POST', '/v1/echo', (ctx) => json({ got: JSON.parse(ctx.body) }, 201))
    .add('GET', '/boom', () => {
      throw new Error('kaput');
    })
    .add('GET', '/bad', () => {
      throw new InvalidPayloadError('body', [{ path: 'x', message: 'nope' }]);
    })
    .add('GET', '/teapot', () => {
      throw new HttpError(418, 'COX_TEAPOT', 'short and stout');
    });
  return s;
}

describe('HttpServer.inject', () => {
  it('routes with params and query', async () => {
    const r = await server().inject('GET', '/v1/services/web%20x?consistent=true');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ name: 'web x', q: 'true' });
  });
  it('answers 404 and 405 with Allow', async () => {
    const s = server();
    const notFound = await s.inject('GET', '/nope');
    expect(notFound.status).toBe(404);
    expect(notFound.json<{ error: { code: string } }>().error.code).toBe('COX_NOT_FOUND');
    const wrong = await s.inject('DELETE', '/v1/echo');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
  });
  it('turns thrown errors into JSON with codes and statuses', async () => {
    const s = server();
    const boom = await s.inject('GET', '/boom');
    expect(boom.status).toBe(500);
    expect(boom.json()).toEqual({ error: { code: 'COX_INTERNAL', message: 'kaput' } });
    expect((await s.inject('GET', '/bad')).status).toBe(400);
    const tea = await s.inject('GET', '/teapot');
    expect(tea.status).toBe(418);
    expect(tea.json<{ error: { code: string } }>().error.code).toBe('COX_TEAPOT');
  });
  it('passes a body', async () => {
    const r = await server().inject('POST', '/v1/echo', { a: 1 });
    expect(r.status).toBe(201);
    expect(r.json()).toEqual({ got: { a: 1 } });
  });

  it('answers 415 to a text/plain body instead of parsing it as JSON; JSON types and no type pass', async () => {
    const s = server();
    const plain = await s.inject('POST', '/v1/echo', '{"a":1}', { 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(plain.json()).toMatchObject({ error: { code: 'COX_UNSUPPORTED_MEDIA_TYPE' } });
    const typed = await s.inject('POST', '/v1/echo', '{"a":1}', {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(typed.status).toBe(201);
    const merge = await s.inject('POST', '/v1/echo', '{"a":1}', {
      'content-type': 'application/merge-patch+json',
    });
    expect(merge.status).toBe(201);
    expect((await s.inject('POST', '/v1/echo', '{"a":1}')).status).toBe(201);
  });
});

describe('HttpServer over a socket', () => {
  it('serves the same routes on port 0 and refuses oversize bodies', async () => {
    const s = server();
    const port = await s.listen();
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/v1/services/api`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ name: 'api', q: null });
      const big = await fetch(`http://127.0.0.1:${port}/v1/echo`, {
        method: 'POST',
        body: 'x'.repeat(5000),
      });
      expect(big.status).toBe(413);
      const head = await fetch(`http://127.0.0.1:${port}/v1/services/api`, { method: 'HEAD' });
      expect(head.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('answers 431 to a 100 KB Authorization header instead of resetting the connection', async () => {
    const s = server();
    const port = await s.listen();
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/services/api',
            headers: { authorization: `Bearer ${'a'.repeat(100 * 1024)}` },
            maxHeaderSize: 1024 * 1024,
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => {
              body += d.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(answer.status).toBe(431);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'COX_HEADERS_TOO_LARGE' } });
      // The server is still fine afterwards.
      expect((await fetch(`http://127.0.0.1:${port}/v1/services/api`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
