/**
 * Builds an OpenAPI 3.1 document from zod schemas, so the document and the
 * validation the server performs can never disagree: both read the same
 * schema objects. OpenAPI 3.1 uses JSON Schema 2020-12, which is what zod 4's
 * `z.toJSONSchema` emits; named schemas become `#/components/schemas/<name>`
 * and are referenced wherever they are nested.
 */
import { CoxswainError } from '@coxswain/protocol';
import { z } from 'zod';

export type SchemaIo = 'input' | 'output';

/** A schema published under `components/schemas`. Request bodies use `input`, responses `output`. */
export interface NamedSchema {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly io: SchemaIo;
}

export interface OpenApiResponse {
  readonly description: string;
  /** Name of a component schema, for JSON bodies. */
  readonly schema?: string;
  /** Defaults to application/json when `schema` is set. */
  readonly contentType?: string;
}

export interface OpenApiOperation {
  readonly method: 'get' | 'put' | 'post' | 'delete';
  /** OpenAPI form: `/v1/services/{name}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  /** A zod object of string-valued query parameters. */
  readonly query?: z.ZodObject;
  readonly pathParams?: Readonly<Record<string, z.ZodType>>;
  /** Name of a component schema (io `input`) for the JSON request body. */
  readonly body?: string;
  /** Operations that need the API token. */
  readonly auth?: boolean;
  readonly responses: Readonly<Record<number, OpenApiResponse>>;
}

/** A header every response carries (documented on each response). */
export interface OpenApiHeader {
  readonly description: string;
  readonly schema: z.ZodType;
}

export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

export type JsonObject = { [key: string]: unknown };

const ref = (name: string): string => `#/components/schemas/${name}`;

/** Component schemas are embedded in the document; their own `$schema`/`$id` would only confuse resolvers. */
function strip(schema: JsonObject): JsonObject {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function componentSchemas(named: readonly NamedSchema[], io: SchemaIo): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const entry of named) if (entry.io === io) registry.add(entry.schema, { id: entry.name });
  const generated = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: ref,
    // Transforms (durations written "1s") have no JSON Schema for their output: allow any.
    unrepresentable: 'any',
  }) as { schemas: Record<string, JsonObject> };
  const out: Record<string, JsonObject> = {};
  for (const [name, schema] of Object.entries(generated.schemas)) out[name] = strip(schema);
  return out;
}

/** A standalone JSON Schema of one parameter (no refs: parameters are small scalars). */
function parameterSchema(schema: z.ZodType): JsonObject {
  return strip(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonObject);
}

export function buildOpenApiDocument(
  info: OpenApiInfo,
  schemas: readonly NamedSchema[],
  operations: readonly OpenApiOperation[],
  responseHeaders: Readonly<Record<string, OpenApiHeader>> = {},
): JsonObject {
  const headers: Record<string, JsonObject> = {};
  for (const [name, header] of Object.entries(responseHeaders)) {
    headers[name] = { description: header.description, schema: parameterSchema(header.schema) };
  }
  const names = new Set<string>();
  for (const s of schemas) {
    if (names.has(s.name))
      throw new OpenApiDocumentError(`component schema ${s.name} is declared twice`);
    names.add(s.name);
  }
  const components = {
    ...componentSchemas(schemas, 'output'),
    ...componentSchemas(schemas, 'input'),
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters: JsonObject[] = [];
    for (const [name, schema] of Object.entries(op.pathParams ?? {})) {
      parameters.push({ name, in: 'path', required: true, schema: parameterSchema(schema) });
    }
    if (op.query) {
      for (const [name, schema] of Object.entries(op.query.shape)) {
        const field = schema as z.ZodType;
        const optional = field.safeParse(undefined).success;
        const param: JsonObject = {
          name,
          in: 'query',
          required: !optional,
          schema: parameterSchema(field),
        };
        const description = field.description;
        if (description) param.description = description;
        parameters.push(param);
      }
    }
    const responses: Record<string, JsonObject> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      if (response.schema && !names.has(response.schema)) {
        throw new OpenApiDocumentError(
          `${op.operationId}: response schema ${response.schema} is not declared`,
        );
      }
      const entry: JsonObject = { description: response.description };
      if (Object.keys(headers).length > 0) entry.headers = headers;
      if (response.schema) {
        entry.content = {
          [response.contentType ?? 'application/json']: { schema: { $ref: ref(response.schema) } },
        };
      } else if (response.contentType) {
        entry.content = { [response.contentType]: { schema: { type: 'string' } } };
      }
      responses[status] = entry;
    }
    const operation: JsonObject = {
      operationId: op.operationId,
      summary: op.summary,
      responses,
    };
    if (op.description) operation.description = op.description;
    if (op.tags) operation.tags = [...op.tags];
    if (parameters.length > 0) operation.parameters = parameters;
    if (op.body) {
      if (!names.has(op.body))
        throw new OpenApiDocumentError(`${op.operationId}: body schema ${op.body} is not declared`);
      operation.requestBody = {
        required: true,
        content: { 'application/json': { schema: { $ref: ref(op.body) } } },
      };
    }
    if (op.auth) operation.security = [{ apiToken: [] }];
    const pathItem = paths[op.path] ?? {};
    if (pathItem[op.method])
      throw new OpenApiDocumentError(`${op.method.toUpperCase()} ${op.path} is declared twice`);
    pathItem[op.method] = operation;
    paths[op.path] = pathItem;
  }
  const document: JsonObject = {
    openapi: '3.1.0',
    info: { ...info },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        apiToken: { type: 'http', scheme: 'bearer', description: 'The agent config `api.token`.' },
      },
    },
  };
  return document;
}

/** The API's description is inconsistent (a schema declared twice or missing, a route twice). */
export class OpenApiDocumentError extends CoxswainError {
  constructor(message: string) {
    super('COX_OPENAPI_DOCUMENT', message);
  }
}
