export {
  type Chunk,
  decodeFrame,
  decodeMessage,
  encodeChunkFrame,
  encodeMessage,
  encodeMessagesFrame,
  FRAME_VERSION,
  type FrameRejection,
} from './codec/message-codec.js';
export type { ConfigEntryData } from './core/config-entry.js';
export { applyConfigChange, decodeConfigEntry, encodeConfigEntry } from './core/config-entry.js';
export {
  DEFAULT_MAX_BYTES_PER_MESSAGE,
  defaultConfig,
  ENTRY_OVERHEAD_BYTES,
} from './core/default-config.js';
export { RaftCore } from './core/raft-core.js';
export {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  InvalidIndexError,
  InvalidTransferError,
  LearnerNotCaughtUpError,
  MalformedConfigEntryError,
  NotLeaderError,
  RaftError,
  ReadyProtocolError,
  TransferInProgressError,
} from './errors.js';
export type {
  NodeEvent,
  ProposeResult,
  RaftNodeOptions,
  RuntimeClock,
} from './runtime/raft-node.js';
export { DEFAULT_TICK_MS, RaftNode } from './runtime/raft-node.js';
export {
  NodeStoppedError,
  ProposalDroppedError,
  ReadIndexFailedError,
  ReadIndexTimeoutError,
  TransferTimeoutError,
} from './runtime/runtime-errors.js';
export { crc32c } from './storage/crc32c.js';
export type { FileStorageOptions } from './storage/file-storage.js';
export { FileStorage } from './storage/file-storage.js';
export type { StorageFile, StorageFileSystem } from './storage/file-system.js';
export { nodeFileSystem } from './storage/file-system.js';
export { MemoryStorage } from './storage/memory-storage.js';
export {
  StorageClosedError,
  StorageCorruptionError,
  StorageFailedError,
  StorageWriteError,
} from './storage/storage-errors.js';
export type { DropReason, TransportStats } from './transport/framing.js';
export { DEFAULT_MAX_CHUNK_BYTES } from './transport/framing.js';
export { LocalNetwork, LocalTransport } from './transport/local-transport.js';
export type {
  AppendEntries,
  AppendEntriesResponse,
  ConfigChange,
  Entry,
  EntryType,
  HardState,
  InitialState,
  InstallSnapshot,
  InstallSnapshotResponse,
  Membership,
  Message,
  MessageDropReason,
  MessageType,
  NodeId,
  RaftConfig,
  RaftEvent,
  RaftStorage,
  RaftTransport,
  ReadIndexRequest,
  ReadIndexResponse,
  ReadState,
  Ready,
  RequestVote,
  RequestVoteResponse,
  Role,
  Snapshot,
  SnapshotMeta,
  StateMachine,
  Status,
  TimeoutNow,
} from './types.js';
