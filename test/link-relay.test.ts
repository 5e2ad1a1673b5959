import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LinkRelay, NO_DELAY, RelayError, releaseAt } from '@coxswain/testkit';
import { afterEach, describe, expect, it } from 'vitest';

describe('releaseAt', () => {
  it('delays by delay ± jitter and never before the chunk ahead', () => {
    const shape = { delayMs: 100, jitterMs: 20 };
    expect(releaseAt(1000, 0, shape, () => 0)).toBe(1080);
    expect(releaseAt(1000, 0, shape, () => 1)).toBe(1120);
    expect(releaseAt(1000, 0, shape, () => 0.5)).toBe(1100);
    // The previous chunk drew +20 ms; this one drew -20 ms: it waits for it.
    expect(releaseAt(1001, 1120, shape, () => 0)).toBe(1120);
    expect(releaseAt(1000, 0, NO_DELAY, () => 0.9)).toBe(1000);
    // Jitter larger than the delay never schedules into the past.
    expect(releaseAt(1000, 0, { delayMs: 5, jitterMs: 50 }, () => 0)).toBe(1000);
  });
});

/** A target that keeps every accepted socket and what arrived on it, with arrival times. */
async function target(): Promise<{
  server: Server;
  port: number;
  sockets: Socket[];
  next: () => Promise<Socket>;
}> {
  const sockets: Socket[] = [];
  const waiters: ((s: Socket) => void)[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    waiters.shift()?.(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const next = () =>
    new Promise<Socket>((resolve) => {
      const s = sockets.find((x) => !(x as { claimed?: boolean }).claimed);
      const claim = (x: Socket) => {
        (x as { claimed?: boolean }).claimed = true;
        resolve(x);
      };
      if (s) claim(s);
      else waiters.push(claim);
    });
  return { server, port, sockets, next };
}

async function dial(port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Resolves with the time the first byte arrives on `s`. */
/** `once(s, 'close')` would reject on the reset that causes the close. */
const closed = (s: Socket) =>
  s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()));

const firstByte = (s: Socket) =>
  new Promise<number>((resolve) => s.once('data', () => resolve(performance.now())));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(random?: () => number) {
  const t = await target();
  cleanups.push(() => new Promise<void>((r) => t.server.close(() => r())));
  cleanups.push(() => {
    for (const s of t.sockets) s.destroy();
  });
  const relay = await LinkRelay.start({
    listenHost: '127.0.0.1',
    targetHost: '127.0.0.1',
    targetPort: t.port,
    ...(random ? { random } : {}),
  });
  cleanups.push(() => relay.stop());
  return { t, relay };
}

describe('LinkRelay', () => {
  it('passes bytes straight through at the default shape (no delay)', async () => {
    const { t, relay } = await setup();
    expect(relay.shape).toEqual({ up: NO_DELAY, down: NO_DELAY });
    const client = await dial(relay.port);
    cleanups.push(() => void client.destroy());
    const server = await t.next();
    const sent = performance.now();
    client.write('ping');
    const at = await firstByte(server);
    expect(at - sent).toBeLessThan(50);
  });

  it('delays each direction by its own shape, within delay ± jitter', async () => {
    const { t, relay } = await setup();
    relay.setShape({ up: { delayMs: 120, jitterMs: 20 }, down: { delayMs: 60, jitterMs: 0 } });
    const client = await dial(relay.port);
    cleanups.push(() => void client.destroy());
    const server = await t.next();
    for (let i = 0; i < 3; i++) {
      let sent = performance.now();
      client.write(`up ${i}`);
      const up = (await firstByte(server)) - sent;
      // Lower bound exact (timers never fire early by more than a ms); upper bound allows a busy machine.
      expect(up).toBeGreaterThanOrEqual(99);
      expect(up).toBeLessThan(140 + 150);
      sent = performance.now();
      server.write(`down ${i}`);
      const down = (await firstByte(client)) - sent;
      expect(down).toBeGreaterThanOrEqual(59);
      expect(down).toBeLessThan(60 + 150);
    }
    // A round trip pays both.
    relay.setShape({ up: { delayMs: 40, jitterMs: 0 }, down: { delayMs: 40, jitterMs: 0 } });
    server.on('data', (d) => server.write(d));
    const sent = performance.now();
    client.write('echo');
    expect((await firstByte(client)) - sent).toBeGreaterThanOrEqual(79);
  });

  it('keeps the order of a connection’s bytes under jitter larger than the gap between chunks', async () => {
    // Alternating extreme draws: every second chunk would overtake the one before it.
    let flip = false;
    const { t, relay } = await setup(() => {
      flip = !flip;
      return flip ? 1 : 0;
    });
    relay.setShape({ up: { delayMs: 30, jitterMs: 30 }, down: { delayMs: 30, jitterMs: 30 } });
    const client = await dial(relay.port);
    cleanups.push(() => void client.destroy());
    const server = await t.next();
    let upBytes = '';
    let downBytes = '';
    server.on('data', (d: Buffer) => {
      upBytes += d.toString();
    });
    client.on('data', (d: Buffer) => {
      downBytes += d.toString();
    });
    const expected = Array.from({ length: 100 }, (_, i) => `${i};`).join('');
    for (let i = 0; i < 100; i++) {
      client.write(`${i};`);
      server.write(`${i};`);
      // Separate chunks: let each leave its socket before the next is written.
      await sleep(1);
    }
    const deadline = performance.now() + 5000;
    while (
      (upBytes.length < expected.length || downBytes.length < expected.length) &&
      performance.now() < deadline
    )
      await sleep(20);
    expect(upBytes).toBe(expected);
    expect(downBytes).toBe(expected);
  });

  it('carries a half-close after the delayed bytes, both ways, then closes the connection', async () => {
    const { t, relay } = await setup();
    relay.setShape({ up: { delayMs: 80, jitterMs: 0 }, down: { delayMs: 80, jitterMs: 0 } });
    const client = await dial(relay.port);
    const server = await t.next();
    let atServer = '';
    server.on('data', (d: Buffer) => {
      atServer += d.toString();
    });
    client.end('last words');
    await once(server, 'end');
    // The FIN came after the bytes it followed, not before them.
    expect(atServer).toBe('last words');
    let atClient = '';
    client.on('data', (d: Buffer) => {
      atClient += d.toString();
    });
    server.end('reply');
    await once(client, 'end');
    expect(atClient).toBe('reply');
    await Promise.all([closed(client), closed(server)]);
    await sleep(20);
    expect(relay.connectionCount).toBe(0);
  });

  it('a reset on either side closes the other at once', async () => {
    const { t, relay } = await setup();
    relay.setShape({ up: { delayMs: 200, jitterMs: 0 }, down: NO_DELAY });
    const a = await dial(relay.port);
    const aServer = await t.next();
    a.write('held back');
    aServer.resetAndDestroy();
    await closed(a);
    const b = await dial(relay.port);
    const bServer = await t.next();
    b.resetAndDestroy();
    await closed(bServer);
    await sleep(20);
    expect(relay.connectionCount).toBe(0);
  });

  it('closes a client at once when the target is down, as a refused connection would', async () => {
    const { t, relay } = await setup();
    await new Promise<void>((r) => t.server.close(() => r()));
    const c = createConnection({ host: '127.0.0.1', port: relay.port });
    c.on('error', () => {});
    await closed(c);
    await sleep(20);
    expect(relay.connectionCount).toBe(0);
  });

  it('stop() closes the listener and every connection, holding nothing open', async () => {
    const baseline = resources();
    const { t, relay } = await setup();
    relay.setShape({ up: { delayMs: 500, jitterMs: 0 }, down: { delayMs: 500, jitterMs: 0 } });
    const clients = await Promise.all([dial(relay.port), dial(relay.port)]);
    const servers = [await t.next(), await t.next()];
    for (const c of clients) c.write('pending');
    expect(relay.connectionCount).toBe(2);
    await relay.stop();
    await relay.stop();
    await Promise.all([...clients, ...servers].map(closed));
    expect(relay.connectionCount).toBe(0);
    const refused = createConnection({ host: '127.0.0.1', port: relay.port });
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
    for (const c of cleanups.splice(0).reverse()) await c();
    await sleep(20);
    // No timer of a held chunk, no socket, no server left behind (an earlier test's may have gone meanwhile).
    for (const [kind, n] of Object.entries(resources()))
      expect(n, kind).toBeLessThanOrEqual(baseline[kind] ?? 0);
  });

  it('refuses a shape it cannot apply', async () => {
    const { relay } = await setup();
    expect(() => relay.setShape({ up: { delayMs: -1, jitterMs: 0 } })).toThrow(RelayError);
    expect(() => relay.setShape({ down: { delayMs: 10, jitterMs: Number.NaN } })).toThrow(
      /delayMs and jitterMs from 0 to 60000/,
    );
  });
});

/** Timers and TCP handles this process holds, by kind. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo())
    if (r === 'Timeout' || r.startsWith('TCP')) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}
