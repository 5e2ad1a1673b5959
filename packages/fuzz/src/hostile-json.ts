import fc from 'fast-check';
import {
  type HostileInput,
  mutatedBytes,
  oddString,
  randomBytes,
  truncatedBytes,
} from './bytes.js';

const textEncoder = new TextEncoder();

export type JsonPath = readonly (string | number)[];

/** Every path to a value inside `value` (objects and arrays), root excluded. */
export function pathsOf(value: unknown, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([...prefix, i]);
      pathsOf(item, [...prefix, i], out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push([...prefix, key]);
      pathsOf(item, [...prefix, key], out);
    }
  }
  return out;
}

/** A copy of `root` with the value at `path` replaced (or, with `remove`, deleted). */
export function setAt(root: unknown, path: JsonPath, value: unknown, remove = false): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (remove && Array.isArray(node)) node.splice(last as number, 1);
  else if (remove) delete node[last];
  else node[last] = value;
  return copy;
}

/** Values of the wrong type for almost any field, and edge values for the right one. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    -1e-300,
    1e308,
    -1e308,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 31,
    2 ** 48,
    '',
    '0',
    '-1',
    'true',
    'null',
    '1e400',
    [],
    {},
    [null],
    { v: 1 },
  ),
  fc.jsonValue({ maxDepth: 3 }),
  oddString,
);

/** Stands in for a subtree that JSON.stringify must not build; replaced in the text. */
const MARK = 'zz-fuzz-mark-zz';
const QUOTED_MARK = `"${MARK}"`;

/** `depth` levels of arrays or objects, as text (JSON.stringify would overflow the stack building it). */
function nested(depth: number, objects: boolean): string {
  return objects
    ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    : '['.repeat(depth) + ']'.repeat(depth);
}

/** Invalid UTF-8 sequences: overlong, surrogate, out of range, truncated. */
const badUtf8: fc.Arbitrary<Uint8Array> = fc.constantFrom(
  new Uint8Array([0xc0, 0x80]),
  new Uint8Array([0xed, 0xa0, 0x80]),
  new Uint8Array([0xff]),
  new Uint8Array([0xf8, 0x88, 0x80, 0x80, 0x80]),
  new Uint8Array([0xe2, 0x82]),
  new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
);

export interface HostileJsonOptions {
  /** Valid values of the message (already-parsed JSON), the seeds of every mutation. */
  readonly samples: readonly unknown[];
  /** The decoder's size limit: "huge" inputs straddle it and go far past it. */
  readonly maxBytes: number;
}

/**
 * Hostile JSON-ish payloads for one decoder: random bytes, random JSON, valid
 * messages with one field of the wrong type or odd unicode, truncated or
 * byte-mutated valid messages, structural edits (missing, extra, duplicated
 * keys), deep nesting, invalid UTF-8 and payloads around and past the size limit.
 */
export function hostileJson(o: HostileJsonOptions): fc.Arbitrary<HostileInput> {
  const texts = o.samples.map((s) => JSON.stringify(s));
  const bytes = texts.map((t) => textEncoder.encode(t));
  const withPaths = o.samples.map((value) => ({ value, paths: pathsOf(value) }));
  const sample = fc.constantFrom(...withPaths);
  const atPath = sample.chain(({ value, paths }) =>
    paths.length === 0
      ? fc.constant({ value, path: undefined as JsonPath | undefined })
      : fc.constantFrom(...paths).map((path) => ({ value, path: path as JsonPath | undefined })),
  );
  const json = (kind: HostileInput['kind'], text: string): HostileInput => ({
    kind,
    payload: textEncoder.encode(text),
  });

  const wrongType = fc
    .tuple(atPath, wrongValue)
    .map(([{ value, path }, v]) =>
      json('wrong-type', JSON.stringify(path ? setAt(value, path, v) : v)),
    );
  const unicode = fc
    .tuple(atPath, oddString)
    .map(([{ value, path }, s]) =>
      json('unicode', JSON.stringify(path ? setAt(value, path, s) : s)),
    );
  const structural = fc
    .tuple(atPath, fc.integer({ min: 0, max: 3 }), fc.string({ maxLength: 12 }), wrongValue)
    .map(([{ value, path }, op, key, v]) => {
      if (!path) return json('structural', JSON.stringify([value]));
      if (op === 0) return json('structural', JSON.stringify(setAt(value, path, undefined, true)));
      const parent = path.slice(0, -1);
      if (op === 1) return json('structural', JSON.stringify(setAt(value, [...parent, key], v)));
      const text = JSON.stringify(value);
      const name = JSON.stringify(String(path.at(-1)));
      if (op === 2) {
        // Duplicate key: JSON.parse keeps the last one; the first may be what a different parser keeps.
        return json(
          'structural',
          text.replace(`${name}:`, `${name}:${JSON.stringify(v)},${name}:`),
        );
      }
      return json('structural', JSON.stringify(setAt(value, path, [structuredClone(value)])));
    });
  const deep = fc
    .tuple(atPath, fc.constantFrom(64, 1000, 10_000, 100_000), fc.boolean())
    .map(([{ value, path }, depth, objects]) => {
      const text = path ? JSON.stringify(setAt(value, path, MARK)) : QUOTED_MARK;
      return json('deep', text.replace(QUOTED_MARK, nested(depth, objects)));
    });
  const huge = fc
    .tuple(
      atPath,
      fc.constantFrom(-16, -1, 1, 16, o.maxBytes, 3 * o.maxBytes),
      fc.integer({ min: 0, max: 2 }),
    )
    .map(([{ value, path }, delta, shape]) => {
      const size = Math.max(0, (delta < 0 || delta === 1 || delta === 16 ? o.maxBytes : 0) + delta);
      const base = path ? setAt(value, path, MARK) : MARK;
      const text = JSON.stringify(base);
      const room = Math.max(0, size - text.length);
      if (shape === 0)
        return json('huge', text.replace(QUOTED_MARK, JSON.stringify('x'.repeat(room))));
      if (shape === 1)
        return json('huge', text.replace(QUOTED_MARK, `[${'0,'.repeat(Math.floor(room / 2))}0]`));
      return json(
        'huge',
        text.replace(QUOTED_MARK, `{${'"k":1,'.repeat(Math.floor(room / 6))}"k":1}`),
      );
    });
  const invalidUtf8 = fc.tuple(fc.constantFrom(...bytes), badUtf8, fc.nat()).map(([b, bad, at]) => {
    const quote = b.indexOf(0x22, at % Math.max(1, b.length));
    const cut = quote < 0 ? 0 : quote + 1;
    const out = new Uint8Array(b.length + bad.length);
    out.set(b.subarray(0, cut));
    out.set(bad, cut);
    out.set(b.subarray(cut), cut + bad.length);
    return { kind: 'bad-utf8', payload: out } satisfies HostileInput;
  });

  return fc.oneof(
    { arbitrary: randomBytes, weight: 2 },
    {
      arbitrary: fc
        .jsonValue({ maxDepth: 4 })
        .map((v) => json('json', JSON.stringify(v) ?? 'null')),
      weight: 2,
    },
    { arbitrary: wrongType, weight: 5 },
    { arbitrary: unicode, weight: 3 },
    { arbitrary: structural, weight: 3 },
    { arbitrary: truncatedBytes(bytes), weight: 2 },
    { arbitrary: mutatedBytes(bytes), weight: 4 },
    { arbitrary: invalidUtf8, weight: 1 },
    { arbitrary: deep, weight: 1 },
    { arbitrary: huge, weight: 1 },
  );
}
