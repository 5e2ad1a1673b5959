export {
  applyEdits,
  type HostileInput,
  type InputKind,
  mutatedBytes,
  oddString,
  randomBytes,
  truncatedBytes,
} from './bytes.js';
export {
  type Crash,
  type FuzzTarget,
  type Outcome,
  type RunOptions,
  runTarget,
  type TargetReport,
} from './campaign.js';
export { type HostileBinaryOptions, hostileBinary } from './hostile-binary.js';
export {
  type HostileJsonOptions,
  hostileJson,
  type JsonPath,
  pathsOf,
  setAt,
  wrongValue,
} from './hostile-json.js';
export { protocolTargets } from './protocol-targets.js';
export { chunkFrame, messagesFrame, raftMessages, raftTargets } from './raft-targets.js';
