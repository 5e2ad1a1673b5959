import fc from 'fast-check';

/** Which family of hostile input a payload belongs to; campaigns count inputs per kind. */
export type InputKind =
  | 'bytes'
  | 'json'
  | 'wrong-type'
  | 'unicode'
  | 'structural'
  | 'truncated'
  | 'mutated'
  | 'bad-utf8'
  | 'deep'
  | 'huge'
  | 'valid';

export interface HostileInput {
  readonly kind: InputKind;
  readonly payload: Uint8Array;
}

/** Strings that break naive code: lone surrogates, NUL, BOM, bidi overrides, NATS wildcards, proto keys. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '\ud800',
    '\udfff',
    'a\ud83dz',
    '\u0000',
    '\ufeff',
    '\u202e',
    '\u200b',
    'e\u0301\u0301\u0301',
    '\uffff',
    '\ufffd',
    '💥',
    '𝕏𝕏𝕏',
    '..',
    '*',
    '>',
    ' ',
    '',
    'cox.x.>',
    '__proto__',
    'constructor',
    '\n\r\t',
    '\\',
    '"',
    'ǅ',
    'İ',
  ),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);

export const randomBytes: fc.Arbitrary<HostileInput> = fc
  .uint8Array({ maxLength: 600 })
  .map((payload) => ({ kind: 'bytes', payload }));

/** A valid payload cut at every possible offset (fast-check picks which). */
export function truncatedBytes(valid: readonly Uint8Array[]): fc.Arbitrary<HostileInput> {
  return fc
    .constantFrom(...valid)
    .chain((b) => fc.nat({ max: Math.max(0, b.length - 1) }).map((n) => b.subarray(0, n)))
    .map((payload) => ({ kind: 'truncated', payload }));
}

type Edit = { op: 'set' | 'insert' | 'delete' | 'dup'; at: number; byte: number; len: number };

const edit: fc.Arbitrary<Edit> = fc.record({
  op: fc.constantFrom('set', 'insert', 'delete', 'dup'),
  at: fc.nat(),
  byte: fc.oneof(
    fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x22, 0x5c, 0x7b, 0x5b),
    fc.integer({ min: 0, max: 255 }),
  ),
  len: fc.integer({ min: 1, max: 16 }),
});

export function applyEdits(input: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let b = Array.from(input);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    if (e.op === 'set' && b.length > 0) b[at] = e.byte;
    else if (e.op === 'insert') b.splice(at, 0, ...new Array<number>(e.len).fill(e.byte));
    else if (e.op === 'delete') b.splice(at, e.len);
    else if (e.op === 'dup') b = [...b.slice(0, at + e.len), ...b.slice(at)];
  }
  return Uint8Array.from(b);
}

/** A valid payload with 1 to 8 byte edits: set, insert, delete or duplicate a run. */
export function mutatedBytes(valid: readonly Uint8Array[]): fc.Arbitrary<HostileInput> {
  return fc
    .tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 8 }))
    .map(([b, edits]) => ({ kind: 'mutated', payload: applyEdits(b, edits) }));
}
