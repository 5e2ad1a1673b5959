/**
 * The cluster event bus of one agent. Events this node emits (leader elected,
 * command issued, node dead, ...) are delivered to local listeners (the SSE
 * clients of `/v1/events`), kept in a bounded ring so a client that connects
 * late or reconnects can replay, and published on `cox.<cluster>.events` so
 * every agent's `/v1/events` shows the whole cluster. Events other nodes publish
 * arrive through `ingest`, are validated like any network input, and join the
 * same ring.
 *
 * Ids are this node's own sequence numbers: a client resumes with
 * `Last-Event-ID` against the node it was connected to.
 */
import {
  ClusterEvent,
  type ClusterEventType,
  decode,
  PROTOCOL_VERSION,
  subjects,
} from '@coxswain/protocol';
import type { NatsConnection, Subscription } from 'nats';

const MAX_PENDING_ECHOES = 1000;

export interface StoredEvent {
  readonly id: number;
  readonly event: ClusterEvent;
}

export type EventListener = (stored: StoredEvent) => void;

export interface EventInput {
  readonly type: ClusterEventType;
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

export interface EventBusOptions {
  readonly nodeId: string;
  /** Events kept for replay (default 1000). */
  readonly capacity?: number;
  /** Called with every event this node emits; `attachNats` sets it. */
  readonly publish?: (event: ClusterEvent, payload: string) => void;
  /** Wall clock for the event's `time` (tests pin it). */
  readonly now?: () => number;
  /** Called when a listener throws or a publish fails: counted and logged by the owner, never rethrown. */
  readonly onError?: (error: unknown, where: string) => void;
}

export interface RecentOptions {
  /** Only events with an id greater than this. */
  readonly since?: number;
  /** At most this many, the newest. */
  readonly limit?: number;
  readonly types?: ReadonlySet<string>;
}

export class EventBus {
  readonly nodeId: string;
  readonly capacity: number;
  readonly #ring: StoredEvent[] = [];
  readonly #listeners = new Set<EventListener>();
  readonly #now: () => number;
  readonly #onError: (error: unknown, where: string) => void;
  #publish: ((event: ClusterEvent, payload: string) => void) | undefined;
  /** Payloads this bus published and has not yet seen come back, with how many times. */
  readonly #echoes = new Map<string, number>();
  #nextId = 1;
  /** Events from the network that failed validation. */
  invalidCount = 0;
  /** Events from the network accepted into the ring. */
  ingestedCount = 0;

  constructor(options: EventBusOptions) {
    this.nodeId = options.nodeId;
    this.capacity = Math.max(1, options.capacity ?? 1000);
    this.#publish = options.publish;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  setPublisher(publish: ((event: ClusterEvent, payload: string) => void) | undefined): void {
    this.#publish = publish;
  }

  /** Emits an event of this node: stored, delivered locally, published to the cluster. */
  emit(input: EventInput): StoredEvent {
    const event = ClusterEvent.parse({
      v: PROTOCOL_VERSION,
      type: input.type,
      time: this.#now(),
      nodeId: this.nodeId,
      message: input.message,
      data: input.data ?? {},
    });
    const stored = this.#store(event);
    if (this.#publish) {
      try {
        const payload = JSON.stringify(event);
        this.#echoes.set(payload, (this.#echoes.get(payload) ?? 0) + 1);
        // Bounded: an echo that never comes back (NATS down) must not pin memory.
        if (this.#echoes.size > MAX_PENDING_ECHOES)
          this.#echoes.delete(this.#echoes.keys().next().value!);
        this.#publish(event, payload);
      } catch (error) {
        this.#onError(error, 'publish');
      }
    }
    return stored;
  }

  /**
   * Takes an event from the network. Returns false when the payload is invalid
   * (counted) or is this bus's own emit coming back from NATS (already stored
   * when it was emitted). Events other parts of this node publish straight to
   * NATS (the cluster member's) are taken like any other node's.
   */
  ingest(payload: Uint8Array | string, where = 'events'): boolean {
    const decoded = decode(ClusterEvent, payload, { where });
    if (!decoded.ok) {
      this.invalidCount += 1;
      this.#onError(decoded.error, where);
      return false;
    }
    const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
    const echoes = this.#echoes.get(text);
    if (echoes !== undefined) {
      // Our own emit coming back from NATS: already stored and delivered when emitted.
      if (echoes <= 1) this.#echoes.delete(text);
      else this.#echoes.set(text, echoes - 1);
      return false;
    }
    this.ingestedCount += 1;
    this.#store(decoded.value);
    return true;
  }

  /** Recent events, oldest first. */
  recent(options: RecentOptions = {}): StoredEvent[] {
    const since = options.since ?? 0;
    let out = this.#ring.filter(
      (s) => s.id > since && (!options.types || options.types.has(s.event.type)),
    );
    if (options.limit !== undefined) out = out.slice(Math.max(0, out.length - options.limit));
    return out;
  }

  /** The id the next stored event will get minus one: the newest id so far (0 when none). */
  get lastId(): number {
    return this.#nextId - 1;
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  #store(event: ClusterEvent): StoredEvent {
    const stored: StoredEvent = { id: this.#nextId++, event };
    this.#ring.push(stored);
    if (this.#ring.length > this.capacity) this.#ring.splice(0, this.#ring.length - this.capacity);
    for (const listener of this.#listeners) {
      try {
        listener(stored);
      } catch (error) {
        // One broken SSE client must not keep the event from the others.
        this.#onError(error, 'listener');
      }
    }
    return stored;
  }
}

/**
 * Connects a bus to NATS: its events are published on `cox.<cluster>.events`,
 * and every other node's events there are ingested. Returns the subscription
 * (unsubscribe or drain it on shutdown).
 */
export function attachEventBusToNats(
  bus: EventBus,
  nc: NatsConnection,
  cluster: string,
): Subscription {
  const subject = subjects(cluster).events;
  // The exact bytes are published so the echo from our own subscription is recognised.
  bus.setPublisher((_event, payload) => nc.publish(subject, payload));
  return nc.subscribe(subject, {
    callback: (error, msg) => {
      if (error) return;
      bus.ingest(msg.data, subject);
    },
  });
}
