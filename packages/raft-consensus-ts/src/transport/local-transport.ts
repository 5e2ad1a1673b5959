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

  /** @internal */
  deliver(from: NodeId, to: NodeId, frame: Uint8Array): void {
    if (this.isolated.has(from) || this.isolated.has(to)) return;
    if (this.lossRate > 0 && Math.random() < this.lossRate) return;
    setImmediate(() => {
      if (this.isolated.has(from) || this.isolated.has(to)) return;
      this.nodes.get(to)?.receive(frame);
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
      for (const f of frames) {
        this.stats.framesSent++;
        this.stats.bytesSent += f.length;
        this.network.deliver(this.id, to, f);
      }
    }
    this.stats.messagesSent += messages.length;
  }

  onMessage(handler: (message: Message) => void): void {
    this.handler = handler;
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
