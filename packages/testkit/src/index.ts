// The test kit: real nats-server, dockerd and network-namespace hosts for
// integration tests, benchmarks and the lab, and the coordinator and Raft
// process harnesses built on them.
export {
  BUSYBOX_APPLETS,
  BUSYBOX_IMAGE,
  ensureBusyboxImage,
  findStaticBusybox,
} from './busybox-image.js';
export {
  API_TOKEN,
  type ClusterOptions as SimClusterOptions,
  CuttableTransport,
  type LoggedOperation,
  loggedOperations,
  overlapping,
  SimCluster,
  type SimHost as SimClusterHost,
  serviceSpec,
  waitFor,
} from './coordinator-harness.js';
export { CLUSTER, ProcCluster, type ProcHost } from './coordinator-proc-harness.js';
export {
  type CrashCampaignResult,
  type CrashRound,
  raftCrashCampaign,
  storeCrashCampaign,
} from './crash-campaign.js';
export { Dockerd, type DockerdOptions } from './dockerd.js';
export {
  CommandFailedError,
  DaemonExitedError,
  DaemonStartError,
  HarnessRequestError,
  HostNetworkError,
  NetnsUnavailableError,
  ProcessSurvivedError,
  RelayError,
  ToolMissingError,
  WaitTimeoutError,
} from './errors.js';
export {
  createHostNetwork,
  HostNetwork,
  type HostNetworkOptions,
  type SimHost,
} from './host-network.js';
export {
  LinkRelay,
  type LinkRelayOptions,
  type LinkShape,
  NO_DELAY,
  type RelayDirection,
  releaseAt,
  validateShape,
} from './link-relay.js';
export {
  freePort,
  NatsCluster,
  type NatsClusterOptions,
  NatsServer,
  type NatsServerOptions,
} from './nats-server.js';
export {
  exitOf,
  isAlive,
  killAll,
  listProcesses,
  pidsOwnedBy,
  pollUntil,
  probeTcp,
  run,
  spawnDaemon,
  tailOf,
  terminate,
} from './process.js';
export { KvCluster, type KvClusterOptions, type KvReply } from './raft-process-cluster.js';
export {
  ensureSampleAppImage,
  lddLibraries,
  SAMPLE_APP_IMAGE,
  sampleAppServerPath,
} from './sample-app-image.js';
export { makeTempDir, mountsUnder, removeDir } from './temp-dir.js';
export { ensureTools, REQUIRED_TOOLS, whichSync } from './tools.js';
