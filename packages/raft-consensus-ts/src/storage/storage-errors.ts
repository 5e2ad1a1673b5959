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
