export {
  BUSYBOX_APPLETS,
  BUSYBOX_IMAGE,
  ensureBusyboxImage,
  findStaticBusybox,
} from './busybox-image.js';
export { Dockerd, type DockerdOptions } from './dockerd.js';
export {
  CommandFailedError,
  DaemonStartError,
  NetnsUnavailableError,
  ToolMissingError,
} from './errors.js';
export {
  createHostNetwork,
  HostNetwork,
  type HostNetworkOptions,
  type SimHost,
} from './host-network.js';
export {
  DEFAULT_AGENT_BIN,
  DEFAULT_LAB_SERVICES,
  Lab,
  type LabEvent,
  type LabHost,
  type LabOptions,
  type LabServiceSeed,
} from './lab.js';
export {
  runScenario,
  SCENARIOS,
  type ScenarioName,
  type ScenarioOptions,
  type ScenarioOutcome,
} from './lab-scenario.js';
export {
  type LabClusterView,
  type LabEventView,
  type LabHostView,
  type LabView,
  renderLabTable,
} from './lab-table.js';
export {
  freePort,
  NatsCluster,
  type NatsClusterOptions,
  NatsServer,
  type NatsServerOptions,
} from './nats-server.js';
export { isAlive, pidsOwnedBy, pollUntil, probeTcp } from './process.js';
export { loadServiceSpec, SAMPLE_SERVICE_PATH } from './sample-service.js';
export { makeTempDir, mountsUnder, removeDir } from './temp-dir.js';
export { ensureTools, REQUIRED_TOOLS, whichSync } from './tools.js';
