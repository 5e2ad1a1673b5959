import { buildClusterApiDocument, buildOpenApiDocument } from '@coxswain/client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registerClusterApi } from '../src/api/cluster-api.js';
import { HttpServer } from '../src/http-server.js';
import { threeNodeCluster } from './api-memory-view.js';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ name: string; in: string; required: boolean }>;
        security?: unknown;
        requestBody?: unknown;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
};

/** Every route the API mounts, as the router sees it (`:param`) and as OpenAPI names it (`{param}`). */
const ROUTES: Array<[method: string, routerPath: string]> = [
  ['GET', '/v1/cluster'],
  ['GET', '/v1/nodes'],
  ['DELETE', '/v1/nodes/n3'],
  ['POST', '/v1/nodes/n3/voter'],
  ['GET', '/v1/services'],
  ['GET', '/v1/services/web'],
  ['PUT', '/v1/services/web'],
  ['DELETE', '/v1/services/web'],
  ['POST', '/v1/services/web/scale'],
  ['GET', '/v1/services/web/decisions'],
  ['GET', '/v1/services/web/endpoints'],
  ['GET', '/v1/commands'],
  ['GET', '/v1/locks'],
  ['GET', '/v1/writes/some-key-1'],
  ['GET', '/v1/events'],
  ['GET', '/v1/openapi.json'],
];

function openapiPath(path: string): string {
  return path
    .replace('/nodes/n3', '/nodes/{id}')
    .replace('/services/web', '/services/{name}')
    .replace('/writes/some-key-1', '/writes/{key}');
}

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

describe('the OpenAPI document', () => {
  const doc = buildClusterApiDocument('1.2.3') as unknown as Doc;

  it('is valid OpenAPI 3.1 by the official schema', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // The validator is not a formality: the same document with one response missing its description fails.
    const broken = structuredClone(doc);
    delete (
      broken.paths['/v1/cluster']!.get as { responses: Record<string, { description?: string }> }
    ).responses['200']!.description;
    expect(
      (await new Validator().validate(broken as unknown as Record<string, unknown>)).valid,
    ).toBe(false);
  });

  it('resolves every $ref to a component', () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
  });

  it('describes every mounted route, and every described route is mounted', async () => {
    const { n1 } = threeNodeCluster();
    const server = new HttpServer({ host: '127.0.0.1', port: 0 });
    registerClusterApi(server.router, {
      view: n1,
      token: 'x'.repeat(16),
      decisions: () => [],
    });
    const described = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) described.add(`${method.toUpperCase()} ${path}`);
    }
    const mounted = new Set(ROUTES.map(([m, p]) => `${m} ${openapiPath(p)}`));
    expect(described).toEqual(mounted);
    for (const [method, path] of ROUTES) {
      const res = await server.inject(method, path);
      const code = res.status >= 400 ? res.json<{ error: { code: string } }>().error.code : 'ok';
      expect(['COX_NOT_FOUND', 'COX_METHOD_NOT_ALLOWED'], `${method} ${path}`).not.toContain(code);
    }
  });

  it('documents the freshness headers on every response', () => {
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const response of Object.values(
          (op as { responses: Record<string, { headers?: Record<string, unknown> }> }).responses,
        )) {
          expect(Object.keys(response.headers ?? {})).toEqual([
            'X-Coxswain-Node',
            'X-Coxswain-Applied-Index',
            'X-Coxswain-Term',
            'X-Coxswain-Leader',
          ]);
        }
      }
    }
  });

  it('marks writes as needing the token and declares their bodies and parameters', () => {
    expect(doc.paths['/v1/services/{name}']!.put!.security).toEqual([{ apiToken: [] }]);
    expect(doc.paths['/v1/services/{name}']!.put!.requestBody).toBeDefined();
    expect(doc.paths['/v1/services/{name}']!.get!.security).toBeUndefined();
    const params = doc.paths['/v1/services/{name}']!.get!.parameters!;
    expect(params.map((p) => `${p.in}:${p.name}:${p.required}`)).toEqual([
      'path:name:true',
      'query:consistent:false',
      'query:window:false',
    ]);
    // Request bodies are described as the client writes them: defaults make fields optional.
    const specInput = doc.components.schemas.ServiceSpecInput as { required: string[] };
    expect(specInput.required).toEqual(['name', 'image']);
  });

  it('refuses a duplicate schema name or an undeclared reference', () => {
    const a = { name: 'A', schema: z.object({ x: z.string() }), io: 'output' as const };
    expect(() => buildOpenApiDocument({ title: 't', version: '1' }, [a, a], [])).toThrow(
      /declared twice/,
    );
    expect(() =>
      buildOpenApiDocument(
        { title: 't', version: '1' },
        [a],
        [
          {
            method: 'get',
            path: '/x',
            operationId: 'x',
            summary: 'x',
            responses: { 200: { description: 'ok', schema: 'B' } },
          },
        ],
      ),
    ).toThrow(/not declared/);
  });
});
