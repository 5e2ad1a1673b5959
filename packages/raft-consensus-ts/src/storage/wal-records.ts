import { ByteReader, ByteWriter, TruncatedInputError } from '../codec/bytes.js';
import { bugInjected } from '../injected-bugs.js';
import type { Entry, EntryType, HardState } from '../types.js';
import { crc32c } from './crc32c.js';
import { StorageCorruptionError } from './storage-errors.js';

/*
 * The WAL's record format (see file-storage.ts for the layout):
 * [length u32][type u8][crc32c u32][data: length bytes], CRC over type and data.
 */

export const HEADER_BYTES = 9;
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;
export enum RecordType {
  /** One save(): an optional hard state and a batch of entries, atomic as a unit. */
  Save = 1,
  HardState = 2,
  SnapshotMarker = 3,
}
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'config', 'noop'];

export interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number;
  /** Highest entry index written into this segment (0 if none). */
  maxIndex: number;
  /** Holds a hard-state record, so older segments can go without losing term and vote. */
  selfContained: boolean;
}

export function writeRecord(w: ByteWriter, type: RecordType, data: Uint8Array): void {
  const at = w.length;
  w.u32(data.length).u8(type).u32(0).bytes(data);
  const bytes = w.finish();
  w.patchU32(at + 5, crc32c(data, crc32c(bytes, 0, at + 4, at + 5)));
}

export function encodeSave(
  hardState: HardState | undefined,
  entries: readonly Entry[],
): Uint8Array {
  const w = new ByteWriter(40 + entries.reduce((n, e) => n + 17 + e.data.length, 0));
  w.u8(hardState ? 1 : 0);
  if (hardState) writeHardState(w, hardState);
  w.u32(entries.length);
  for (const e of entries) w.u48(e.index).u48(e.term).u8(ENTRY_TYPES.indexOf(e.type)).blob(e.data);
  return w.finish();
}

function writeHardState(w: ByteWriter, h: HardState): void {
  w.u48(h.term)
    .u48(h.commit)
    .u8(h.vote === null ? 0 : 1);
  if (h.vote !== null) w.str(h.vote);
}

export function encodeHardState(h: HardState): Uint8Array {
  const w = new ByteWriter(32);
  writeHardState(w, h);
  return w.finish();
}

function readHardState(r: ByteReader): HardState {
  const term = r.u48('term');
  const commit = r.u48('commit');
  const vote = r.u8('vote flag') === 1 ? r.str('vote') : null;
  return { term, vote, commit };
}

export function encodeSnapshotMarker(index: number, term: number): Uint8Array {
  return new ByteWriter(12).u48(index).u48(term).finish();
}

/**
 * Walks one segment's records, calling `onRecord` for each valid one, and returns
 * the offset where valid data ends. Only the newest segment's final record may
 * be torn (a crash mid-write: FileStorage syncs every record before writing the
 * next, so at most one is ever unsynced); anything else that does not parse is
 * corruption, named by file and offset.
 */
export function parseSegment(
  path: string,
  data: Uint8Array,
  last: boolean,
  onRecord: (type: number, reader: ByteReader, offset: number) => void,
): number {
  let off = 0;
  while (off < data.length) {
    const checked = checkRecord(data, off);
    if (checked.ok) {
      const { type, end } = checked;
      if (type < RecordType.Save || type > RecordType.SnapshotMarker)
        throw new StorageCorruptionError(path, off, `unknown record type ${type}`);
      try {
        onRecord(type, new ByteReader(data, off + HEADER_BYTES, end), off);
      } catch (err) {
        if (err instanceof TruncatedInputError)
          throw new StorageCorruptionError(path, off, `malformed record: ${err.message}`);
        throw err;
      }
      off = end;
      continue;
    }
    if (last && isTornTail(data, off, checked.problem)) return off;
    throw new StorageCorruptionError(path, off, checked.reason);
  }
  return off;
}

type Problem = 'header-short' | 'past-end' | 'checksum';
type Checked =
  | { readonly ok: true; readonly type: number; readonly end: number }
  | { readonly ok: false; readonly problem: Problem; readonly reason: string };

function checkRecord(data: Uint8Array, off: number): Checked {
  if (data.length - off < HEADER_BYTES)
    return { ok: false, problem: 'header-short', reason: 'record header cut short' };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const len = view.getUint32(off);
  const crc = view.getUint32(off + 5);
  const end = off + HEADER_BYTES + len;
  if (len > MAX_RECORD_BYTES || end > data.length) {
    const reason = `record of ${len} bytes runs past the end of the segment`;
    return { ok: false, problem: 'past-end', reason };
  }
  const actual = crc32c(data, crc32c(data, 0, off + 4, off + 5), off + HEADER_BYTES, end);
  if (actual !== crc) {
    const reason = `checksum mismatch (stored ${crc.toString(16)}, computed ${actual.toString(16)})`;
    return { ok: false, problem: 'checksum', reason };
  }
  return { ok: true, type: data[off + 4] as number, end };
}

/**
 * Whether the bad record at `off` of the newest segment is the torn final write
 * of a crash rather than damage to acknowledged data:
 * - a tail of zero bytes is torn (the file grew but its data never reached the disk, as etcd treats it);
 * - a valid record after it means it was not the final record: corruption;
 * - its stored checksum matching the rest of the file means the record was written
 *   whole and its length field is what is damaged: corruption.
 */
function isTornTail(data: Uint8Array, off: number, problem: Problem): boolean {
  if (bugInjected('mid-segment-corruption-as-torn')) {
    // The old rule: anything running past the end, or a bad checksum at the very end, is torn.
    if (problem !== 'checksum') return true;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return off + HEADER_BYTES + view.getUint32(off) === data.length;
  }
  let zeros = true;
  for (let i = off; i < data.length; i++) {
    if (data[i] !== 0) {
      zeros = false;
      break;
    }
  }
  if (zeros) return true;
  for (let p = off + 1; p + HEADER_BYTES <= data.length; p++) {
    const type = data[p + 4] as number;
    if (type < RecordType.Save || type > RecordType.SnapshotMarker) continue;
    if (checkRecord(data, p).ok) return false;
  }
  if (problem === 'header-short') return true;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stored = view.getUint32(off + 5);
  return crc32c(data, crc32c(data, 0, off + 4, off + 5), off + HEADER_BYTES) !== stored;
}

/** Rebuilds the log from records in write order (see the layout note at the top). */
export class Replay {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: { index: number; term: number } | undefined;
  base = 0;
  entries: Entry[] = [];
  /** Entries up to this index are missing (segments deleted after a snapshot); a later snapshot must cover them. */
  gapUpTo = 0;
  gapAt = { file: '', offset: 0 };

  apply(type: number, r: ByteReader, file: string, offset: number, seg: Segment): void {
    if (type === RecordType.HardState) {
      this.hardState = readHardState(r);
      seg.selfContained = true;
    } else if (type === RecordType.SnapshotMarker) {
      const index = r.u48('index');
      const term = r.u48('term');
      // A marker at or below `base` (possible right after a compaction gap) covers nothing still held.
      if (index > this.base) {
        const at = this.entries[index - this.base - 1];
        this.entries = at && at.term === term ? this.entries.slice(index - this.base) : [];
        this.base = index;
      }
      this.snapshot = { index, term };
      if (this.gapUpTo <= index) this.gapUpTo = 0;
    } else {
      const hardState = r.u8('hard state flag') === 1 ? readHardState(r) : undefined;
      const count = r.u32('entry count');
      for (let i = 0; i < count; i++) {
        const index = r.u48('entry index');
        const term = r.u48('entry term');
        const kind = ENTRY_TYPES[r.u8('entry type')];
        const data = r.blob('entry data');
        if (!kind)
          throw new StorageCorruptionError(file, offset, `entry ${index} has an unknown type`);
        if (index > seg.maxIndex) seg.maxIndex = index;
        const last = this.base + this.entries.length;
        if (index > last + 1) {
          // Older segments were compacted away: the entries before this one must be under a snapshot.
          this.entries = [];
          this.base = index - 1;
          this.gapUpTo = index - 1;
          this.gapAt = { file, offset };
        } else if (index <= this.base) {
          continue;
        } else {
          this.entries.length = index - this.base - 1;
        }
        this.entries.push({ index, term, type: kind, data });
      }
      if (hardState) {
        this.hardState = hardState;
        seg.selfContained = true;
      }
    }
  }

  finish(_dir: string): {
    hardState: HardState;
    snapshot?: { index: number; term: number };
    base: number;
    entries: Entry[];
  } {
    if (this.gapUpTo > 0) {
      throw new StorageCorruptionError(
        this.gapAt.file,
        this.gapAt.offset,
        `entries up to ${this.gapUpTo} are missing and no snapshot covers them`,
      );
    }
    return {
      hardState: this.hardState,
      ...(this.snapshot ? { snapshot: this.snapshot } : {}),
      base: this.base,
      entries: this.entries,
    };
  }
}
