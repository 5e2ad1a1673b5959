import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import {
  InvalidPayloadError,
  MalformedPayloadError,
  PayloadTooLargeError,
  type SchemaIssue,
} from './errors.js';

export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly error: PayloadTooLargeError | MalformedPayloadError | InvalidPayloadError;
    };

/** NATS refuses payloads over 1 MiB by default; our own messages stay well under it. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024;

export interface DecodeOptions {
  /** Names the source in error messages: a subject, a file path, an HTTP route. */
  readonly where?: string;
  readonly maxBytes?: number;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Renders zod's issue path the way a person writes it: `containers[2].state`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

export function issuesOf(error: z.ZodError): SchemaIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/** Validates an already-parsed value; never throws. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where = 'value',
): DecodeResult<z.output<S>> {
  let parsed: z.ZodSafeParseResult<z.output<S>>;
  try {
    parsed = schema.safeParse(value) as z.ZodSafeParseResult<z.output<S>>;
  } catch (cause) {
    // zod gathers one issue per bad element and spreads them into push(): an
    // array of ~260,000 wrong values under a union overflowed the stack (fuzz
    // campaign, ApiReply). Such a payload is invalid; say so instead of throwing.
    const detail = cause instanceof Error ? cause.message : String(cause);
    return {
      ok: false,
      error: new InvalidPayloadError(where, [
        { path: '(root)', message: `too many problems to list (${detail})` },
      ]),
    };
  }
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, error: new InvalidPayloadError(where, issuesOf(parsed.error)) };
}

/**
 * Decodes a JSON network payload against a schema. Size is checked before
 * parsing; bad bytes become a result, never an exception, so one bad peer cannot
 * crash a subscriber loop.
 */
export function decode<S extends z.ZodType>(
  schema: S,
  payload: Uint8Array | string,
  options: DecodeOptions = {},
): DecodeResult<z.output<S>> {
  const where = options.where ?? 'payload';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > maxBytes) return { ok: false, error: new PayloadTooLargeError(where, size, maxBytes) };
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : textDecoder.decode(payload);
  } catch (cause) {
    return { ok: false, error: new MalformedPayloadError(where, 'UTF-8', { cause }) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return { ok: false, error: new MalformedPayloadError(where, 'JSON', { cause }) };
  }
  return validate(schema, json, where);
}

/** Deeper flow collections than this are refused before parsing (the YAML parser takes seconds on 10,000 levels). */
export const MAX_YAML_FLOW_DEPTH = 64;

/** The deepest nesting of `[`/`{` outside quotes: a cheap scan that bounds the parser's work. */
function flowDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== '') {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      const end = text.indexOf('\n', i);
      if (end < 0) break;
      i = end;
    } else if (c === '[' || c === '{') {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return max;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return max;
}

/**
 * Larger YAML is refused before parsing: the parser's mappings are quadratic in
 * their keys (a 1 MiB file took 20 s in the fuzz campaign), and a config file,
 * a service spec or an experiment is a few KiB.
 */
export const DEFAULT_MAX_YAML_BYTES = 64 * 1024;

/** Decodes a YAML (or JSON, a subset of YAML) file a user wrote. */
export function decodeYaml<S extends z.ZodType>(
  schema: S,
  text: string,
  options: DecodeOptions = {},
): DecodeResult<z.output<S>> {
  const where = options.where ?? 'file';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_YAML_BYTES;
  const size = Buffer.byteLength(text);
  if (size > maxBytes) return { ok: false, error: new PayloadTooLargeError(where, size, maxBytes) };
  if (flowDepth(text, MAX_YAML_FLOW_DEPTH) > MAX_YAML_FLOW_DEPTH)
    return {
      ok: false,
      error: new MalformedPayloadError(
        where,
        `YAML (nested deeper than ${MAX_YAML_FLOW_DEPTH} levels)`,
      ),
    };
  let doc: unknown;
  try {
    // uniqueKeys: the parser's duplicate-key check is quadratic (a 4 MiB file of keys never
    // finished in the fuzz campaign); a later key wins, as in JSON. logLevel: a decoder of a
    // user's file must not print a warning per bad tag to stderr.
    doc = parseYaml(text, { uniqueKeys: false, maxAliasCount: 100, logLevel: 'error' });
  } catch (cause) {
    const detail = cause instanceof Error ? `YAML (${cause.message.split('\n')[0]})` : 'YAML';
    return { ok: false, error: new MalformedPayloadError(where, detail, { cause }) };
  }
  return validate(schema, doc ?? {}, where);
}

const textEncoder = new TextEncoder();

/** Encodes a message after checking it against its schema, so we never send what a peer would reject. */
export function encode<S extends z.ZodType>(schema: S, value: z.input<S>): Uint8Array {
  return textEncoder.encode(JSON.stringify(schema.parse(value)));
}
