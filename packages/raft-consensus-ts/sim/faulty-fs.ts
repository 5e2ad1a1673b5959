/**
 * An in-memory file system with a disk's faults, for FileStorage under the
 * simulator. It keeps what is durable apart from what is only in the page
 * cache: a crash keeps the durable bytes and, of each file's unsynced appended
 * bytes, all, none, a prefix cut at any byte, or a prefix followed by zeros up
 * to the new size (the size reached the disk, the data did not). Directory
 * entries (create, rename, unlink) are durable only after a directory fsync.
 * Writes may stop short; a full disk writes what fits and then fails with
 * ENOSPC; an fsync may fail with EIO, and the kernel then drops the unsynced
 * pages (a later read sees only what reached the disk). Bit flips hit synced
 * bytes. Every operation completes on the scheduler after a latency, so a crash
 * can fall between any two awaits.
 */
import type { Prng } from '../src/core/prng.js';
import type { StorageFile, StorageFileSystem } from '../src/storage/file-system.js';
import type { Process, Scheduler } from './sim-scheduler.js';

class Inode {
  buf = new Uint8Array(256);
  size = 0;
  syncedSize = 0;
  /** Durable contents when the file changed other than by appending since its last sync. */
  durable: Uint8Array | undefined;
  /** Offsets of past syncs (record boundaries), and the one before the last sync. */
  syncPoints: number[] = [];

  contents(): Uint8Array {
    return this.buf.slice(0, this.size);
  }

  durableContents(): Uint8Array {
    return this.durable ?? this.buf.slice(0, this.syncedSize);
  }

  append(data: Uint8Array): void {
    if (this.size + data.length > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.size + data.length) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.size));
      this.buf = next;
    }
    this.buf.set(data, this.size);
    this.size += data.length;
  }

  /** A change that is not an append: keep a copy of what the disk still holds. */
  rewrite(data: Uint8Array): void {
    if (this.durable === undefined) this.durable = this.buf.slice(0, this.syncedSize);
    this.buf = new Uint8Array(Math.max(256, data.length));
    this.buf.set(data);
    this.size = data.length;
  }

  sync(): void {
    if (this.syncPoints.length > 64) this.syncPoints.splice(0, 32);
    // A sync with nothing new (load() syncing what it read) is not a record boundary.
    if (this.syncPoints[this.syncPoints.length - 1] !== this.size) this.syncPoints.push(this.size);
    this.durable = undefined;
    this.syncedSize = this.size;
  }

  static of(data: Uint8Array): Inode {
    const n = new Inode();
    n.append(data);
    n.sync();
    n.syncPoints = [];
    return n;
  }
}

export interface FsFaults {
  /** Probability that one write stops short. */
  shortWriteRate: number;
  /** Probability that one fsync fails with EIO. */
  fsyncErrorRate: number;
  /** Bytes that still fit; undefined: unlimited. */
  freeBytes: number | undefined;
  /** Upper bound of an fsync's latency, in virtual ms. */
  maxFsyncMs: number;
}

export interface FsStats {
  shortWrites: number;
  enospc: number;
  fsyncErrors: number;
  bitFlips: number;
  crashes: number;
  tornTails: number;
  zeroTails: number;
}

const errno = (code: string, syscall: string, path: string): Error =>
  Object.assign(new Error(`${code}: ${syscall} ${path}`), { code, syscall, path });

const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));

export class FaultyFs {
  private files = new Map<string, Inode>();
  /** The directory entries as the disk holds them. */
  private durableNames = new Map<string, Inode>();
  private readonly dirs = new Set<string>();
  faults: FsFaults = { shortWriteRate: 0, fsyncErrorRate: 0, freeBytes: undefined, maxFsyncMs: 1 };
  readonly stats: FsStats = {
    shortWrites: 0,
    enospc: 0,
    fsyncErrors: 0,
    bitFlips: 0,
    crashes: 0,
    tornTails: 0,
    zeroTails: 0,
  };

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Prng,
  ) {}

  /** The view one process has: operations complete on the scheduler, owned by `proc`. */
  api(proc: Process): StorageFileSystem {
    return new ProcessFs(this, proc);
  }

  /** @internal: completes `op` after `ms`, unless the owning process died meanwhile. */
  later<T>(proc: Process, ms: number, op: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      this.sched.after(ms, proc, () => {
        try {
          resolve(op());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  latency(): number {
    return this.rng.next() < 0.7 ? 0 : this.rng.next();
  }

  fsyncLatency(): number {
    return this.rng.next() * this.faults.maxFsyncMs;
  }

  inode(path: string, syscall: string): Inode {
    const n = this.files.get(path);
    if (n === undefined) throw errno('ENOENT', syscall, path);
    return n;
  }

  mkdir(path: string): void {
    this.dirs.add(path);
  }

  readdir(path: string): string[] {
    if (!this.dirs.has(path)) throw errno('ENOENT', 'scandir', path);
    const prefix = `${path}/`;
    return [...this.files.keys()]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
      .map((p) => p.slice(prefix.length));
  }

  open(path: string, mode: 'append' | 'truncate'): Inode {
    if (!this.dirs.has(dirOf(path))) throw errno('ENOENT', 'open', path);
    let n = this.files.get(path);
    if (n === undefined) {
      n = new Inode();
      this.files.set(path, n);
    } else if (mode === 'truncate') n.rewrite(new Uint8Array(0));
    return n;
  }

  write(n: Inode, path: string, data: Uint8Array): number {
    let len = data.length;
    const free = this.faults.freeBytes;
    if (free !== undefined && len > free) {
      if (free === 0) {
        this.stats.enospc++;
        throw errno('ENOSPC', 'write', path);
      }
      len = free;
    }
    if (len > 1 && this.rng.next() < this.faults.shortWriteRate) {
      len = this.rng.int(1, len);
      this.stats.shortWrites++;
    }
    n.append(data.subarray(0, len));
    if (free !== undefined) this.faults.freeBytes = free - len;
    return len;
  }

  datasync(n: Inode, path: string): void {
    if (this.rng.next() < this.faults.fsyncErrorRate) {
      this.stats.fsyncErrors++;
      // The kernel marks the failed pages clean and drops them: they are gone for good.
      const kept = n.durableContents();
      n.rewrite(kept);
      n.durable = undefined;
      n.syncedSize = kept.length;
      throw errno('EIO', 'fsync', path);
    }
    n.sync();
  }

  rename(from: string, to: string): void {
    const n = this.inode(from, 'rename');
    this.files.delete(from);
    this.files.set(to, n);
  }

  unlink(path: string): void {
    this.inode(path, 'unlink');
    this.files.delete(path);
  }

  truncate(path: string, length: number): void {
    const n = this.inode(path, 'truncate');
    n.rewrite(n.contents().slice(0, length));
  }

  syncDir(path: string): void {
    for (const p of [...this.durableNames.keys()])
      if (dirOf(p) === path && this.files.get(p) === undefined) this.durableNames.delete(p);
    for (const [p, n] of this.files) if (dirOf(p) === path) this.durableNames.set(p, n);
  }

  /** Whether some file holds bytes not yet synced (a crash now loses something). */
  hasUnsynced(): boolean {
    for (const n of this.files.values())
      if (n.size > n.syncedSize || n.durable !== undefined) return true;
    return false;
  }

  /** Power loss: what reached the disk stays, the page cache is lost, at byte granularity. */
  crash(): void {
    this.stats.crashes++;
    const next = new Map<string, Inode>();
    const survivors = new Map<Inode, Inode>();
    for (const [path, n] of this.durableNames) {
      let m = survivors.get(n);
      if (m === undefined) {
        const survivor = Inode.of(this.afterCrash(n));
        survivor.syncPoints = n.syncPoints.filter((o) => o <= survivor.size);
        m = survivor;
        survivors.set(n, m);
      }
      next.set(path, m);
    }
    this.files = next;
    this.durableNames = new Map(next);
  }

  private afterCrash(n: Inode): Uint8Array {
    if (n.durable !== undefined) return this.rng.next() < 0.5 ? n.durable : n.contents();
    const unsynced = n.size - n.syncedSize;
    if (unsynced === 0) return n.contents();
    const r = this.rng.next();
    if (r < 0.25) return n.contents();
    if (r < 0.45) return n.buf.slice(0, n.syncedSize);
    const cut = n.syncedSize + this.rng.int(0, unsynced);
    this.stats.tornTails++;
    const out = n.buf.slice(0, r < 0.75 ? cut : n.size);
    if (r >= 0.75) {
      // The size reached the disk, the data after `cut` did not: it reads as zeros.
      out.fill(0, cut);
      this.stats.zeroTails++;
    }
    return out;
  }

  /**
   * Flips one bit of synced data in a WAL or snapshot file, never in the newest
   * segment's last synced write (a flip there cannot be told from a torn write:
   * see README). Biased towards record headers, where a flip changes a length.
   * Returns where, or undefined if nothing qualifies.
   */
  flipBit(): { path: string; offset: number } | undefined {
    const wal = [...this.files.keys()].filter((p) => p.endsWith('.wal')).sort();
    const newest = wal[wal.length - 1];
    const candidates: { path: string; n: Inode; limit: number }[] = [];
    for (const [path, n] of this.files) {
      if (!path.endsWith('.wal') && !path.endsWith('.snap')) continue;
      const points = n.syncPoints;
      const limit =
        path === newest ? (points.length >= 2 ? (points[points.length - 2] as number) : 0) : n.size;
      if (limit > 0) candidates.push({ path, n, limit });
    }
    const c = candidates[this.rng.int(0, candidates.length)];
    if (c === undefined) return undefined;
    let offset = this.rng.int(0, c.limit);
    let bit = this.rng.int(0, 8);
    const heads = c.n.syncPoints.filter((o) => o + 4 <= c.limit);
    if (heads.length > 0 && this.rng.next() < 0.5) {
      // The high bytes of a record's length field: the record then "runs past the end".
      offset = (heads[this.rng.int(0, heads.length)] as number) + this.rng.int(0, 2);
      bit = this.rng.int(0, 8);
    }
    c.n.buf[offset] = (c.n.buf[offset] as number) ^ (1 << bit);
    if (c.n.durable !== undefined && offset < c.n.durable.length)
      c.n.durable[offset] = (c.n.durable[offset] as number) ^ (1 << bit);
    this.stats.bitFlips++;
    return { path: c.path, offset };
  }

  /** A copy of the disk as it is now, with immediate operations: for an oracle load. */
  snapshotDisk(): StorageFileSystem {
    const copy = new Map<string, Uint8Array>();
    for (const [p, n] of this.files) copy.set(p, n.contents());
    return memoryFs(copy, new Set(this.dirs));
  }
}

class ProcessFs implements StorageFileSystem {
  constructor(
    private readonly fs: FaultyFs,
    private readonly proc: Process,
  ) {}
  mkdir(path: string): Promise<void> {
    return this.fs.later(this.proc, 0, () => this.fs.mkdir(path));
  }
  readdir(path: string): Promise<string[]> {
    return this.fs.later(this.proc, this.fs.latency(), () => this.fs.readdir(path));
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.fs.later(this.proc, this.fs.latency(), () =>
      this.fs.inode(path, 'open').contents(),
    );
  }
  open(path: string, mode: 'append' | 'truncate'): Promise<StorageFile> {
    return this.fs.later(this.proc, this.fs.latency(), () => {
      const n = this.fs.open(path, mode);
      const fs = this.fs;
      const proc = this.proc;
      const file: StorageFile = {
        write: (data) =>
          fs.later(proc, fs.latency(), () => ({ bytesWritten: fs.write(n, path, data) })),
        datasync: () => fs.later(proc, fs.fsyncLatency(), () => fs.datasync(n, path)),
        close: () => fs.later(proc, 0, () => undefined),
      };
      return file;
    });
  }
  rename(from: string, to: string): Promise<void> {
    return this.fs.later(this.proc, this.fs.latency(), () => this.fs.rename(from, to));
  }
  unlink(path: string): Promise<void> {
    return this.fs.later(this.proc, this.fs.latency(), () => this.fs.unlink(path));
  }
  truncate(path: string, length: number): Promise<void> {
    return this.fs.later(this.proc, this.fs.latency(), () => this.fs.truncate(path, length));
  }
  syncFile(path: string): Promise<void> {
    return this.fs.later(this.proc, this.fs.fsyncLatency(), () =>
      this.fs.datasync(this.fs.inode(path, 'fsync'), path),
    );
  }
  syncDir(path: string): Promise<void> {
    return this.fs.later(this.proc, this.fs.fsyncLatency(), () => this.fs.syncDir(path));
  }
}

/** A plain, fault-free, immediate file system over a map of contents (oracle loads). */
export function memoryFs(files: Map<string, Uint8Array>, dirs: Set<string>): StorageFileSystem {
  const get = (p: string): Uint8Array => {
    const f = files.get(p);
    if (f === undefined) throw errno('ENOENT', 'open', p);
    return f;
  };
  const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  return {
    mkdir: async (p) => void dirs.add(p),
    readdir: async (p) => {
      const prefix = `${p}/`;
      return [...files.keys()]
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length));
    },
    readFile: async (p) => get(p).slice(),
    open: async (p, mode) => {
      if (mode === 'truncate' || !files.has(p)) files.set(p, new Uint8Array(0));
      return {
        write: async (data) => {
          files.set(p, concat(get(p), data));
          return { bytesWritten: data.length };
        },
        datasync: async () => undefined,
        close: async () => undefined,
      };
    },
    rename: async (a, b) => {
      files.set(b, get(a));
      files.delete(a);
    },
    unlink: async (p) => {
      get(p);
      files.delete(p);
    },
    truncate: async (p, n) => void files.set(p, get(p).slice(0, n)),
    syncFile: async () => undefined,
    syncDir: async () => undefined,
  };
}
