import fc from 'fast-check';
import { type HostileInput, mutatedBytes, randomBytes, truncatedBytes } from './bytes.js';

export interface HostileBinaryOptions {
  /** Valid encodings, the seeds of every mutation (and fed as they are, kind `valid`). */
  readonly samples: readonly Uint8Array[];
  /** The receiver's size limit: "huge" inputs go past it. */
  readonly maxBytes: number;
}

/** Overwrites `width` bytes at `at` with a big-endian value: a length or count that lies. */
function patch(b: Uint8Array, at: number, width: 1 | 2 | 4, value: number): Uint8Array {
  const out = new Uint8Array(b);
  if (out.length < width) return out;
  const view = new DataView(out.buffer);
  const where = at % (out.length - width + 1);
  if (width === 1) view.setUint8(where, value & 0xff);
  else if (width === 2) view.setUint16(where, value & 0xffff);
  else view.setUint32(where, value >>> 0);
  return out;
}

/**
 * Hostile inputs for a binary decoder: random bytes, valid encodings truncated
 * or byte-mutated, length and count fields that claim far more than the input
 * holds (or zero), type codes out of range, and inputs past the size limit.
 */
export function hostileBinary(o: HostileBinaryOptions): fc.Arbitrary<HostileInput> {
  const sample = fc.constantFrom(...o.samples);
  const lyingField = fc
    .tuple(
      sample,
      fc.nat(),
      fc.constantFrom<1 | 2 | 4>(1, 2, 4),
      fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, 10, 100),
    )
    .map(
      ([b, at, width, value]) =>
        ({ kind: 'wrong-type', payload: patch(b, at, width, value) }) satisfies HostileInput,
    );
  const huge = fc
    .tuple(sample, fc.constantFrom(1, 1024, o.maxBytes), fc.integer({ min: 0, max: 255 }))
    .map(([b, extra, fill]) => {
      const out = new Uint8Array(b.length + extra).fill(fill);
      out.set(b);
      return { kind: 'huge', payload: out } satisfies HostileInput;
    });
  return fc.oneof(
    {
      arbitrary: sample.map((payload) => ({ kind: 'valid', payload }) satisfies HostileInput),
      weight: 1,
    },
    { arbitrary: randomBytes, weight: 2 },
    { arbitrary: truncatedBytes(o.samples), weight: 3 },
    { arbitrary: mutatedBytes(o.samples), weight: 5 },
    { arbitrary: lyingField, weight: 4 },
    { arbitrary: huge, weight: 1 },
  );
}
