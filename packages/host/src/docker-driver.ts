/**
 * The Docker driver: the agent's only door to its host's Docker Engine.
 *
 * It keeps an in-memory view of every container labelled `coxswain.service`,
 * fed by the engine's event stream (not by polling), so a dead replica is known
 * within milliseconds of its death. When the stream drops it reconnects with
 * backoff and resyncs with one full list, emitting events for whatever changed
 * while it was blind.
 *
 * Public API (the executor and the self-healing supervisor build on it):
 *
 *   const driver = new DockerDriver({ socketPath, cluster, nodeId, logger });
 *   await driver.start();                 // first list + event stream; throws if Docker is unreachable
 *   driver.on('container-died', ({ id, service, exitCode, oomKilled }) => ...);
 *   driver.on('container-started', ({ id, service }) => ...);
 *   driver.on('container-destroyed', ({ id, service }) => ...);
 *   driver.on('health', ({ id, service, health }) => ...);
 *   driver.on('resynced', ({ listed }) => ...);   // after a (re)connect's full list
 *   const id = await driver.createReplica(spec, specVersion);   // create + start, labelled
 *   await driver.waitHealthy(id, 10_000); // HealthTimeoutError (COX_HEALTH_TIMEOUT) or ReplicaExitedError
 *   await driver.stopReplica(id, 5_000);  // SIGTERM, then SIGKILL after the timeout
 *   await driver.removeReplica(id);       // force; a missing container is not an error
 *   driver.replicas('web');               // ContainerState[] from the view, no engine call
 *   driver.tracked(id);                   // the view's record with pid, limits, addresses
 *   await driver.stop();                  // closes the event stream
 *
 * Listeners run synchronously from the stream's data handler; a listener that
 * throws is logged and does not break the stream. Every engine call raises a
 * DockerOperationError (COX_DOCKER_ERROR) on failure and runs in a span.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import {
  type ContainerHealth,
  type ContainerState,
  LABELS,
  type ServiceSpec,
} from '@coxswain/protocol';
import { type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import type Docker from 'dockerode';
import {
  containerCreateOptions,
  type DriverEvents,
  type EngineEvent,
  HEALTHS,
  isNotFound,
  isNotModified,
  type TrackedContainer,
  trackedFromInspect,
  WATCHED_EVENTS,
} from './container-model.js';
import { Dockerode } from './dockerode.js';
import { DockerOperationError, HealthTimeoutError, ReplicaExitedError } from './errors.js';
import { type HostLogger, silentHostLogger } from './logger.js';

export type { DriverEvents, TrackedContainer } from './container-model.js';
export { containerCreateOptions } from './container-model.js';

export interface DockerDriverOptions {
  readonly socketPath: string;
  readonly cluster: string;
  readonly nodeId: string;
  readonly logger?: HostLogger;
  /** Backoff bounds for event-stream reconnects. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

/** Counters exposed in /metrics and used by tests (e.g. "no list call happened"). */
export interface DriverCounters {
  listCalls: number;
  inspectCalls: number;
  eventsReceived: number;
  streamReconnects: number;
  listenerErrors: number;
}

const tracer = trace.getTracer('coxswain-agent');

export class DockerDriver extends EventEmitter<DriverEvents> {
  readonly docker: Docker;
  readonly counters: DriverCounters = {
    listCalls: 0,
    inspectCalls: 0,
    eventsReceived: 0,
    streamReconnects: 0,
    listenerErrors: 0,
  };
  readonly #options: DockerDriverOptions;
  readonly #logger: HostLogger;
  readonly #view = new Map<string, TrackedContainer>();
  #stream: Readable | undefined;
  #stopped = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #streamUp = false;
  #lastError: string | undefined;

  constructor(options: DockerDriverOptions) {
    super({ captureRejections: false });
    this.#options = options;
    this.#logger = (options.logger ?? silentHostLogger).child({ component: 'docker-driver' });
    this.#backoffMs = options.reconnectMinMs ?? 100;
    this.docker = new Dockerode({ socketPath: options.socketPath });
  }

  /** Listeners must not break the stream: errors are logged and counted. */
  override emit<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): boolean {
    let any = false;
    for (const listener of this.listeners(event) as Array<(...a: DriverEvents[K]) => void>) {
      any = true;
      try {
        listener(...args);
      } catch (error) {
        this.counters.listenerErrors++;
        this.#logger.error('driver listener threw', { event, error });
      }
    }
    return any;
  }

  /** True while the event stream is connected: the view is live. */
  get streamConnected(): boolean {
    return this.#streamUp;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /**
   * Follows the event stream, then lists and adopts labelled containers.
   * Throws when the engine is unreachable, unless `retry` is set: then it
   * returns false and keeps reconnecting in the background.
   */
  async start(options: { retry?: boolean } = {}): Promise<boolean> {
    this.#stopped = false;
    try {
      // Stream first, then list: an event during the list is then not lost (applying it twice is harmless).
      await this.#openStream();
      await this.resync();
      return true;
    } catch (error) {
      if (!options.retry) throw error;
      this.#lastError = error instanceof Error ? error.message : String(error);
      const s = this.#stream;
      this.#stream = undefined;
      this.#streamUp = false;
      s?.destroy();
      this.#scheduleReconnect();
      return false;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#streamUp = false;
    if (stream) {
      stream.removeAllListeners('data');
      stream.destroy();
    }
  }

  /** Answers whether the engine responds at all (for /readyz). */
  async ping(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** The current view as protocol states, optionally for one service. No engine call. */
  replicas(service?: string): ContainerState[] {
    const out: ContainerState[] = [];
    for (const t of this.#view.values()) {
      if (service === undefined || t.state.service === service) out.push({ ...t.state });
    }
    return out;
  }

  tracked(id: string): TrackedContainer | undefined {
    return this.#view.get(id);
  }

  trackedAll(): TrackedContainer[] {
    return [...this.#view.values()];
  }

  /** Full list + inspect of labelled containers; emits events for changes seen only now. */
  async resync(): Promise<void> {
    this.counters.listCalls++;
    let listed: Docker.ContainerInfo[];
    try {
      listed = await this.docker.listContainers({
        all: true,
        filters: { label: [LABELS.service] },
      });
    } catch (error) {
      throw new DockerOperationError('list', undefined, error);
    }
    const seen = new Set<string>();
    for (const info of listed) {
      seen.add(info.Id);
      const before = this.#view.get(info.Id);
      const after = await this.#refresh(info.Id);
      if (!after) continue;
      this.#emitTransition(before, after);
    }
    for (const [id, t] of this.#view) {
      if (!seen.has(id)) {
        this.#view.delete(id);
        if (t.state.status === 'running') {
          this.emit('container-died', {
            id,
            service: t.state.service,
            exitCode: undefined,
            oomKilled: false,
          });
        }
        this.emit('container-destroyed', { id, service: t.state.service });
      }
    }
    this.emit('resynced', { listed: listed.length });
  }

  #emitTransition(before: TrackedContainer | undefined, after: TrackedContainer): void {
    const wasRunning = before?.state.status === 'running';
    const isRunning = after.state.status === 'running';
    const { id, service } = after.state;
    if (before && wasRunning && !isRunning) {
      this.emit('container-died', { id, service, exitCode: undefined, oomKilled: false });
    }
    if (!wasRunning && isRunning && before) this.emit('container-started', { id, service });
    if (before && before.state.health !== after.state.health) {
      this.emit('health', { id, service, health: after.state.health });
    }
  }

  /** Inspects one container into the view; undefined (and removed from the view) when it no longer exists. */
  async #refresh(id: string): Promise<TrackedContainer | undefined> {
    this.counters.inspectCalls++;
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (isNotFound(error)) {
        this.#view.delete(id);
        return undefined;
      }
      throw new DockerOperationError('inspect', id, error);
    }
    const tracked = trackedFromInspect(info);
    if (!tracked) return undefined;
    this.#view.set(id, tracked);
    return tracked;
  }

  async #openStream(): Promise<void> {
    let stream: Readable;
    try {
      stream = (await this.docker.getEvents({
        filters: { type: ['container'], label: [LABELS.service], event: [...WATCHED_EVENTS] },
      })) as unknown as Readable;
    } catch (error) {
      this.#streamUp = false;
      throw new DockerOperationError('events', undefined, error);
    }
    if (this.#stopped) {
      stream.destroy();
      return;
    }
    this.#stream = stream;
    this.#streamUp = true;
    this.#lastError = undefined;
    this.#backoffMs = this.#options.reconnectMinMs ?? 100;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) this.#onLine(line);
        nl = buffered.indexOf('\n');
      }
      // The engine separates events with newlines; a line this long is not an event.
      if (buffered.length > 1024 * 1024) buffered = '';
    });
    const lost = (error?: Error): void => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      this.#streamUp = false;
      this.#lastError = error?.message ?? 'event stream ended';
      if (this.#stopped) return;
      this.#logger.warn('docker event stream lost; reconnecting', { error: this.#lastError });
      this.emit('stream-down', { error: this.#lastError });
      this.#scheduleReconnect();
    };
    stream.on('error', lost);
    stream.on('end', () => lost());
    stream.on('close', () => lost());
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#reconnectTimer) return;
    const max = this.#options.reconnectMaxMs ?? 5000;
    // Full jitter: several agents whose engines restart together do not reconnect in lockstep.
    const delay = Math.round(this.#backoffMs / 2 + (Math.random() * this.#backoffMs) / 2);
    this.#backoffMs = Math.min(max, this.#backoffMs * 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#reconnect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  async #reconnect(): Promise<void> {
    if (this.#stopped) return;
    this.counters.streamReconnects++;
    try {
      await this.#openStream();
      await this.resync();
      this.#logger.info('docker event stream restored', { containers: this.#view.size });
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.#logger.debug('docker reconnect failed', { error });
      if (this.#stream) {
        // Stream opened but the list failed: drop it and retry whole.
        const s = this.#stream;
        this.#stream = undefined;
        this.#streamUp = false;
        s.destroy();
      }
      this.#scheduleReconnect();
    }
  }

  #onLine(line: string): void {
    let event: EngineEvent;
    try {
      event = JSON.parse(line) as EngineEvent;
    } catch {
      this.#logger.warn('unparseable docker event', { line: line.slice(0, 200) });
      return;
    }
    this.counters.eventsReceived++;
    const id = event.Actor?.ID ?? event.id;
    const action = event.Action ?? event.status ?? '';
    const attributes = event.Actor?.Attributes ?? {};
    const service = attributes[LABELS.service];
    if (!id || service === undefined) return;
    const t = this.#view.get(id);
    if (action === 'die') {
      const code = Number(attributes.exitCode);
      const exitCode = Number.isInteger(code) ? code : undefined;
      // The engine sends 'oom' just before 'die' when the kernel's OOM killer struck.
      const oomKilled = this.#oomSeen.has(id);
      this.#oomSeen.delete(id);
      if (t) {
        t.state = { ...t.state, status: 'exited' };
        t.pid = undefined;
      }
      const engineTimeMs = typeof event.timeNano === 'number' ? event.timeNano / 1e6 : undefined;
      this.emit('container-died', {
        id,
        service,
        exitCode,
        oomKilled,
        ...(engineTimeMs !== undefined ? { engineTimeMs } : {}),
      });
    } else if (action === 'oom') {
      this.#oomSeen.add(id);
    } else if (action === 'start' || action === 'unpause' || action === 'pause') {
      if (t && action === 'start')
        t.state = {
          ...t.state,
          status: 'running',
          health: t.state.health === 'none' ? 'none' : 'starting',
        };
      if (t && action === 'pause') t.state = { ...t.state, status: 'paused' };
      if (t && action === 'unpause') t.state = { ...t.state, status: 'running' };
      // The pid and start time are only in inspect; fetch them without holding up the stream.
      this.#refreshInBackground(id, () => {
        if (action === 'start') this.emit('container-started', { id, service });
      });
    } else if (action === 'create') {
      this.#refreshInBackground(id);
    } else if (action === 'destroy') {
      this.#view.delete(id);
      this.#hasHealthcheck.delete(id);
      this.emit('container-destroyed', { id, service });
    } else if (action.startsWith('health_status')) {
      const text = action.split(':')[1]?.trim() ?? '';
      const health = HEALTHS.has(text) ? (text as ContainerHealth) : 'none';
      if (t) t.state = { ...t.state, health };
      this.emit('health', { id, service, health });
    }
  }

  readonly #oomSeen = new Set<string>();

  #refreshInBackground(id: string, then?: () => void): void {
    this.#refresh(id).then(
      () => then?.(),
      (error: unknown) => {
        this.#logger.warn('inspect after event failed', { id, error });
        then?.();
      },
    );
  }

  async #op<T>(
    name: string,
    containerId: string | undefined,
    attributes: Record<string, string | number>,
    fn: (span: Span) => Promise<T>,
  ): Promise<T> {
    return tracer.startActiveSpan(
      `docker.${name}`,
      { attributes: { ...attributes, ...(containerId ? { 'container.id': containerId } : {}) } },
      async (span) => {
        try {
          return await fn(span);
        } catch (error) {
          span.recordException(error instanceof Error ? error : new Error(String(error)));
          span.setStatus({ code: SpanStatusCode.ERROR });
          if (
            error instanceof DockerOperationError ||
            error instanceof HealthTimeoutError ||
            error instanceof ReplicaExitedError
          )
            throw error;
          throw new DockerOperationError(name, containerId, error);
        } finally {
          span.end();
        }
      },
    );
  }

  async #pull(image: string): Promise<void> {
    const stream = (await this.docker.pull(image)) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (error: Error | null) =>
        error ? reject(error) : resolve(),
      );
    });
  }

  /** Creates and starts one replica; returns its container id. Pulls the image when the engine lacks it. */
  async createReplica(spec: ServiceSpec, specVersion: number): Promise<string> {
    return this.#op(
      'create',
      undefined,
      { 'coxswain.service': spec.name, 'coxswain.spec_version': specVersion },
      async (span) => {
        const suffix = Math.random().toString(36).slice(2, 8);
        const options = containerCreateOptions(
          spec,
          specVersion,
          this.#options.cluster,
          this.#options.nodeId,
          `cox-${spec.name}-${suffix}`,
        );
        let container: Docker.Container;
        try {
          container = await this.docker.createContainer(options);
        } catch (error) {
          if (!isNotFound(error)) throw new DockerOperationError('create', undefined, error);
          span.addEvent('pull', { image: spec.image });
          try {
            await this.#pull(spec.image);
            container = await this.docker.createContainer(options);
          } catch (error2) {
            throw new DockerOperationError('create', undefined, error2);
          }
        }
        span.setAttribute('container.id', container.id);
        try {
          await container.start();
        } catch (error) {
          throw new DockerOperationError('start', container.id, error);
        }
        await this.#refresh(container.id);
        return container.id;
      },
    );
  }

  /** Stops gracefully: SIGTERM, then SIGKILL after `timeoutMs`. Stopping a stopped container is fine. */
  async stopReplica(id: string, timeoutMs: number): Promise<void> {
    await this.#op('stop', id, {}, async () => {
      try {
        await this.docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(timeoutMs / 1000)) });
      } catch (error) {
        if (!isNotModified(error) && !isNotFound(error))
          throw new DockerOperationError('stop', id, error);
      }
      await this.#refresh(id);
    });
  }

  /** Removes with force (kills if running). A container that is already gone is not an error. */
  async removeReplica(id: string): Promise<void> {
    await this.#op('remove', id, {}, async () => {
      try {
        await this.docker.getContainer(id).remove({ force: true, v: true });
      } catch (error) {
        if (!isNotFound(error)) throw new DockerOperationError('remove', id, error);
      }
      this.#view.delete(id);
      this.#hasHealthcheck.delete(id);
    });
  }

  /**
   * Resolves once the replica is healthy, or running when it declares no
   * health check. Event-driven, with a slow inspect as a safety net for an
   * event lost while the stream reconnects.
   */
  async waitHealthy(id: string, timeoutMs: number): Promise<void> {
    await this.#op('wait_healthy', id, { timeout_ms: timeoutMs }, async () => {
      const verdict = (t: TrackedContainer | undefined): 'ok' | 'exited' | 'wait' => {
        if (!t) return 'wait';
        const s = t.state;
        if (s.status === 'exited' || s.status === 'dead') return 'exited';
        if (s.status !== 'running') return 'wait';
        if (s.health === 'healthy') return 'ok';
        return s.health === 'none' && this.#hasHealthcheck.get(id) === false ? 'ok' : 'wait';
      };
      await this.#ensureHealthcheckKnown(id);
      const initial = verdict(this.#view.get(id) ?? (await this.#refresh(id)));
      if (initial === 'ok') return;
      await new Promise<void>((resolve, reject) => {
        let lastExit: number | undefined;
        const check = (): void => {
          const v = verdict(this.#view.get(id));
          if (v === 'ok') finish();
          else if (v === 'exited') finish(new ReplicaExitedError(id, lastExit));
        };
        const onDied = (e: DriverEvents['container-died'][0]): void => {
          if (e.id !== id) return;
          lastExit = e.exitCode;
          finish(new ReplicaExitedError(id, e.exitCode));
        };
        const onChange = (e: { id: string }): void => {
          if (e.id === id) check();
        };
        const timer = setTimeout(() => {
          finish(
            new HealthTimeoutError(id, timeoutMs, this.#view.get(id)?.state.health ?? 'unknown'),
          );
        }, timeoutMs);
        const safety = setInterval(() => {
          this.#refresh(id).then(check, () => {});
        }, 1000);
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          clearInterval(safety);
          this.off('container-died', onDied);
          this.off('health', onChange);
          this.off('container-started', onChange);
          if (error) reject(error);
          else resolve();
        };
        this.on('container-died', onDied);
        this.on('health', onChange);
        this.on('container-started', onChange);
        check();
      });
    });
  }

  readonly #hasHealthcheck = new Map<string, boolean>();

  /** Whether the container declares a health check (image or create options), cached per id. */
  async #ensureHealthcheckKnown(id: string): Promise<void> {
    if (this.#hasHealthcheck.has(id)) return;
    try {
      this.counters.inspectCalls++;
      const info = await this.docker.getContainer(id).inspect();
      const test = info.Config.Healthcheck?.Test;
      this.#hasHealthcheck.set(id, Array.isArray(test) && test.length > 0 && test[0] !== 'NONE');
    } catch (error) {
      if (isNotFound(error)) throw new ReplicaExitedError(id, undefined);
      throw new DockerOperationError('inspect', id, error);
    }
  }
}
