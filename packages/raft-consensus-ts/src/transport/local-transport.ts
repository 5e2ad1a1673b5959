import type { Message, NodeId, RaftTransport } from '../types.js';
import {
  DEFAULT_MAX_CHUNK_BYTES,
  type DropReason,
  emptyStats,
  FrameReceiver,
  packFrames,
  type TransportStats,
} from './framing.js';

/**
 * An in-process network for tests and examples: every message goes through the
 * same binary framing as on NATS (so nothing is shared by reference) and is
 * delivered on a later macrotask, as a socket would. Nodes can be cut off and
 * reconnected, and links can drop messages.
 */
export class LocalNetwork {
  private readonly nodes = new Map<NodeId, LocalTransport>();
  private readonly isolated = new Set<NodeId>();
  /** Probability in [0, 1) that any one frame is lost. */
  lossRate = 0;

  transport(id: NodeId): LocalTransport {
    const t = new LocalTransport(this, id);
    this.nodes.set(id, t);
    return t;
  }

  /** Cuts `id` off: nothing it sends arrives and nothing reaches it, until reconnect(). */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  reconnect(id: NodeId): void {
    this.isolated.delete(id);
  }

  /** @internal `done` learns whether the frame reached a live transport. */
  deliver(from: NodeId, to: NodeId, frame: Uint8Array, done?: (delivered: boolean) => void): void {
    if (this.isolated.has(from) || this.isolated.has(to)) {
      if (done) setImmediate(() => done(false));
      return;
    }
    if (this.lossRate > 0 && Math.random() < this.lossRate) {
      if (done) setImmediate(() => done(false));
      return;
    }
    setImmediate(() => {
      const target = this.nodes.get(to);
      const delivered = !this.isolated.has(from) && !this.isolated.has(to) && target !== undefined;
      if (delivered) target.receive(frame);
      done?.(delivered);
    });
  }

  /** @internal */
  remove(id: NodeId, t: LocalTransport): void {
    if (this.nodes.get(id) === t) this.nodes.delete(id);
  }
}

export class LocalTransport implements RaftTransport {
  readonly stats: TransportStats = emptyStats();
  private handler: ((m: Message) => void) | undefined;
  private readonly receiver: FrameReceiver;
  private chunkSeq = 0;
  private closed = false;
  private snapshotStatus: ((to: NodeId, index: number, ok: boolean) => void) | undefined;
  private chunkHandler: ((from: NodeId, term: number) => void) | undefined;
  /** Every dropped frame, for assertions. */
  readonly drops: { reason: DropReason; detail: string }[] = [];

  constructor(
    private readonly network: LocalNetwork,
    readonly id: NodeId,
    private readonly maxFrameBytes = DEFAULT_MAX_CHUNK_BYTES,
  ) {
    this.receiver = new FrameReceiver(
      id,
      (m) => this.handler?.(m),
      this.stats,
      (reason, detail) => this.drops.push({ reason, detail }),
      {
        chunkTimeoutMs: 10_000,
        maxAssemblies: 8,
        maxMessageBytes: 1024 ** 3,
        now: () => performance.now(),
        onChunk: (from, term) => this.chunkHandler?.(from, term),
      },
    );
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const [to, frames] of packFrames(
      messages,
      this.maxFrameBytes,
      () => `${this.id}.${++this.chunkSeq}`,
    )) {
      const done = this.snapshotTracker(messages, to, frames.length);
      for (const f of frames) {
        this.stats.framesSent++;
        this.stats.bytesSent += f.length;
        this.network.deliver(this.id, to, f, done);
      }
    }
    this.stats.messagesSent += messages.length;
  }

  /** Reports each snapshot to `to` as sent once every frame to `to` of this send arrived, else as lost. */
  private snapshotTracker(
    messages: readonly Message[],
    to: NodeId,
    frames: number,
  ): ((delivered: boolean) => void) | undefined {
    const report = this.snapshotStatus;
    if (report === undefined) return undefined;
    const indexes = messages
      .filter((m) => m.type === 'InstallSnapshot' && m.to === to)
      .map((m) => (m.type === 'InstallSnapshot' ? m.snapshot.meta.index : 0));
    if (indexes.length === 0) return undefined;
    let pending = frames;
    let ok = true;
    return (delivered) => {
      ok &&= delivered;
      if (--pending === 0) for (const index of indexes) report(to, index, ok);
    };
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

  /** @internal */
  receive(frame: Uint8Array): void {
    if (!this.closed) this.receiver.receive(frame);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.network.remove(this.id, this);
  }
}
