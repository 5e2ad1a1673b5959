/**
 * The driver's model of a container: its record in the view, read from the
 * engine's inspect answer, and the engine's create body built from a spec.
 * Pure, so both are unit-tested without an engine.
 */
import {
  type ContainerHealth,
  type ContainerState,
  type ContainerStatus,
  LABELS,
  type ServiceSpec,
} from '@coxswain/protocol';
import type Docker from 'dockerode';

/** The view's record of one container: the protocol state plus what sampling needs. */
export interface TrackedContainer {
  state: ContainerState;
  /** Host pid of the container's init process, while it runs. */
  pid: number | undefined;
  /** CPU limit in cores (NanoCpus / 1e9), when set. */
  cpuLimit: number | undefined;
  /** Memory limit in bytes, when set. */
  memoryLimitBytes: number | undefined;
  /** First IP address on any of its networks, when it has one. */
  ipAddress: string | undefined;
  /** container port → host port of published TCP ports. */
  hostPorts: Map<number, number>;
  /** HostConfig.NetworkMode: 'host' means its ports are the host's. */
  networkMode: string | undefined;
  labels: Record<string, string>;
}

export const STATUSES = new Set<string>([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);
export const HEALTHS = new Set<string>(['none', 'starting', 'healthy', 'unhealthy']);

export function msToNs(ms: number): number {
  return Math.round(ms * 1e6);
}

export function parseDockerTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith('0001-')) return undefined;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

export function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 404;
}

export function isNotModified(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 304;
}

/** The view's record of an inspected container; undefined for one coxswain does not manage. */
export function trackedFromInspect(
  info: Docker.ContainerInspectInfo,
): TrackedContainer | undefined {
  const labels = info.Config.Labels ?? {};
  const service = labels[LABELS.service];
  if (service === undefined) return undefined;
  const status = STATUSES.has(info.State.Status) ? (info.State.Status as ContainerStatus) : 'dead';
  const healthText = info.State.Health?.Status ?? 'none';
  const health = HEALTHS.has(healthText) ? (healthText as ContainerHealth) : 'none';
  const specVersion = Number(labels[LABELS.specVersion]);
  const startedAt = parseDockerTime(info.State.StartedAt);
  const hostPorts = new Map<number, number>();
  for (const [key, binds] of Object.entries(info.NetworkSettings.Ports ?? {})) {
    const [port, proto] = key.split('/');
    const host = binds?.[0]?.HostPort;
    if (proto === 'tcp' && host) hostPorts.set(Number(port), Number(host));
  }
  let ipAddress: string | undefined;
  for (const net of Object.values(info.NetworkSettings.Networks ?? {})) {
    if (net.IPAddress) {
      ipAddress = net.IPAddress;
      break;
    }
  }
  const tracked: TrackedContainer = {
    state: {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      service,
      image: info.Config.Image,
      status,
      health,
      ...(Number.isInteger(specVersion) && specVersion >= 0 ? { specVersion } : {}),
      ...(startedAt !== undefined ? { startedAt } : {}),
      // Into the report, so any agent's API can list this replica's endpoint.
      ...(hostPorts.size > 0
        ? {
            ports: [...hostPorts]
              .sort(([a], [b]) => a - b)
              .map(([containerPort, hostPort]) => ({ containerPort, hostPort })),
          }
        : {}),
    },
    pid: status === 'running' && info.State.Pid > 0 ? info.State.Pid : undefined,
    cpuLimit: info.HostConfig.NanoCpus ? info.HostConfig.NanoCpus / 1e9 : undefined,
    memoryLimitBytes: info.HostConfig.Memory ? info.HostConfig.Memory : undefined,
    ipAddress,
    hostPorts,
    networkMode: info.HostConfig.NetworkMode,
    labels,
  };
  return tracked;
}

/** Builds the engine's create body from a spec: pure, so it is unit-tested without an engine. */
export function containerCreateOptions(
  spec: ServiceSpec,
  specVersion: number,
  cluster: string,
  nodeId: string,
  name: string,
): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string }>> = {};
  for (const port of spec.ports) {
    const key = `${port.containerPort}/${port.protocol}`;
    exposed[key] = {};
    // An unset hostPort publishes on a free port, so several replicas fit on one host.
    bindings[key] = [{ HostPort: port.hostPort === undefined ? '' : String(port.hostPort) }];
  }
  const hc = spec.healthCheck;
  return {
    name,
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...spec.labels,
      [LABELS.service]: spec.name,
      [LABELS.specVersion]: String(specVersion),
      [LABELS.cluster]: cluster,
      [LABELS.node]: nodeId,
      ...(spec.metrics
        ? {
            [LABELS.metricsPort]: String(spec.metrics.port),
            [LABELS.metricsPath]: spec.metrics.path,
            [LABELS.metricsCounter]: spec.metrics.requestCounter,
            [LABELS.metricsHistogram]: spec.metrics.latencyHistogram,
          }
        : {}),
    },
    ExposedPorts: exposed,
    ...(hc
      ? {
          Healthcheck: {
            Test: ['CMD', ...hc.command],
            Interval: msToNs(hc.intervalMs),
            Timeout: msToNs(hc.timeoutMs),
            Retries: hc.retries,
            StartPeriod: msToNs(hc.startPeriodMs),
          },
        }
      : {}),
    HostConfig: {
      PortBindings: bindings,
      ...(spec.resources.cpus !== undefined
        ? { NanoCpus: Math.round(spec.resources.cpus * 1e9) }
        : {}),
      ...(spec.resources.memoryBytes !== undefined ? { Memory: spec.resources.memoryBytes } : {}),
    },
  };
}

export interface DriverEvents {
  'container-died': [
    { id: string; service: string; exitCode: number | undefined; oomKilled: boolean },
  ];
  'container-started': [{ id: string; service: string }];
  'container-destroyed': [{ id: string; service: string }];
  health: [{ id: string; service: string; health: ContainerHealth }];
  resynced: [{ listed: number }];
  'stream-down': [{ error: string }];
}

/**
 * The engine's event filter: without it every health-check probe sends three
 * exec_* events per container per interval, which we would parse and drop.
 * ("health_status" matches "health_status: healthy" etc.: the engine
 * prefix-matches that one.)
 */
export const WATCHED_EVENTS = [
  'create',
  'start',
  'die',
  'destroy',
  'health_status',
  'stop',
  'kill',
  'oom',
  'pause',
  'unpause',
] as const;

/** One event from the engine's stream (the parts we read). */
export interface EngineEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}
