import { closeSync, fsyncSync, openSync } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  truncate,
  unlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { ByteReader, ByteWriter, owned, TruncatedInputError } from '../codec/bytes.js';
import type {
  Entry,
  EntryType,
  HardState,
  InitialState,
  Membership,
  RaftStorage,
  Snapshot,
  SnapshotMeta,
} from '../types.js';
import { crc32c } from './crc32c.js';
import { StorageClosedError, StorageCorruptionError } from './storage-errors.js';

/*
 * On-disk layout of one node:
 *
 *   <dir>/wal/<seq:16 hex>.wal    segments of records, appended and fdatasync'ed
 *   <dir>/snap/<index:16 hex>.snap  snapshots, each written whole and renamed into place
 *
 * A record is  [length u32][type u8][crc32c u32][data: length bytes]  with the
 * CRC over type and data. Types: save (one save() call: the hard state, if any,
 * and a batch of entries whose first index truncates any later entries before
 * appending, which is how Raft overwrites a conflicting suffix; one record, so a
 * save is all-or-nothing), hard state, and snapshot marker (index, term). Every new segment
 * starts with the current snapshot marker and hard state, so whole old segments
 * can be deleted once a snapshot covers their entries.
 */

const HEADER_BYTES = 9;
const MAX_RECORD_BYTES = 256 * 1024 * 1024;
enum RecordType {
  /** One save(): an optional hard state and a batch of entries, atomic as a unit. */
  Save = 1,
  HardState = 2,
  SnapshotMarker = 3,
}
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'config', 'noop'];
const SNAP_MAGIC = 0x52534e50; // "RSNP"
const SNAP_VERSION = 1;

export interface FileStorageOptions {
  readonly dir: string;
  /** A segment is closed and a new one started once it grows past this. Default 64 MiB, as etcd. */
  readonly segmentBytes?: number;
  /** fdatasync after each save. Default true; false only for tests that measure everything but the disk. */
  readonly sync?: boolean;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number;
  /** Highest entry index written into this segment (0 if none). */
  maxIndex: number;
  /** Holds a hard-state record, so older segments can go without losing term and vote. */
  selfContained: boolean;
}

/** A crash-safe write-ahead log with snapshots. One instance per directory; not shared between processes. */
export class FileStorage implements RaftStorage {
  private readonly walDir: string;
  private readonly snapDir: string;
  private readonly segmentBytes: number;
  private readonly sync: boolean;
  private segments: Segment[] = [];
  private fh: FileHandle | undefined;
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  /** `hardState` holds a commit index not yet written (see save()). */
  private hardStateDeferred = false;
  private snapshotMeta: SnapshotMeta | undefined;
  /** Terms of the entries after the snapshot: termAt(i) = terms[i - base - 1]. */
  private terms: number[] = [];
  private base = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private loaded = false;
  private closed = false;
  /** fdatasync calls made, for benchmarks and tests of batching. */
  syncs = 0;

  constructor(options: FileStorageOptions) {
    this.walDir = join(options.dir, 'wal');
    this.snapDir = join(options.dir, 'snap');
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.sync = options.sync ?? true;
  }

  /** Serialises every operation: the WAL has one writer and records must not interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new StorageClosedError(this.walDir);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  load(): Promise<InitialState & { readonly snapshotData?: Uint8Array }> {
    return this.serial(() => this.doLoad());
  }

  private async doLoad(): Promise<InitialState & { readonly snapshotData?: Uint8Array }> {
    await mkdir(this.walDir, { recursive: true });
    await mkdir(this.snapDir, { recursive: true });
    await this.fh?.close();
    this.fh = undefined;
    const names = (await readdir(this.walDir)).filter((n) => /^[0-9a-f]{16}\.wal$/.test(n)).sort();
    const replay = new Replay();
    this.segments = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const path = join(this.walDir, name);
      const data = owned(await readFile(path));
      const last = i === names.length - 1;
      const seg: Segment = {
        seq: Number.parseInt(name.slice(0, 16), 16),
        path,
        size: data.length,
        maxIndex: 0,
        selfContained: false,
      };
      const validEnd = parseSegment(path, data, last, (type, reader, offset) => {
        replay.apply(type, reader, path, offset, seg);
      });
      if (validEnd < data.length) {
        // A torn tail: the crash happened mid-write, so nothing after it was acknowledged.
        await truncate(path, validEnd);
        await fsyncPath(path);
        seg.size = validEnd;
      }
      this.segments.push(seg);
    }
    const state = replay.finish(this.walDir);
    this.hardState = state.hardState;
    this.hardStateDeferred = false;
    this.base = state.base;
    this.terms = state.entries.map((e) => e.term);
    this.snapshotMeta = undefined;
    let snapshotData: Uint8Array | undefined;
    if (state.snapshot) {
      const snap = await this.readSnapshot(state.snapshot.index, state.snapshot.term);
      this.snapshotMeta = snap.meta;
      snapshotData = snap.data;
    }
    if (this.segments.length === 0) await this.startSegment(1);
    else {
      const tail = this.segments[this.segments.length - 1] as Segment;
      this.fh = await open(tail.path, 'a');
      if (!tail.selfContained) {
        // A crash cut the new segment's header short: write it again, or deleting the older
        // segments after a later snapshot would lose the term and vote they hold.
        await this.append(this.headerRecords(), 0);
        tail.selfContained = true;
      }
    }
    this.loaded = true;
    return {
      hardState: { ...this.hardState },
      entries: state.entries,
      ...(this.snapshotMeta ? { snapshot: this.snapshotMeta, snapshotData } : {}),
    };
  }

  save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    if (!hardState && entries.length === 0) return Promise.resolve();
    return this.serial(async () => {
      this.assertLoaded();
      const first = entries[0];
      if (first) {
        const last = this.base + this.terms.length;
        if (first.index > last + 1)
          throw new RangeError(`entries from ${first.index} leave a gap after ${last}`);
      }
      if (
        !first &&
        hardState &&
        hardState.term === this.hardState.term &&
        hardState.vote === this.hardState.vote
      ) {
        // Only the commit index moved. Raft needs term and vote durable before any reply, but a
        // commit index lost in a crash is learned again from the leader (etcd's MustSync rule):
        // keep it for the next record instead of paying an fsync on every commit.
        this.hardState = { ...hardState };
        this.hardStateDeferred = true;
        return;
      }
      const hs = hardState ?? (this.hardStateDeferred ? this.hardState : undefined);
      const w = new ByteWriter(64 + entries.reduce((n, e) => n + 20 + e.data.length, 0));
      writeRecord(w, RecordType.Save, encodeSave(hs, entries));
      await this.append(w.finish(), first ? (entries[entries.length - 1] as Entry).index : 0);
      this.hardStateDeferred = false;
      if (first) {
        const keep = Math.max(0, first.index - this.base - 1);
        this.terms.length = keep;
        for (const e of entries) if (e.index > this.base) this.terms.push(e.term);
      }
      if (hardState) this.hardState = { ...hardState };
    });
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.serial(async () => {
      this.assertLoaded();
      const { index, term } = snapshot.meta;
      if (this.snapshotMeta && index <= this.snapshotMeta.index) return;
      await this.writeSnapshotFile(snapshot);
      const w = new ByteWriter(32);
      writeRecord(w, RecordType.SnapshotMarker, encodeSnapshotMarker(index, term));
      await this.append(w.finish(), 0);
      const at = index - this.base - 1;
      // Raft keeps the entries after a snapshot only when the log agrees with it at its index.
      this.terms =
        at < this.terms.length && this.terms[at] === term ? this.terms.slice(at + 1) : [];
      this.base = index;
      const previous = this.snapshotMeta;
      this.snapshotMeta = snapshot.meta;
      if (previous) await unlink(this.snapshotPath(previous.index)).catch(() => undefined);
      await this.dropSegmentsUpTo(index);
    });
  }

  compact(index: number): Promise<void> {
    return this.serial(async () => {
      this.assertLoaded();
      // Entries above the snapshot are the only copy of their data: never drop them.
      await this.dropSegmentsUpTo(Math.min(index, this.snapshotMeta?.index ?? 0));
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.hardStateDeferred && this.fh) {
        const w = new ByteWriter(32);
        writeRecord(w, RecordType.HardState, encodeHardState(this.hardState));
        await this.append(w.finish(), 0);
        this.hardStateDeferred = false;
      }
      this.closed = true;
      await this.fh?.close();
      this.fh = undefined;
    }).catch((err: unknown) => {
      if (!(err instanceof StorageClosedError)) throw err;
    });
  }

  /** The segments currently on disk (for tests and operators). */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.path);
  }

  private assertLoaded(): void {
    if (!this.loaded) throw new Error('FileStorage: call load() before writing');
  }

  private async append(bytes: Uint8Array, maxIndex: number): Promise<void> {
    let tail = this.segments[this.segments.length - 1] as Segment;
    if (tail.size >= this.segmentBytes) {
      await this.startSegment(tail.seq + 1);
      tail = this.segments[this.segments.length - 1] as Segment;
    }
    const fh = this.fh as FileHandle;
    await fh.write(bytes);
    if (this.sync) {
      await fh.datasync();
      this.syncs++;
    }
    tail.size += bytes.length;
    if (maxIndex > tail.maxIndex) tail.maxIndex = maxIndex;
  }

  private async startSegment(seq: number): Promise<void> {
    await this.fh?.close();
    const path = join(this.walDir, `${seq.toString(16).padStart(16, '0')}.wal`);
    const fh = await open(path, 'a');
    const head = this.headerRecords();
    await fh.write(head);
    if (this.sync) {
      await fh.datasync();
      fsyncDir(this.walDir);
      this.syncs++;
    }
    this.fh = fh;
    this.segments.push({ seq, path, size: head.length, maxIndex: 0, selfContained: true });
  }

  /** The records every segment starts with: the current snapshot marker (if any) and hard state. */
  private headerRecords(): Uint8Array {
    const w = new ByteWriter(64);
    if (this.snapshotMeta)
      writeRecord(
        w,
        RecordType.SnapshotMarker,
        encodeSnapshotMarker(this.snapshotMeta.index, this.snapshotMeta.term),
      );
    writeRecord(w, RecordType.HardState, encodeHardState(this.hardState));
    return w.finish();
  }

  /** Deletes whole segments, oldest first, whose entries are all at or below `index`; never the one being written. */
  private async dropSegmentsUpTo(index: number): Promise<void> {
    let cumulativeMax = 0;
    let drop = 0;
    for (let i = 0; i < this.segments.length - 1; i++) {
      cumulativeMax = Math.max(cumulativeMax, (this.segments[i] as Segment).maxIndex);
      if (cumulativeMax > index) break;
      drop = i + 1;
    }
    if (drop === 0) return;
    for (const seg of this.segments.slice(0, drop)) await unlink(seg.path);
    this.segments = this.segments.slice(drop);
    if (this.sync) fsyncDir(this.walDir);
  }

  private snapshotPath(index: number): string {
    return join(this.snapDir, `${index.toString(16).padStart(16, '0')}.snap`);
  }

  private async writeSnapshotFile(snapshot: Snapshot): Promise<void> {
    const meta = new TextEncoder().encode(JSON.stringify(snapshot.meta));
    const w = new ByteWriter(32 + meta.length + snapshot.data.length);
    w.u32(SNAP_MAGIC).u8(SNAP_VERSION).u32(0).blob(meta).blob(snapshot.data);
    const bytes = w.finish();
    w.patchU32(5, crc32c(bytes, 0, 9));
    const path = this.snapshotPath(snapshot.meta.index);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.write(bytes);
      if (this.sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    if (this.sync) fsyncDir(this.snapDir);
  }

  private async readSnapshot(index: number, term: number): Promise<Snapshot> {
    const path = this.snapshotPath(index);
    let bytes: Uint8Array;
    try {
      bytes = owned(await readFile(path));
    } catch (cause) {
      throw new StorageCorruptionError(
        path,
        0,
        `the WAL refers to snapshot ${index} (term ${term}) but its file cannot be read`,
        { cause },
      );
    }
    try {
      const r = new ByteReader(bytes);
      if (r.u32('magic') !== SNAP_MAGIC)
        throw new StorageCorruptionError(path, 0, 'not a snapshot file (bad magic)');
      const version = r.u8('version');
      if (version !== SNAP_VERSION)
        throw new StorageCorruptionError(path, 4, `unknown snapshot version ${version}`);
      const crc = r.u32('checksum');
      if (crc32c(bytes, 0, 9) !== crc)
        throw new StorageCorruptionError(path, 5, 'snapshot checksum mismatch');
      const meta = parseSnapshotMeta(new TextDecoder().decode(r.blob('meta')));
      const data = r.blob('data');
      if (!meta || meta.index !== index || meta.term !== term) {
        throw new StorageCorruptionError(
          path,
          9,
          `snapshot metadata does not match the WAL marker (index ${index}, term ${term})`,
        );
      }
      return { meta, data };
    } catch (err) {
      if (err instanceof TruncatedInputError)
        throw new StorageCorruptionError(path, err.offset, err.message);
      throw err;
    }
  }
}

function parseSnapshotMeta(text: string): SnapshotMeta | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const m = o.membership as Record<string, unknown> | undefined;
  const isIds = (x: unknown): x is string[] =>
    Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (
    !Number.isInteger(o.index) ||
    !Number.isInteger(o.term) ||
    !m ||
    !isIds(m.voters) ||
    !isIds(m.learners)
  )
    return undefined;
  const membership: Membership = { voters: m.voters, learners: m.learners };
  return { index: o.index as number, term: o.term as number, membership };
}

function writeRecord(w: ByteWriter, type: RecordType, data: Uint8Array): void {
  const at = w.length;
  w.u32(data.length).u8(type).u32(0).bytes(data);
  const bytes = w.finish();
  w.patchU32(at + 5, crc32c(data, crc32c(bytes, 0, at + 4, at + 5)));
}

function encodeSave(hardState: HardState | undefined, entries: readonly Entry[]): Uint8Array {
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

function encodeHardState(h: HardState): Uint8Array {
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

function encodeSnapshotMarker(index: number, term: number): Uint8Array {
  return new ByteWriter(12).u48(index).u48(term).finish();
}

/**
 * Walks one segment's records, calling `onRecord` for each valid one, and returns
 * the offset where valid data ends. In the last segment a short or bad-checksum
 * final record is a torn write and ends the log; anywhere else it is corruption.
 */
function parseSegment(
  path: string,
  data: Uint8Array,
  last: boolean,
  onRecord: (type: number, reader: ByteReader, offset: number) => void,
): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off < data.length) {
    const torn = (reason: string): number => {
      if (last) return off;
      throw new StorageCorruptionError(path, off, reason);
    };
    if (data.length - off < HEADER_BYTES) return torn('record header cut short');
    const len = view.getUint32(off);
    const type = data[off + 4] as number;
    const crc = view.getUint32(off + 5);
    const end = off + HEADER_BYTES + len;
    if (len > MAX_RECORD_BYTES || end > data.length)
      return torn(`record of ${len} bytes runs past the end of the segment`);
    const actual = crc32c(data, crc32c(data, 0, off + 4, off + 5), off + HEADER_BYTES, end);
    if (actual !== crc) {
      if (end === data.length) return torn('checksum mismatch in the final record');
      throw new StorageCorruptionError(
        path,
        off,
        `checksum mismatch (stored ${crc.toString(16)}, computed ${actual.toString(16)})`,
      );
    }
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
  }
  return off;
}

/** Rebuilds the log from records in write order (see the layout note at the top). */
class Replay {
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

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a create, rename or unlink in `dir` durable (Linux needs the directory itself synced). */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
