import { RaftError } from '../errors.js';

/**
 * A durable file that cannot be trusted: a bad checksum or an impossible record
 * that is not the torn tail a crash leaves behind. Starting anyway could make a
 * node forget a vote or an acknowledged entry, so the node refuses to start and
 * names the file and byte offset for the operator.
 */
export class StorageCorruptionError extends RaftError {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  constructor(file: string, offset: number, reason: string, options?: { cause?: unknown }) {
    super(
      'RAFT_STORAGE_CORRUPT',
      `corrupt Raft storage in ${file} at byte ${offset}: ${reason}`,
      options,
    );
    this.file = file;
    this.offset = offset;
    this.reason = reason;
  }
}

/** A storage call after close(). */
export class StorageClosedError extends RaftError {
  readonly dir: string;
  constructor(dir: string) {
    super('RAFT_STORAGE_CLOSED', `Raft storage in ${dir} is closed`);
    this.dir = dir;
  }
}

/**
 * A write or fsync did not complete: the disk is full, a file-size limit was
 * hit, or the device reported an error. Nothing of the failed save() may be
 * acknowledged; `bytesWritten` of `bytesExpected` reached the file (a torn tail
 * that load() removes).
 */
export class StorageWriteError extends RaftError {
  readonly file: string;
  readonly bytesWritten: number;
  readonly bytesExpected: number;
  constructor(
    file: string,
    bytesWritten: number,
    bytesExpected: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'RAFT_STORAGE_WRITE',
      `write to ${file} failed after ${bytesWritten} of ${bytesExpected} bytes: ${reason}`,
      options,
    );
    this.file = file;
    this.bytesWritten = bytesWritten;
    this.bytesExpected = bytesExpected;
  }
}

/**
 * A storage call after an earlier write or fsync failed. The file's tail (and,
 * after a failed fsync, the kernel's page cache) can no longer be trusted, so
 * the storage refuses everything until it is loaded again from disk.
 */
export class StorageFailedError extends RaftError {
  readonly dir: string;
  constructor(dir: string, options?: { cause?: unknown }) {
    super(
      'RAFT_STORAGE_FAILED',
      `Raft storage in ${dir} failed earlier; load() it again before writing`,
      options,
    );
    this.dir = dir;
  }
}
