/**
 * The simulated network: each node's transport packs messages with the real
 * codec and framing (chunking large ones), links have latency and bandwidth (a
 * link sends one frame at a time, so a snapshot holds up what follows it), and
 * faults drop, duplicate, truncate or corrupt frames, block links one way or
 * both. Receivers run the real FrameReceiver.
 */
import { decodeFrame } from '../src/codec/message-codec.js';
import type { Prng } from '../src/core/prng.js';
import { emptyStats, FrameReceiver, packFrames } from '../src/transport/framing.js';
import type { Message, NodeId, RaftTransport } from '../src/types.js';
import type { Process, Scheduler } from './sim-scheduler.js';

export interface LinkFaults {
  drop: number;
  duplicate: number;
  truncate: number;
  corrupt: number;
  /** Extra one-way latency in ms. */
  extraLatencyMs: number;
  /** Bandwidth divisor (1: nominal). */
  slowdown: number;
}

export interface NetStats {
  frames: number;
  bytes: number;
  dropped: number;
  duplicated: number;
  truncated: number;
  corrupted: number;
  /** Damaged (truncated or corrupted) frames the codec refused (checksum, length, or a flipped magic or version byte). */
  damagedRefused: number;
  /** Damaged frames the codec decoded: each is a violation. */
  damagedAccepted: number;
  rejectedByReceiver: number;
}

const NO_FAULTS: LinkFaults = {
  drop: 0,
  duplicate: 0,
  truncate: 0,
  corrupt: 0,
  extraLatencyMs: 0,
  slowdown: 1,
};

/** Watches every message a node hands its transport, and every one a node's receiver hands its node. */
export interface MessageObserver {
  sent(m: Message, proc: Process): void;
  delivered(m: Message, proc: Process): void;
  /** The transport told the sender's node whether an InstallSnapshot left whole. */
  snapshotReported(m: Message, proc: Process, ok: boolean): void;
}

/** One frame on a link, from when its first byte goes to when its last has left. */
export interface Transmission {
  start: number;
  done: number;
  /** The bandwidth divisor it is timed at. */
  slowdown: number;
  /** Bumped when it is re-timed: a delivery scheduled for an older timing does not happen. */
  timing: number;
  /** Its copies (two if duplicated), each arriving `latencyMs` after the frame has left. */
  readonly copies: {
    readonly latencyMs: number;
    readonly to: NodeId;
    readonly bytes: Uint8Array;
  }[];
}

export class SimNetwork {
  private readonly endpoints = new Map<NodeId, SimTransport>();
  private readonly busyUntil = new Map<string, number>();
  /** Per directed link, the frames that had not left at the link's last send. */
  private readonly queued = new Map<string, Transmission[]>();
  private injected = 0;
  readonly blocked = new Set<string>();
  /** Faults on every link, and per directed link `a>b` on top. */
  all: LinkFaults = { ...NO_FAULTS };
  readonly links = new Map<string, LinkFaults>();
  observer: MessageObserver | undefined;
  /**
   * Called before each frame leaves `from`, before the blocked links are read:
   * a probe may cut links the moment a node first speaks in a new role.
   */
  beforeSend: ((from: NodeId, to: NodeId) => void) | undefined;
  /** Told when the network sees something that must not happen (a damaged frame decoded). */
  onViolation: ((what: string) => void) | undefined;
  readonly stats: NetStats = {
    frames: 0,
    bytes: 0,
    dropped: 0,
    duplicated: 0,
    truncated: 0,
    corrupted: 0,
    damagedRefused: 0,
    damagedAccepted: 0,
    rejectedByReceiver: 0,
  };

  constructor(
    readonly sched: Scheduler,
    private readonly rng: Prng,
    /** Bytes per virtual ms of one link. */
    readonly bytesPerMs: number,
    readonly baseLatencyMs: number,
    readonly maxFrameBytes: number,
  ) {}

  /** A transport for one process of `id`; it replaces that node's previous one. */
  transport(id: NodeId, proc: Process, now: () => number): SimTransport {
    const t = new SimTransport(this, id, proc, now);
    this.endpoints.set(id, t);
    return t;
  }

  /**
   * Puts messages from one sender, any id, on the wire through the real codec and
   * framing, without an endpoint for the sender (an intruder, a removed member,
   * or a forged TimeoutNow): whatever answers them is lost.
   */
  inject(messages: readonly Message[]): void {
    const from = messages[0]?.from;
    if (from === undefined) return;
    const frames = packFrames(messages, this.maxFrameBytes, () => `inject.${++this.injected}`);
    for (const [to, list] of frames) for (const f of list) this.send(from, to, f);
  }

  heal(): void {
    this.blocked.clear();
    this.links.clear();
    this.all = { ...NO_FAULTS };
  }

  /**
   * Called once the heal has set the links it leaves slow. A frame is timed when it is handed
   * to its link, so the frames queued behind a slowdown went on leaving at the chaos rate long
   * after the heal had ended it (seed 99797: a 155 KB snapshot handed to a link slowed 8× at
   * 1426 ms, one 7 KB frame per 255 ms, due to land at about 7 s, after the run's end). What
   * has not left yet goes at the link's rate now, never slower than it was timed at.
   */
  retimeQueued(): void {
    const now = this.sched.now;
    let moved = false;
    for (const [key, txs] of this.queued) {
      const link = this.links.get(key);
      const slowdown = Math.max(1, this.all.slowdown * (link?.slowdown ?? 1));
      let cursor = now;
      for (const tx of txs) {
        if (tx.done <= now) continue;
        const s = Math.min(tx.slowdown, slowdown);
        const started = tx.start < now;
        if (s === tx.slowdown && (started || tx.start === cursor)) {
          cursor = tx.done;
          continue;
        }
        // The part still to send, at the new rate, after the frames before it.
        const from = started ? now : cursor;
        const rest = (tx.done - (started ? now : tx.start)) * (s / tx.slowdown);
        if (!started) tx.start = cursor;
        tx.done = from + rest;
        tx.slowdown = s;
        tx.timing++;
        for (const c of tx.copies) this.deliverAfter(tx, c.latencyMs, c.to, c.bytes);
        cursor = tx.done;
        moved = true;
      }
      this.busyUntil.set(key, cursor);
    }
    if (moved) for (const t of this.endpoints.values()) t.retimed();
  }

  /**
   * @internal Returns the frame's transmission (its `done`: when the link sent its last byte;
   * a dropped frame left at once), or undefined if the link is blocked (nothing left).
   */
  send(from: NodeId, to: NodeId, frame: Uint8Array): Transmission | undefined {
    this.beforeSend?.(from, to);
    this.stats.frames++;
    this.stats.bytes += frame.length;
    const key = `${from}>${to}`;
    if (this.blocked.has(key)) return undefined;
    const link = this.links.get(key);
    const f = (k: keyof LinkFaults): number => this.all[k] + (link?.[k] ?? 0);
    if (this.rng.next() < f('drop')) {
      this.stats.dropped++;
      return { start: this.sched.now, done: this.sched.now, slowdown: 1, timing: 0, copies: [] };
    }
    const copies = this.rng.next() < f('duplicate') ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const slowdown = Math.max(1, this.all.slowdown * (link?.slowdown ?? 1));
    const start = Math.max(this.sched.now, this.busyUntil.get(key) ?? 0);
    const done = start + (frame.length * slowdown) / this.bytesPerMs;
    this.busyUntil.set(key, done);
    const tx: Transmission = { start, done, slowdown, timing: 0, copies: [] };
    const txs = (this.queued.get(key) ?? []).filter((t) => t.done > this.sched.now);
    txs.push(tx);
    this.queued.set(key, txs);
    for (let i = 0; i < copies; i++) {
      const bytes = this.damage(frame, f('truncate'), f('corrupt'));
      const latency = this.baseLatencyMs + f('extraLatencyMs') + this.rng.next() * 3;
      tx.copies.push({ latencyMs: latency, to, bytes });
      this.deliverAfter(tx, latency, to, bytes);
    }
    return tx;
  }

  /** Delivers `bytes` `latencyMs` after `tx` has left, unless it was re-timed meanwhile. */
  private deliverAfter(tx: Transmission, latencyMs: number, to: NodeId, bytes: Uint8Array): void {
    const timing = tx.timing;
    this.sched.at(tx.done + latencyMs, undefined, () => {
      if (tx.timing === timing) this.deliver(to, bytes);
    });
  }

  private damage(frame: Uint8Array, truncate: number, corrupt: number): Uint8Array {
    let bad: Uint8Array | undefined;
    if (this.rng.next() < truncate) {
      this.stats.truncated++;
      bad = frame.slice(0, this.rng.int(0, frame.length));
    } else if (this.rng.next() < corrupt) {
      this.stats.corrupted++;
      bad = frame.slice();
      // One to three flipped bits, in one byte or spread (a burst or independent errors).
      const flips = this.rng.int(1, 4);
      for (let i = 0; i < flips; i++) {
        const at = this.rng.int(0, bad.length);
        bad[at] = (bad[at] as number) ^ (1 << this.rng.int(0, 8));
      }
    }
    // Two flips of one bit cancel: the frame is then intact, not damaged.
    if (bad === undefined || (bad.length === frame.length && bad.every((x, i) => x === frame[i])))
      return frame;
    // The frame's CRC-32C must refuse it before the receiver reads a field: a damaged frame
    // that decodes would be a different, valid message.
    const decoded = decodeFrame(bad);
    if (decoded.ok) {
      this.stats.damagedAccepted++;
      this.onViolation?.(
        `codec: a damaged frame (${bad.length} of ${frame.length} bytes) decoded as a valid frame`,
      );
    } else {
      this.stats.damagedRefused++;
    }
    return bad;
  }

  private deliver(to: NodeId, bytes: Uint8Array): void {
    const t = this.endpoints.get(to);
    if (t === undefined || t.closed || !t.proc.alive) return;
    // Delivery is owned by the receiving process: a paused one reads its socket when it resumes.
    this.sched.at(this.sched.now, t.proc, () => t.receive(bytes));
  }
}

/** An InstallSnapshot handed to the transport, reported once its frames have left (all of them: undefined if a link was blocked). */
interface PendingReport {
  readonly m: Message & { type: 'InstallSnapshot' };
  readonly sentAt: number;
  readonly txs: readonly Transmission[] | undefined;
  timing: number;
}

export class SimTransport implements RaftTransport {
  readonly stats = emptyStats();
  closed = false;
  private handler: ((m: Message) => void) | undefined;
  private snapshotStatus: ((to: NodeId, index: number, ok: boolean) => void) | undefined;
  private chunkHandler: ((from: NodeId, term: number) => void) | undefined;
  private readonly receiver: FrameReceiver;
  private chunkSeq = 0;
  /** InstallSnapshots not yet reported: the heal may re-time their frames. */
  private readonly pendingReports = new Set<PendingReport>();

  constructor(
    private readonly net: SimNetwork,
    readonly id: NodeId,
    readonly proc: Process,
    now: () => number,
  ) {
    this.receiver = new FrameReceiver(
      id,
      (m) => {
        net.observer?.delivered(m, proc);
        this.handler?.(m);
      },
      this.stats,
      () => {
        net.stats.rejectedByReceiver++;
      },
      {
        chunkTimeoutMs: 2_000,
        maxAssemblies: 8,
        maxMessageBytes: 64 * 1024 * 1024,
        now,
        onChunk: (from, term) => this.chunkHandler?.(from, term),
      },
    );
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const frames = packFrames(
      messages,
      this.net.maxFrameBytes,
      () => `${this.id}.${this.proc.incarnation}.${++this.chunkSeq}`,
    );
    const sentAt = this.net.sched.now;
    const sent = new Map<NodeId, Transmission[] | undefined>();
    for (const [to, list] of frames) {
      let txs: Transmission[] | undefined = [];
      for (const f of list) {
        const tx = this.net.send(this.id, to, f);
        if (tx === undefined) txs = undefined;
        else txs?.push(tx);
      }
      sent.set(to, txs);
    }
    for (const m of messages) {
      this.net.observer?.sent(m, this.proc);
      if (m.type === 'InstallSnapshot') {
        const r: PendingReport = { m, sentAt, txs: sent.get(m.to), timing: 0 };
        this.pendingReports.add(r);
        this.reportSnapshot(r);
      }
    }
  }

  /** @internal The heal re-timed frames: reports of snapshots among them move with them. */
  retimed(): void {
    for (const r of this.pendingReports) if (r.txs !== undefined) this.reportSnapshot(r);
  }

  /**
   * As the NATS transport does: a snapshot counts as sent once every frame has
   * left (a flush round trip after the last publish), as lost if a link was
   * blocked. A big snapshot on a slow link stays unreported for a long time.
   */
  private reportSnapshot(r: PendingReport): void {
    const ok = r.txs !== undefined;
    let leftAt = r.sentAt;
    for (const tx of r.txs ?? []) leftAt = Math.max(leftAt, tx.done);
    const timing = ++r.timing;
    this.net.sched.at(leftAt + 2 * this.net.baseLatencyMs, this.proc, () => {
      if (r.timing !== timing) return;
      this.pendingReports.delete(r);
      if (this.closed) return;
      this.net.observer?.snapshotReported(r.m, this.proc, ok);
      this.snapshotStatus?.(r.m.to, r.m.snapshot.meta.index, ok);
    });
  }

  onMessage(handler: (message: Message) => void): void {
    this.handler = handler;
  }

  onChunk(handler: (from: NodeId, term: number) => void): void {
    this.chunkHandler = handler;
  }

  onSnapshotStatus(handler: (to: NodeId, index: number, ok: boolean) => void): void {
    this.snapshotStatus = handler;
  }

  receive(bytes: Uint8Array): void {
    if (!this.closed) this.receiver.receive(bytes);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
