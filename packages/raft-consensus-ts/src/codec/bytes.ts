/**
 * Little binary writer/reader used by the WAL and the wire codec. Integers that
 * can exceed 2^32 (terms, indexes) are written as 48-bit unsigned values: enough
 * for 10^14 entries, and exact in a JS number.
 */

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.length++] = v;
    return this;
  }

  u16(v: number): this {
    this.reserve(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
    return this;
  }

  u48(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff_ffff)
      throw new RangeError(`u48 out of range: ${v}`);
    this.reserve(6);
    this.view.setUint16(this.length, Math.floor(v / 2 ** 32));
    this.view.setUint32(this.length + 2, v >>> 0);
    this.length += 6;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.reserve(v.length);
    this.buf.set(v, this.length);
    this.length += v.length;
    return this;
  }

  /** Length-prefixed (u32) bytes. */
  blob(v: Uint8Array): this {
    return this.u32(v.length).bytes(v);
  }

  /** Length-prefixed (u16) UTF-8 string. */
  str(v: string): this {
    const b = textEncoder.encode(v);
    if (b.length > 0xffff) throw new RangeError('string longer than 65535 bytes');
    return this.u16(b.length).bytes(b);
  }

  /** Overwrites a u32 written earlier (for length or checksum fields filled in last). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v);
  }

  /** A view of the written bytes (shares memory with the writer). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Thrown by ByteReader when the input ends early or holds an impossible value; decoders catch it. */
export class TruncatedInputError extends Error {
  override readonly name = 'TruncatedInputError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export class ByteReader {
  private readonly view: DataView;
  offset: number;

  private readonly buf: Uint8Array;

  /** `input` is read in place: pass a buffer nothing else will modify (see `owned`). */
  constructor(
    input: Uint8Array,
    start = 0,
    readonly end = input.length,
  ) {
    this.buf = input;
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.end)
      throw new TruncatedInputError(`input ends inside ${what}`, this.offset);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.offset++] as number;
  }

  /** A flags byte; a bit outside `allowed` is refused, so every accepted frame re-encodes to the same bytes. */
  flags(allowed: number, what = 'flags'): number {
    const v = this.u8(what);
    if ((v & ~allowed) !== 0)
      throw new TruncatedInputError(
        `${what} has unknown bits set (0x${v.toString(16)})`,
        this.offset - 1,
      );
    return v;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  u48(what = 'u48'): number {
    this.need(6, what);
    const v = this.view.getUint16(this.offset) * 2 ** 32 + this.view.getUint32(this.offset + 2);
    this.offset += 6;
    return v;
  }

  /**
   * A view into the input, not a copy: callers own the input (decoders copy a
   * received frame once), and one copy per frame is far cheaper than one
   * allocation per entry.
   */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  blob(what = 'blob'): Uint8Array {
    return this.bytes(this.u32(`${what} length`), what);
  }

  str(what = 'string'): string {
    const n = this.u16(`${what} length`);
    this.need(n, what);
    try {
      const v = textDecoder.decode(this.buf.subarray(this.offset, this.offset + n));
      this.offset += n;
      return v;
    } catch {
      throw new TruncatedInputError(`${what} is not valid UTF-8`, this.offset);
    }
  }
}

/**
 * A private copy of `input` as a plain Uint8Array (not a Node Buffer, which may
 * share a pooled slab): decoded values may then be views into it safely.
 */
export function owned(input: Uint8Array): Uint8Array {
  return new Uint8Array(input);
}
