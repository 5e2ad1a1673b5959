import {
  decodeFrame,
  decodeMessage,
  encodeChunkFrame,
  encodeMessage,
  encodeMessagesFrame,
} from '../codec/message-codec.js';
import { bugInjected } from '../injected-bugs.js';
import type { Message, NodeId } from '../types.js';

/** NATS's default max_payload is 1 MiB; half of it leaves room for headers and a server configured lower. */
export const DEFAULT_MAX_CHUNK_BYTES = 512 * 1024;

/**
 * Groups one flush's messages by destination and packs each group into as few
 * frames as fit in `maxFrameBytes`. A single message larger than that (a
 * snapshot, typically) is split into chunk frames the receiver reassembles.
 */
export function packFrames(
  messages: readonly Message[],
  maxFrameBytes: number,
  nextChunkId: () => string,
): Map<NodeId, Uint8Array[]> {
  const byDest = new Map<NodeId, { m: Message; e: Uint8Array }[]>();
  for (const m of messages) {
    let list = byDest.get(m.to);
    if (!list) {
      list = [];
      byDest.set(m.to, list);
    }
    list.push({ m, e: encodeMessage(m) });
  }
  const frames = new Map<NodeId, Uint8Array[]>();
  for (const [to, encoded] of byDest) {
    const out: Uint8Array[] = [];
    let batch: Uint8Array[] = [];
    // Header, message count and checksum.
    const overhead = 9;
    let size = overhead;
    const flush = (): void => {
      if (batch.length > 0) out.push(encodeMessagesFrame(batch));
      batch = [];
      size = overhead;
    };
    for (const { m, e } of encoded) {
      if (e.length + overhead > maxFrameBytes) {
        const id = chunkId(m, nextChunkId);
        const chunkBytes = maxFrameBytes - 80 - id.length - m.from.length;
        const total = Math.ceil(e.length / chunkBytes);
        for (let seq = 0; seq < total; seq++) {
          out.push(
            encodeChunkFrame({
              from: m.from,
              term: m.term,
              id,
              seq,
              total,
              bytes: e.subarray(seq * chunkBytes, (seq + 1) * chunkBytes),
            }),
          );
        }
        continue;
      }
      if (size + e.length > maxFrameBytes || batch.length === 0xffff) flush();
      batch.push(e);
      size += e.length;
    }
    flush();
    frames.set(to, out);
  }
  return frames;
}

/**
 * A resent snapshot (same leader, term and snapshot) gets the same chunk id, so
 * the receiver fills in the chunks a lossy link dropped from the copies before
 * it instead of needing one copy to arrive whole: with a fifth of the frames
 * lost, a copy of 26 chunks arrived whole 0.4 % of the time (node simulator
 * seeds 138 and 1690). Its bytes are the same each time: one state machine
 * state per index, one leader per term. Other large messages get fresh ids.
 */
function chunkId(m: Message, nextChunkId: () => string): string {
  if (m.type !== 'InstallSnapshot') return nextChunkId();
  const meta = m.snapshot.meta;
  return `${m.from}.t${m.term}.snap${meta.index}.${meta.term}.${m.snapshot.data.length}`;
}

/**
 * Why a frame or part of one was dropped; each is counted in TransportStats.
 * `corrupt`: its checksum failed or it was cut short (damaged on the way);
 * `malformed`: not this format or version, or impossible content under a good
 * checksum (a peer's bug).
 */
export type DropReason =
  | 'corrupt'
  | 'malformed'
  | 'misaddressed'
  | 'chunk-timeout'
  | 'chunk-overflow';

export interface TransportStats {
  framesSent: number;
  messagesSent: number;
  bytesSent: number;
  framesReceived: number;
  messagesReceived: number;
  bytesReceived: number;
  dropped: Record<DropReason, number>;
}

export function emptyStats(): TransportStats {
  return {
    framesSent: 0,
    messagesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    dropped: {
      corrupt: 0,
      malformed: 0,
      misaddressed: 0,
      'chunk-timeout': 0,
      'chunk-overflow': 0,
    },
  };
}

interface Assembly {
  readonly parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  /** When its last new part arrived: the chunk timeout counts from here. */
  lastPartAt: number;
}

/**
 * The receiving side: decodes frames, reassembles chunked messages, checks the
 * addressee, and hands valid messages on. Bad input is counted and reported to
 * `onDrop`, never thrown: a peer's bug must not crash this node.
 */
export class FrameReceiver {
  private readonly assemblies = new Map<string, Assembly>();

  constructor(
    private readonly nodeId: NodeId,
    private readonly deliver: (m: Message) => void,
    private readonly stats: TransportStats,
    private readonly onDrop: (reason: DropReason, detail: string) => void,
    private readonly options: {
      readonly chunkTimeoutMs: number;
      readonly maxAssemblies: number;
      readonly maxMessageBytes: number;
      readonly now: () => number;
      /**
       * Told of every valid chunk: part of a large message (a snapshot, in
       * practice) from `from` in `term` arrived. The heartbeats that would
       * show its sender alive queue behind it on the same connection.
       */
      readonly onChunk?: (from: NodeId, term: number) => void;
    },
  ) {}

  receive(bytes: Uint8Array): void {
    this.stats.framesReceived++;
    this.stats.bytesReceived += bytes.length;
    const decoded = decodeFrame(bytes);
    if (!decoded.ok) {
      const damaged = decoded.reason === 'checksum' || decoded.reason === 'truncated';
      this.drop(damaged ? 'corrupt' : 'malformed', decoded.error);
      return;
    }
    const frame = decoded.value;
    if (frame.kind === 'messages') {
      for (const m of frame.messages) this.accept(m);
      return;
    }
    const { id, seq, total } = frame.chunk;
    let a = this.assemblies.get(id);
    if (!a) {
      this.sweep();
      if (this.assemblies.size >= this.options.maxAssemblies) {
        this.drop('chunk-overflow', `too many incomplete chunked messages; dropped chunk of ${id}`);
        return;
      }
      a = { parts: new Array(total), received: 0, bytes: 0, lastPartAt: this.options.now() };
      this.assemblies.set(id, a);
    }
    if (a.parts.length !== total) {
      this.drop(
        'malformed',
        `chunk ${seq} of ${id} says ${total} parts, earlier ones said ${a.parts.length}`,
      );
      return;
    }
    this.options.onChunk?.(frame.chunk.from, frame.chunk.term);
    if (a.parts[seq]) return; // a duplicate: NATS may redeliver after a reconnect
    a.parts[seq] = frame.chunk.bytes;
    a.received++;
    if (!bugInjected('chunk-timeout-from-first-part')) a.lastPartAt = this.options.now();
    a.bytes += frame.chunk.bytes.length;
    if (a.bytes > this.options.maxMessageBytes) {
      this.assemblies.delete(id);
      this.drop(
        'chunk-overflow',
        `chunked message ${id} exceeds ${this.options.maxMessageBytes} bytes`,
      );
      return;
    }
    if (a.received < total) return;
    this.assemblies.delete(id);
    const whole = new Uint8Array(a.bytes);
    let at = 0;
    for (const p of a.parts as Uint8Array[]) {
      whole.set(p, at);
      at += p.length;
    }
    const m = decodeMessage(whole);
    if (!m.ok) {
      this.drop('malformed', `reassembled ${id}: ${m.error}`);
      return;
    }
    this.accept(m.value);
  }

  /**
   * Drops incomplete chunked messages that got no new part within the timeout (their sender
   * will retry from scratch). Counted from the last new part, not the first: on a slow, lossy
   * link each copy of a snapshot misses a few chunks and the next copy of the same snapshot
   * fills them in (see chunkId), so an assembly may take several copies' time, and one still
   * gaining parts is not abandoned (node simulator seed 886: a copy took 1 s, the third filled
   * in the last chunk 2.2 s after the first had arrived, past the simulator's 2 s timeout).
   */
  sweep(): void {
    const now = this.options.now();
    for (const [id, a] of this.assemblies) {
      if (now - a.lastPartAt > this.options.chunkTimeoutMs) {
        this.assemblies.delete(id);
        this.drop(
          'chunk-timeout',
          `chunked message ${id} got no new part for ${this.options.chunkTimeoutMs} ms (${a.received}/${a.parts.length} parts)`,
        );
      }
    }
  }

  get pendingAssemblies(): number {
    return this.assemblies.size;
  }

  private accept(m: Message): void {
    if (m.to !== this.nodeId) {
      this.drop('misaddressed', `message ${m.type} from ${m.from} is for ${m.to}`);
      return;
    }
    this.stats.messagesReceived++;
    this.deliver(m);
  }

  private drop(reason: DropReason, detail: string): void {
    this.stats.dropped[reason]++;
    this.onDrop(reason, detail);
  }
}
