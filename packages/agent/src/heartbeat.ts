/**
 * The liveness heartbeat: a few bytes on `cox.<cluster>.hb.<node>` every
 * `heartbeatIntervalMs`, apart from the report, so the leader can declare a
 * silent host dead after ~1 s without waiting for reports that come once a
 * second and may be slowed by a busy engine. Like the reporter, it publishes
 * only while the link is connected (nats.js would queue without bound).
 */
import type { NatsLink } from '@coxswain/nats-link';
import { encode, NodeHeartbeat, subjects } from '@coxswain/protocol';
import type { Counter } from '@coxswain/telemetry';

export class Heartbeat {
  readonly #link: NatsLink;
  readonly #subject: string;
  readonly #nodeId: string;
  readonly #intervalMs: number;
  readonly #sent: Counter;
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: {
    link: NatsLink;
    cluster: string;
    nodeId: string;
    intervalMs: number;
    /** Labelled {outcome}: published, disconnected, error. */
    sent: Counter;
  }) {
    this.#link = o.link;
    this.#subject = subjects(o.cluster).heartbeat(o.nodeId);
    this.#nodeId = o.nodeId;
    this.#intervalMs = o.intervalMs;
    this.#sent = o.sent;
  }

  start(): void {
    if (this.#timer) return;
    this.beat();
    this.#timer = setInterval(() => this.beat(), this.#intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One heartbeat now; never throws. */
  beat(): void {
    const nc = this.#link.connection;
    if (!nc || !this.#link.connected) {
      this.#sent.inc({ outcome: 'disconnected' });
      return;
    }
    try {
      nc.publish(this.#subject, encode(NodeHeartbeat, { n: this.#nodeId, s: this.#seq++ }));
      this.#sent.inc({ outcome: 'published' });
    } catch {
      this.#sent.inc({ outcome: 'error' });
    }
  }
}
