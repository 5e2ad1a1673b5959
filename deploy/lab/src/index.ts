export {
  CommandFailedError,
  DaemonStartError,
  NetnsUnavailableError,
  ToolMissingError,
} from './errors.js';
export {
  freePort,
  NatsCluster,
  type NatsClusterOptions,
  NatsServer,
  type NatsServerOptions,
} from './nats-server.js';
export { isAlive, pidsOwnedBy, pollUntil, probeTcp } from './process.js';
export { makeTempDir, mountsUnder, removeDir } from './temp-dir.js';
