import { join } from 'node:path';
import { ByteReader, ByteWriter, owned, TruncatedInputError } from '../codec/bytes.js';
import { bugInjected } from '../injected-bugs.js';
import type {
  Entry,
  HardState,
  InitialState,
  Membership,
  RaftStorage,
  Snapshot,
  SnapshotMeta,
} from '../types.js';
import { crc32c } from './crc32c.js';
import { nodeFileSystem, type StorageFile, type StorageFileSystem } from './file-system.js';
import {
  StorageClosedError,
  StorageCorruptionError,
  StorageFailedError,
  StorageWriteError,
} from './storage-errors.js';
import {
  encodeHardState,
  encodeSave,
  encodeSnapshotMarker,
  parseSegment,
  RecordType,
  Replay,
  type Segment,
  writeRecord,
} from './wal-records.js';

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

const SNAP_MAGIC = 0x52534e50; // "RSNP"
const SNAP_VERSION = 1;

export interface FileStorageOptions {
  readonly dir: string;
  /** A segment is closed and a new one started once it grows past this. Default 64 MiB, as etcd. */
  readonly segmentBytes?: number;
  /** fdatasync after each save. Default true; false only for tests that measure everything but the disk. */
  readonly sync?: boolean;
  /** The file system to use. Default: Node's. The simulator passes a faulty in-memory one. */
  readonly fs?: StorageFileSystem;
}

/** A crash-safe write-ahead log with snapshots. One instance per directory; not shared between processes. */
export class FileStorage implements RaftStorage {
  private readonly walDir: string;
  private readonly snapDir: string;
  private readonly segmentBytes: number;
  private readonly sync: boolean;
  private segments: Segment[] = [];
  private readonly fs: StorageFileSystem;
  private fh: StorageFile | undefined;
  /** Set by a failed write or fsync: nothing more is written until load() reads the disk again. */
  private failure: unknown;
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
    this.fs = options.fs ?? nodeFileSystem;
  }

  /** Serialises every operation: the WAL has one writer and records must not interleave. */
  private serial<T>(fn: () => Promise<T>, afterFailure = false): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new StorageClosedError(this.walDir);
      if (this.failure !== undefined && !afterFailure)
        throw new StorageFailedError(this.walDir, { cause: this.failure });
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  load(): Promise<InitialState & { readonly snapshotData?: Uint8Array }> {
    return this.serial(() => this.doLoad(), true);
  }

  private async doLoad(): Promise<InitialState & { readonly snapshotData?: Uint8Array }> {
    await this.fs.mkdir(this.walDir);
    await this.fs.mkdir(this.snapDir);
    const previous = this.fh;
    this.fh = undefined;
    this.failure = undefined;
    await previous?.close();
    const names = (await this.fs.readdir(this.walDir))
      .filter((n) => /^[0-9a-f]{16}\.wal$/.test(n))
      .sort();
    const replay = new Replay();
    this.segments = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const path = join(this.walDir, name);
      const data = owned(await this.fs.readFile(path));
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
        await this.guard(path, 0, 0, () => this.fs.truncate(path, validEnd));
        await this.guard(path, 0, 0, () => this.fs.syncFile(path));
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
      this.fh = await this.fs.open(tail.path, 'append');
      if (!tail.selfContained) {
        // A crash cut the new segment's header short: write it again, or deleting the older
        // segments after a later snapshot would lose the term and vote they hold.
        await this.append(this.headerRecords(), 0);
        tail.selfContained = true;
      }
      if (this.sync) {
        // A killed process may have left records written but never synced; they are in the page
        // cache, so this load sees them and the node will act on them (ack them, vote by them).
        // Make them durable first, or a power loss later takes back what was acknowledged.
        await this.guard(tail.path, 0, 0, () => this.fs.syncFile(tail.path));
        await this.guard(this.walDir, 0, 0, () => this.fs.syncDir(this.walDir));
        await this.guard(this.snapDir, 0, 0, () => this.fs.syncDir(this.snapDir));
        this.syncs++;
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
      if (previous) await this.fs.unlink(this.snapshotPath(previous.index)).catch(() => undefined);
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
      if (this.hardStateDeferred && this.fh && this.failure === undefined) {
        const w = new ByteWriter(32);
        writeRecord(w, RecordType.HardState, encodeHardState(this.hardState));
        await this.append(w.finish(), 0);
        this.hardStateDeferred = false;
      }
      this.closed = true;
      await this.fh?.close();
      this.fh = undefined;
    }, true).catch((err: unknown) => {
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
    await this.writeDurably(this.fh as StorageFile, tail.path, bytes);
    tail.size += bytes.length;
    if (maxIndex > tail.maxIndex) tail.maxIndex = maxIndex;
  }

  /**
   * Writes all of `bytes` (a write may stop short when the disk fills or a
   * file-size limit is hit) and syncs. Any failure marks the storage failed: the
   * file's tail is unknown, and after a failed fsync the kernel may already have
   * dropped the dirty pages, so retrying could acknowledge data that is gone.
   */
  private async writeDurably(fh: StorageFile, path: string, bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const chunk = done === 0 ? bytes : bytes.subarray(done);
      const { bytesWritten } = await this.guard(path, done, bytes.length, () => fh.write(chunk));
      if (bugInjected('short-write-unchecked')) break;
      if (!(bytesWritten > 0)) {
        const err = new StorageWriteError(path, done, bytes.length, 'no progress (disk full?)');
        this.failure = err;
        throw err;
      }
      done += bytesWritten;
    }
    if (this.sync) {
      await this.guard(path, done, bytes.length, () => fh.datasync());
      this.syncs++;
    }
  }

  private async guard<T>(
    path: string,
    done: number,
    total: number,
    op: () => Promise<T>,
  ): Promise<T> {
    try {
      return await op();
    } catch (cause) {
      const err = new StorageWriteError(path, done, total, (cause as Error).message, { cause });
      this.failure = err;
      throw err;
    }
  }

  private async startSegment(seq: number): Promise<void> {
    const previous = this.fh;
    this.fh = undefined;
    await previous?.close();
    const path = join(this.walDir, `${seq.toString(16).padStart(16, '0')}.wal`);
    const fh = await this.fs.open(path, 'append');
    this.fh = fh;
    const head = this.headerRecords();
    await this.writeDurably(fh, path, head);
    if (this.sync) await this.guard(path, 0, 0, () => this.fs.syncDir(this.walDir));
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
    for (const seg of this.segments.slice(0, drop)) await this.fs.unlink(seg.path);
    this.segments = this.segments.slice(drop);
    if (this.sync) await this.fs.syncDir(this.walDir);
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
    const fh = await this.fs.open(tmp, 'truncate');
    try {
      await this.writeDurably(fh, tmp, bytes);
    } finally {
      await fh.close();
    }
    await this.fs.rename(tmp, path);
    if (this.sync) await this.guard(path, 0, 0, () => this.fs.syncDir(this.snapDir));
  }

  private async readSnapshot(index: number, term: number): Promise<Snapshot> {
    const path = this.snapshotPath(index);
    let bytes: Uint8Array;
    try {
      bytes = owned(await this.fs.readFile(path));
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
