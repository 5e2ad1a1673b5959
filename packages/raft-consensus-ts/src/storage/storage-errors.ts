/**
 * A durable file that cannot be trusted: a bad checksum or an impossible record
 * that is not the torn tail a crash leaves behind. Starting anyway could make a
 * node forget a vote or an acknowledged entry, so the node refuses to start and
 * names the file and byte offset for the operator.
 */
export class StorageCorruptionError extends Error {
  override readonly name = 'StorageCorruptionError';
  readonly code = 'RAFT_STORAGE_CORRUPT';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`corrupt Raft storage in ${file} at byte ${offset}: ${reason}`, options);
  }
}

/** A storage call after close(), or a second writer on the same directory. */
export class StorageClosedError extends Error {
  override readonly name = 'StorageClosedError';
  readonly code = 'RAFT_STORAGE_CLOSED';
  constructor(readonly dir: string) {
    super(`Raft storage in ${dir} is closed`);
  }
}
