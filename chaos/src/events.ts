/**
 * The cluster's own events (`cox.<cluster>.events`): heard on NATS with the
 * monotonic time they arrived, so detection and decision are measured on the
 * same clock as the fault. Chaos publishes its `chaos.fault` and `chaos.verdict`
 * there too, so `coxswain events` shows them beside the cluster's reactions.
 */
import {
  ClusterEvent,
  type ClusterEventType,
  decode,
  encode,
  PROTOCOL_VERSION,
  subjects,
} from '@coxswain/protocol';
import { connect, type NatsConnection } from 'nats';
import type { NatsClientOptions } from './target.js';

export interface HeardEvent {
  readonly atMs: number;
  readonly event: ClusterEvent;
}

export class EventWatcher {
  readonly #cluster: string;
  readonly #nc: NatsConnection | undefined;
  readonly #events: HeardEvent[] = [];
  badEvents = 0;

  private constructor(cluster: string, nc: NatsConnection | undefined) {
    this.#cluster = cluster;
    this.#nc = nc;
  }

  /** Connects to the cluster's NATS; without servers it hears nothing and publishes nothing. */
  static async start(
    cluster: string,
    servers: readonly string[],
    client?: NatsClientOptions,
  ): Promise<EventWatcher> {
    if (servers.length === 0) return new EventWatcher(cluster, undefined);
    const nc = await connect({
      servers: [...servers],
      ...(client?.user !== undefined ? { user: client.user } : {}),
      ...(client?.pass !== undefined ? { pass: client.pass } : {}),
      ...(client?.tls !== undefined ? { tls: { ...client.tls } } : {}),
      name: 'coxswain-chaos',
      reconnectTimeWait: 250,
      maxReconnectAttempts: -1,
    });
    const w = new EventWatcher(cluster, nc);
    nc.subscribe(subjects(cluster).events, {
      callback: (error, msg) => {
        if (error) return;
        const d = decode(ClusterEvent, msg.data, { where: msg.subject });
        if (!d.ok) {
          w.badEvents++;
          return;
        }
        w.#events.push({ atMs: performance.now(), event: d.value });
        if (w.#events.length > 20_000) w.#events.splice(0, 10_000);
      },
    });
    return w;
  }

  get connected(): boolean {
    return this.#nc !== undefined && !this.#nc.isClosed();
  }

  /** Events of these types heard at or after `sinceMs` (monotonic), oldest first. */
  since(sinceMs: number, types?: readonly ClusterEventType[]): HeardEvent[] {
    return this.#events.filter(
      (e) => e.atMs >= sinceMs && (types === undefined || types.includes(e.event.type)),
    );
  }

  /** Publishes a chaos event; a broken NATS link loses it (events are at-most-once anyway). */
  publish(
    type: 'chaos.fault' | 'chaos.verdict',
    message: string,
    data: Record<string, unknown>,
  ): void {
    if (!this.#nc || this.#nc.isClosed()) return;
    const event: ClusterEvent = {
      v: PROTOCOL_VERSION,
      type,
      time: Date.now(),
      nodeId: 'chaos',
      message: message.slice(0, 2000),
      data,
    };
    try {
      this.#nc.publish(subjects(this.#cluster).events, encode(ClusterEvent, event));
    } catch {
      // at most once
    }
  }

  async close(): Promise<void> {
    if (!this.#nc || this.#nc.isClosed()) return;
    await this.#nc.drain().catch(() => this.#nc?.close());
  }
}
