/**
 * An in-memory replica driver for the executor's and supervisor's unit tests:
 * containers are records, "running" at once and healthy unless told
 * otherwise; deaths are emitted as DockerDriver emits them.
 */
import { EventEmitter } from 'node:events';
import { type ContainerState, ServiceSpec, type ServiceSpecInput } from '@coxswain/protocol';
import type { DiedEvent, SupervisedDriver } from '../src/supervisor.js';

export class FakeDriver extends EventEmitter implements SupervisedDriver {
  readonly containers = new Map<string, ContainerState>();
  readonly calls: string[] = [];
  /** Replicas created from now on fail their health wait. */
  unhealthy = false;
  #next = 0;

  async createReplica(spec: ServiceSpec, specVersion: number): Promise<string> {
    const id = `c${++this.#next}`;
    this.calls.push(`create ${spec.name} v${specVersion}`);
    this.containers.set(id, {
      id,
      name: `${spec.name}-${this.#next}`,
      service: spec.name,
      image: spec.image,
      status: 'running',
      health: 'none',
      specVersion,
      startedAt: this.#next,
    });
    return id;
  }

  async stopReplica(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    const c = this.containers.get(id);
    if (c) this.containers.set(id, { ...c, status: 'exited' });
  }

  async removeReplica(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.containers.delete(id);
  }

  async waitHealthy(id: string): Promise<void> {
    if (this.unhealthy) {
      throw Object.assign(new Error(`container ${id} not healthy`), { code: 'COX_HEALTH_TIMEOUT' });
    }
  }

  replicas(service?: string): ContainerState[] {
    return [...this.containers.values()].filter(
      (c) => service === undefined || c.service === service,
    );
  }

  /** A replica dies (exit code 1 unless given), as the engine's event stream reports it. */
  kill(id: string, exitCode = 1): void {
    const c = this.containers.get(id)!;
    this.containers.set(id, { ...c, status: 'exited' });
    const event: DiedEvent = { id, service: c.service, exitCode, oomKilled: false };
    this.emit('container-died', event);
  }
}

export function spec(extra: Partial<ServiceSpecInput> = {}): ServiceSpec {
  return ServiceSpec.parse({ name: 'web', image: 'x', minReplicas: 1, maxReplicas: 10, ...extra });
}
