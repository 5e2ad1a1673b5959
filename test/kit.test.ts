import { existsSync } from 'node:fs';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import { isAlive, NatsCluster, NatsServer, pollUntil } from './kit/index.js';

const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe('NatsServer', () => {
  it('starts on a free port, serves clients, and stop() leaves no process and no temp dir', async () => {
    const ns = await NatsServer.start();
    const pid = ns.pid!;
    expect(ns.port).toBeGreaterThan(0);
    expect(ns.url).toBe(`nats://127.0.0.1:${ns.port}`);
    const nc = await connect({ servers: ns.url });
    const sub = nc.subscribe('kit.echo', { max: 1 });
    nc.publish('kit.echo', 'hello');
    for await (const m of sub) expect(text(m.data)).toBe('hello');
    await nc.close();
    await ns.stop();
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(ns.dir)).toBe(false);
  });

  it('restart() comes back on the same port and a connected client reconnects', async () => {
    await using ns = await NatsServer.start();
    const port = ns.port;
    const nc = await connect({ servers: ns.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') reconnects++;
    })();
    await ns.restart();
    expect(ns.port).toBe(port);
    await pollUntil('the client to reconnect', () => (reconnects > 0 ? true : undefined), 10_000);
    const reply = nc.subscribe('kit.after', { max: 1 });
    nc.publish('kit.after', 'again');
    for await (const m of reply) expect(text(m.data)).toBe('again');
    await nc.close();
  });

  it('kill() is a SIGKILL; dispose still cleans up', async () => {
    let dir = '';
    {
      await using ns = await NatsServer.start();
      dir = ns.dir;
      const pid = ns.pid!;
      await ns.kill();
      expect(isAlive(pid)).toBe(false);
      expect(ns.running).toBe(false);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('applies max_payload', async () => {
    await using ns = await NatsServer.start({ maxPayloadBytes: 2048 });
    const nc = await connect({ servers: ns.url });
    expect(nc.info?.max_payload).toBe(2048);
    await nc.close();
  });

  it('reports a bad config with the server log', async () => {
    await expect(NatsServer.start({ extraConfig: 'this is { not valid' })).rejects.toMatchObject({
      code: 'COX_DAEMON_START_FAILED',
    });
  });
});

describe('NatsCluster', () => {
  it('routes three servers: a message published on one reaches a subscriber on another', async () => {
    await using cluster = await NatsCluster.start(3);
    expect(cluster.urls).toHaveLength(3);
    const [a, b] = cluster.servers;
    const sub = await connect({ servers: a!.url });
    const pub = await connect({ servers: b!.url });
    const got = sub.subscribe('kit.cross', { max: 1 });
    await sub.flush();
    // Interest crosses the route asynchronously: publish until it arrives.
    let received = '';
    const reader = (async () => {
      for await (const m of got) received = text(m.data);
    })();
    await pollUntil(
      'a message to cross servers',
      () => {
        pub.publish('kit.cross', 'across');
        return received === '' ? undefined : true;
      },
      10_000,
      50,
    );
    await reader;
    expect(received).toBe('across');
    await sub.close();
    await pub.close();
  });
});
