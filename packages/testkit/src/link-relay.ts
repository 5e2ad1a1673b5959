/**
 * A userspace link shaper in Toxiproxy's model: a TCP relay that forwards each
 * chunk after a configurable delay ± jitter, for kernels without `sch_netem`.
 * It can only slow what is routed through it, and it delays bytes, not
 * packets: loss, duplication and reordering are TCP's business below it and
 * cannot be modelled here.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { RelayError } from './errors.js';

export interface LinkShape {
  readonly delayMs: number;
  /** Each chunk's delay is drawn uniformly from delayMs ± jitterMs (never below 0). */
  readonly jitterMs: number;
}

export const NO_DELAY: LinkShape = { delayMs: 0, jitterMs: 0 };

/** `up`: bytes from the relay's clients to the target; `down`: the target's answers. */
export type RelayDirection = 'up' | 'down';

/**
 * When a chunk that arrived at `nowMs` may leave: its delay ± jitter, but never
 * before the chunk ahead of it, since a connection's bytes must keep their
 * order (netem reorders packets under jitter; TCP puts them back in order, so
 * the reader sees the same thing).
 */
export function releaseAt(
  nowMs: number,
  previousMs: number,
  shape: LinkShape,
  random: () => number,
): number {
  const jitter = shape.jitterMs === 0 ? 0 : (random() * 2 - 1) * shape.jitterMs;
  return Math.max(previousMs, nowMs + Math.max(0, shape.delayMs + jitter));
}

export function validateShape(shape: LinkShape): LinkShape {
  const ok = (n: number) => Number.isFinite(n) && n >= 0 && n <= 60_000;
  if (!ok(shape.delayMs) || !ok(shape.jitterMs))
    throw new RelayError(
      `a link shape needs delayMs and jitterMs from 0 to 60000, not ${JSON.stringify(shape)}`,
    );
  return { delayMs: shape.delayMs, jitterMs: shape.jitterMs };
}

export interface LinkRelayOptions {
  /** Where the relay listens; port 0 (the default) picks a free one. */
  readonly listenHost: string;
  readonly listenPort?: number;
  readonly targetHost: string;
  readonly targetPort: number;
  /** Jitter's random source (tests pass a fixed one). */
  readonly random?: () => number;
}

/** Past this many bytes held back in one direction, the sender is paused (TCP's window would close). */
const HIGH_WATER_BYTES = 1 << 20;

/** One direction of one connection: a queue whose release times never go backwards. */
class Pipe {
  readonly #queue: { chunk: Buffer; atMs: number }[] = [];
  #queuedBytes = 0;
  #lastAtMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #sourceEnded = false;
  #waitingDrain = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly shape: () => LinkShape,
    private readonly random: () => number,
  ) {
    from.on('data', (chunk: Buffer) => this.#take(chunk));
    from.on('end', () => {
      this.#sourceEnded = true;
      this.#flush();
    });
    to.on('drain', () => {
      this.#waitingDrain = false;
      this.#flush();
    });
  }

  #take(chunk: Buffer): void {
    const shape = this.shape();
    const now = performance.now();
    if (shape.delayMs === 0 && shape.jitterMs === 0 && this.#queue.length === 0) {
      // The common case (no fault): straight through, TCP's own backpressure.
      if (!this.to.write(chunk)) this.#pause();
      return;
    }
    this.#lastAtMs = releaseAt(now, this.#lastAtMs, shape, this.random);
    this.#queue.push({ chunk, atMs: this.#lastAtMs });
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > HIGH_WATER_BYTES) this.from.pause();
    this.#schedule();
  }

  #pause(): void {
    this.from.pause();
    this.#waitingDrain = true;
  }

  #schedule(): void {
    if (this.#timer || this.#waitingDrain) return;
    const head = this.#queue[0];
    if (!head) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#flush();
      },
      Math.max(0, head.atMs - performance.now()),
    );
  }

  #flush(): void {
    if (this.#waitingDrain || this.to.destroyed) return;
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.atMs <= now + 0.5) {
      const { chunk } = this.#queue.shift()!;
      this.#queuedBytes -= chunk.length;
      if (!this.to.write(chunk)) {
        this.#waitingDrain = true;
        return;
      }
    }
    if (this.#queue.length === 0 && this.#sourceEnded) {
      // A half-close travels like the bytes before it: after them.
      this.to.end();
      return;
    }
    if (this.#queuedBytes <= HIGH_WATER_BYTES / 2 && this.from.isPaused() && !this.#sourceEnded)
      this.from.resume();
    this.#schedule();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }
}

/** Ends a socket with an RST, so the peer sees a dead connection at once instead of a half-close. */
function reset(s: Socket): void {
  if (s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

/** One listening port relaying every connection to one target, shaped per direction. */
export class LinkRelay {
  readonly listenHost: string;
  readonly targetHost: string;
  readonly targetPort: number;
  readonly #server: Server;
  readonly #random: () => number;
  readonly #connections = new Set<{ client: Socket; upstream: Socket; pipes: Pipe[] }>();
  #shape: Record<RelayDirection, LinkShape> = { up: NO_DELAY, down: NO_DELAY };
  #port = 0;
  #stopping: Promise<void> | undefined;

  private constructor(options: LinkRelayOptions) {
    this.listenHost = options.listenHost;
    this.targetHost = options.targetHost;
    this.targetPort = options.targetPort;
    this.#random = options.random ?? Math.random;
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) =>
      this.#accept(client),
    );
  }

  static async start(options: LinkRelayOptions): Promise<LinkRelay> {
    const relay = new LinkRelay(options);
    await new Promise<void>((resolve, reject) => {
      relay.#server.once('error', (cause) =>
        reject(
          new RelayError(
            `cannot listen on ${options.listenHost}:${options.listenPort ?? 0}: ${cause.message}`,
            { cause },
          ),
        ),
      );
      relay.#server.listen(options.listenPort ?? 0, options.listenHost, () => resolve());
    });
    const address = relay.#server.address();
    relay.#port = typeof address === 'object' && address ? address.port : 0;
    return relay;
  }

  get port(): number {
    return this.#port;
  }

  /** Connections open now (both ends), for tests and for the lab's view. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  get shape(): Readonly<Record<RelayDirection, LinkShape>> {
    return this.#shape;
  }

  /** Applies to chunks that arrive from now on; chunks already held keep their release time. */
  setShape(shape: Partial<Record<RelayDirection, LinkShape>>): void {
    this.#shape = {
      up: shape.up ? validateShape(shape.up) : this.#shape.up,
      down: shape.down ? validateShape(shape.down) : this.#shape.down,
    };
  }

  #accept(client: Socket): void {
    if (this.#stopping) {
      reset(client);
      return;
    }
    const upstream = createConnection({
      host: this.targetHost,
      port: this.targetPort,
      allowHalfOpen: true,
    });
    const conn = { client, upstream, pipes: [] as Pipe[] };
    this.#connections.add(conn);
    let closed = 0;
    const onClose = (hadError: boolean) => {
      // A reset (or a target that never answered) ends the other side at once, as a dead
      // peer would; a clean close lets the other side's pipe deliver what it holds first.
      if (hadError || !conn.pipes.length) {
        reset(client);
        reset(upstream);
      }
      if (++closed === 2) {
        for (const p of conn.pipes) p.close();
        this.#connections.delete(conn);
      }
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
    // Errors end in 'close'; without a listener they would throw.
    client.on('error', () => {});
    upstream.on('error', () => {});
    for (const s of [client, upstream]) s.setNoDelay(true);
    upstream.once('connect', () => {
      conn.pipes.push(
        new Pipe(client, upstream, () => this.#shape.up, this.#random),
        new Pipe(upstream, client, () => this.#shape.down, this.#random),
      );
      client.resume();
    });
  }

  /** Closes the listener and every connection; safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      // A relay that goes away is a link that went away: both peers learn at once.
      for (const c of this.#connections) {
        reset(c.client);
        reset(c.upstream);
        for (const p of c.pipes) p.close();
      }
    });
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
