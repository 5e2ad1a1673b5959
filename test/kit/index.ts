// The test kit: real nats-server and dockerd processes for integration tests.
// The machinery lives in @coxswain/lab (deploy/lab) because the local lab
// (`coxswain lab`) runs it from compiled JavaScript; tests import it from here.
export {
  CommandFailedError,
  DaemonStartError,
  freePort,
  isAlive,
  makeTempDir,
  mountsUnder,
  NatsCluster,
  type NatsClusterOptions,
  NatsServer,
  type NatsServerOptions,
  NetnsUnavailableError,
  pidsOwnedBy,
  pollUntil,
  probeTcp,
  removeDir,
  ToolMissingError,
} from '@coxswain/lab';
