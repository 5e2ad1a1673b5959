import { mkdir, open, readdir, readFile, rename, truncate, unlink } from 'node:fs/promises';

/**
 * The few file operations FileStorage needs. Node's file system is the default;
 * the simulator supplies one that loses unsynced bytes, fills up, fails fsyncs
 * and flips bits, so the storage is tested against the faults a disk has.
 */
export interface StorageFile {
  /** Writes at the end of a file opened for append, or at the current position. May write fewer bytes than asked. */
  write(data: Uint8Array): Promise<{ readonly bytesWritten: number }>;
  /** fdatasync: the file's data (and its size) is durable when this resolves. */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export interface StorageFileSystem {
  /** Creates a directory and its parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** 'append' creates the file if missing and writes at its end; 'truncate' creates or empties it. */
  open(path: string, mode: 'append' | 'truncate'): Promise<StorageFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  truncate(path: string, length: number): Promise<void>;
  /** fsync of a file by path (after truncate). */
  syncFile(path: string): Promise<void>;
  /** fsync of a directory: makes a create, rename or unlink in it durable (Linux needs this). */
  syncDir(path: string): Promise<void>;
}

/** The real file system, through node:fs/promises. */
export const nodeFileSystem: StorageFileSystem = {
  async mkdir(path) {
    await mkdir(path, { recursive: true });
  },
  readdir: (path) => readdir(path),
  readFile: (path) => readFile(path),
  async open(path, mode) {
    const fh = await open(path, mode === 'append' ? 'a' : 'w');
    return {
      write: (data) => fh.write(data),
      datasync: () => fh.datasync(),
      close: () => fh.close(),
    };
  },
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  truncate: (path, length) => truncate(path, length),
  syncFile: (path) => syncPath(path, 'r+'),
  syncDir: (path) => syncPath(path, 'r'),
};

async function syncPath(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
