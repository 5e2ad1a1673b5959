import type { NatsConnection, Subscription } from 'nats';
import {
  DEFAULT_MAX_CHUNK_BYTES,
  type DropReason,
  emptyStats,
  FrameReceiver,
  packFrames,
  type TransportStats,
} from '../transport/framing.js';
import type { Message, NodeId, RaftTransport } from '../types.js';

export interface NatsTransportOptions {
  /** A connection the caller owns (and closes); the transport only subscribes and publishes on it. */
  readonly connection: NatsConnection;
  readonly nodeId: NodeId;
  /** Node `n` listens on `${subjectPrefix}.${n}`; coxswain passes `cox.<cluster>.raft`. */
  readonly subjectPrefix: string;
  /** Frames are kept at or under this size; larger messages travel in chunks. Default 512 KiB. */
  readonly maxChunkBytes?: number;
  /** An incomplete chunked message is dropped once no new part came for this long. Default 10 s. */
  readonly chunkTimeoutMs?: number;
  /** Largest message reassembled from chunks (a snapshot). Default 1 GiB. */
  readonly maxMessageBytes?: number;
  /** Called for every dropped frame (already counted in `stats`); default: nothing. Callers rate-limit their logging. */
  readonly onDrop?: (reason: DropReason, detail: string) => void;
}

/**
 * Raft over NATS core publish/subscribe. Publish, not request/reply: Raft
 * already pairs each request with a response message of its own and tolerates
 * loss, so a reply inbox would only add a subscription, a second message per
 * exchange and timeouts that duplicate Raft's own (heartbeats and elections).
 */
export class NatsTransport implements RaftTransport {
  readonly stats: TransportStats = emptyStats();
  private readonly subscription: Subscription;
  private readonly receiver: FrameReceiver;
  private readonly maxFrameBytes: number;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private handler: ((m: Message) => void) | undefined;
  private chunkSeq = 0;
  private closed = false;
  private snapshotStatus: ((to: NodeId, index: number, ok: boolean) => void) | undefined;
  private chunkHandler: ((from: NodeId, term: number) => void) | undefined;

  constructor(private readonly options: NatsTransportOptions) {
    const serverMax = options.connection.info?.max_payload ?? 1024 * 1024;
    this.maxFrameBytes = Math.min(
      options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES,
      serverMax - 1024,
    );
    const chunkTimeoutMs = options.chunkTimeoutMs ?? 10_000;
    this.receiver = new FrameReceiver(
      options.nodeId,
      (m) => this.handler?.(m),
      this.stats,
      options.onDrop ?? (() => undefined),
      {
        chunkTimeoutMs,
        maxAssemblies: 8,
        maxMessageBytes: options.maxMessageBytes ?? 1024 ** 3,
        now: () => performance.now(),
        onChunk: (from, term) => this.chunkHandler?.(from, term),
      },
    );
    this.subscription = options.connection.subscribe(`${options.subjectPrefix}.${options.nodeId}`, {
      callback: (err, msg) => {
        if (err || this.closed) return;
        this.receiver.receive(msg.data);
      },
    });
    this.sweepTimer = setInterval(() => this.receiver.sweep(), Math.max(100, chunkTimeoutMs / 2));
    this.sweepTimer.unref();
  }

  send(messages: readonly Message[]): void {
    if (this.closed || messages.length === 0) return;
    const frames = packFrames(
      messages,
      this.maxFrameBytes,
      () => `${this.options.nodeId}.${++this.chunkSeq}.${Math.random().toString(36).slice(2, 8)}`,
    );
    const failedTo = new Set<NodeId>();
    for (const [to, list] of frames) {
      const subject = `${this.options.subjectPrefix}.${to}`;
      for (const f of list) {
        try {
          this.options.connection.publish(subject, f);
        } catch {
          // Closed or draining connection: the message is lost, which Raft tolerates.
          failedTo.add(to);
          continue;
        }
        this.stats.framesSent++;
        this.stats.bytesSent += f.length;
      }
    }
    this.stats.messagesSent += messages.length;
    this.reportSnapshots(messages, failedTo);
  }

  /**
   * A snapshot counts as sent once the server has every frame of it (a flush
   * round trip after the publishes), as lost if a publish or the flush failed.
   * NATS may still lose it on the way to the follower: the leader then finds
   * the follower behind on its next probe and sends it again.
   */
  private reportSnapshots(messages: readonly Message[], failedTo: ReadonlySet<NodeId>): void {
    const report = this.snapshotStatus;
    if (report === undefined) return;
    const snapshots: { to: NodeId; index: number }[] = [];
    for (const m of messages)
      if (m.type === 'InstallSnapshot') snapshots.push({ to: m.to, index: m.snapshot.meta.index });
    if (snapshots.length === 0) return;
    this.options.connection.flush().then(
      () => {
        for (const s of snapshots) report(s.to, s.index, !failedTo.has(s.to));
      },
      () => {
        for (const s of snapshots) report(s.to, s.index, false);
      },
    );
  }

  onMessage(handler: (message: Message) => void): void {
    this.handler = handler;
  }

  onSnapshotStatus(handler: (to: NodeId, index: number, ok: boolean) => void): void {
    this.snapshotStatus = handler;
  }

  onChunk(handler: (from: NodeId, term: number) => void): void {
    this.chunkHandler = handler;
  }

  /** Unsubscribes; the connection stays open (it belongs to the caller). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.subscription.unsubscribe();
  }
}
