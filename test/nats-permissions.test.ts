import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NatsLink, natsSecurityOptions } from '@coxswain/nats-link';
import { inboxPrefixFor, natsServerConfig, subjects } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import { connect, type NatsConnection, nkeyAuthenticator, nkeys } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A real nats-server on a free port, from a config we write; stopped by the returned function. */
async function startNats(
  dir: string,
  conf: string,
): Promise<{ url: string; stop: () => Promise<void>; log: () => string }> {
  writeFileSync(
    join(dir, 'server.conf'),
    `listen: 127.0.0.1:-1\nports_file_dir: ${JSON.stringify(dir)}\n${conf}`,
  );
  let stderr = '';
  const proc: ChildProcess = spawn('nats-server', ['-c', join(dir, 'server.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const deadline = performance.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
    const file = readdirSync(dir).find((f) => f.endsWith('.ports'));
    if (file) {
      const ports = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nats: string[] };
      const url = ports.nats[0]!.replace(/^tls:/, 'nats:');
      return {
        url,
        log: () => stderr,
        stop: async () => {
          proc.kill('SIGTERM');
          await new Promise((r) => proc.once('exit', r));
        },
      };
    }
    if (performance.now() > deadline) throw new Error(`nats-server did not start: ${stderr}`);
    await sleep(50);
  }
}

/** Resolves with the first permission violation the server reports on this connection. */
async function violation(nc: NatsConnection, timeoutMs = 3000): Promise<string | undefined> {
  const timer = sleep(timeoutMs).then(() => undefined);
  const seen = (async () => {
    for await (const s of nc.status()) {
      const ctx = (s as { permissionContext?: { operation: string; subject: string } })
        .permissionContext;
      if (s.type === 'error' && ctx) return `${String(s.data)} ${ctx.operation} ${ctx.subject}`;
    }
    return undefined;
  })();
  return Promise.race([seen, timer]);
}

const s = subjects('lab');
const password = (id: string): string => `pw-${id}-0123456789abcdef`;

describe('generated nats-server permissions (real nats-server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cox-nats-perm-'));
  const voterKey = nkeys.createUser();
  let server: Awaited<ReturnType<typeof startNats>>;
  const open: NatsConnection[] = [];
  const as = async (id: string, extra: object = {}): Promise<NatsConnection> => {
    const nc = await connect({ servers: server.url, user: id, pass: password(id), ...extra });
    open.push(nc);
    return nc;
  };
  const asVoter = async (): Promise<NatsConnection> => {
    const nc = await connect({
      servers: server.url,
      authenticator: nkeyAuthenticator(voterKey.getSeed()),
    });
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    const conf = natsServerConfig({
      cluster: 'lab',
      nodes: [
        { id: 'n1', voter: true, credential: { kind: 'nkey', publicKey: voterKey.getPublicKey() } },
        {
          id: 'n2',
          voter: true,
          credential: { kind: 'password', user: 'n2', password: password('n2') },
        },
        {
          id: 'a1',
          voter: false,
          credential: { kind: 'password', user: 'a1', password: password('a1') },
        },
        {
          id: 'a2',
          voter: false,
          credential: { kind: 'password', user: 'a2', password: password('a2') },
        },
      ],
      inboxes: 'shared',
    });
    server = await startNats(dir, conf);
  });
  afterAll(async () => {
    for (const nc of open) await nc.close().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an agent cannot publish another node's report, a Raft message or a scale command", async () => {
    for (const subject of [s.report('a2'), s.raft('n1'), s.cmd('a2'), s.cmd('n1')]) {
      const nc = await as('a1');
      const seen = violation(nc);
      nc.publish(subject, new TextEncoder().encode('{}'));
      expect(await seen).toMatch(`PERMISSIONS_VIOLATION publish ${subject}`);
    }
  });

  it("the agent's own link (NKEY seed file) connects, and counts and logs what the server refuses", async () => {
    const seedFile = join(dir, 'n1.nk');
    writeFileSync(seedFile, `${new TextDecoder().decode(voterKey.getSeed())}\n`, { mode: 0o600 });
    const voterLines: string[] = [];
    const voter = new NatsLink({
      servers: [server.url],
      name: 'n1',
      ...natsSecurityOptions({ servers: [server.url], nkeySeedFile: seedFile }),
      logger: createLogger({ format: 'json', write: (l) => voterLines.push(l) }),
    });
    const lines: string[] = [];
    const agent = new NatsLink({
      servers: [server.url],
      name: 'a1',
      ...natsSecurityOptions({ servers: [server.url], user: 'a1', pass: password('a1') }),
      logger: createLogger({ format: 'json', write: (l) => lines.push(l) }),
    });
    try {
      expect(await voter.start(5000), voterLines.join('')).toBe(true);
      expect(await agent.start(5000), lines.join('')).toBe(true);
      // A voter may publish a Raft message; the agent may not, nor another node's report.
      voter.connection!.publish(s.raft('n2'), new TextEncoder().encode('{}'));
      agent.connection!.publish(s.report('a2'), new TextEncoder().encode('{}'));
      agent.connection!.publish(s.report('a2'), new TextEncoder().encode('{}'));
      agent.connection!.publish(s.cmd('a2'), new TextEncoder().encode('{}'));
      const deadline = performance.now() + 5000;
      while (agent.counters.permissionViolations < 3 && performance.now() < deadline)
        await sleep(50);
      expect(agent.counters.permissionViolations).toBe(3);
      await voter.connection!.flush();
      expect(voter.counters.permissionViolations).toBe(0);
      const logged = lines
        .map((l) => JSON.parse(l) as { msg: string; subject?: string; operation?: string })
        .filter((l) => l.msg === 'NATS permission violation');
      // Once per subject a minute: the repeated report is counted, not logged again.
      expect(logged.map((l) => `${l.operation} ${l.subject}`)).toEqual([
        `publish ${s.report('a2')}`,
        `publish ${s.cmd('a2')}`,
      ]);
      expect(lines.join('')).not.toContain(password('a1'));
    } finally {
      await agent.stop();
      await voter.stop();
    }
  });

  it("an agent cannot subscribe to another node's commands or to Raft", async () => {
    for (const subject of [s.cmd('a2'), s.raft('n1'), `${s.prefix}.>`]) {
      const nc = await as('a1');
      const seen = violation(nc);
      nc.subscribe(subject);
      expect(await seen).toMatch(/^PERMISSIONS_VIOLATION subscription /);
    }
  });

  it('the leader (a voter, NKEY) sends a command that the agent receives and answers', async () => {
    const agent = await as('a1');
    agent.subscribe(s.cmd('a1'), {
      callback: (_e, m) => m.respond(new TextEncoder().encode('done')),
    });
    const report = agent.subscribe(s.report('a1'), { max: 1 });
    await agent.flush();
    const voter = await asVoter();
    const reply = await voter.request(s.cmd('a1'), new TextEncoder().encode('{}'), {
      timeout: 2000,
    });
    expect(new TextDecoder().decode(reply.data)).toBe('done');
    // The agent's own report and the events subject are open to it.
    agent.publish(s.report('a1'), new TextEncoder().encode('r'));
    agent.publish(s.events, new TextEncoder().encode('e'));
    for await (const m of report) expect(new TextDecoder().decode(m.data)).toBe('r');
  });

  it('voters exchange Raft messages; an agent cannot inject one', async () => {
    const n2 = await as('n2');
    const got: string[] = [];
    n2.subscribe(s.raft('n2'), { callback: (_e, m) => got.push(new TextDecoder().decode(m.data)) });
    await n2.flush();
    const n1 = await asVoter();
    n1.publish(s.raft('n2'), new TextEncoder().encode('from-n1'));
    await n1.flush();
    const agent = await as('a2');
    agent.publish(s.raft('n2'), new TextEncoder().encode('forged'));
    await agent.flush();
    await sleep(200);
    expect(got).toEqual(['from-n1']);
  });

  it('API requests from an agent reach the voters (queue group) and come back', async () => {
    const n2 = await as('n2');
    n2.subscribe(s.api, {
      queue: 'api',
      callback: (_e, m) => m.respond(new TextEncoder().encode('ok')),
    });
    await n2.flush();
    const agent = await as('a1');
    const reply = await agent.request(s.api, new TextEncoder().encode('{}'), { timeout: 2000 });
    expect(new TextDecoder().decode(reply.data)).toBe('ok');
  });

  it('with per-node inboxes an agent reads only its own replies', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'cox-nats-inbox-'));
    const conf = natsServerConfig({
      cluster: 'lab',
      inboxes: 'per-node',
      nodes: [
        {
          id: 'n2',
          voter: true,
          credential: { kind: 'password', user: 'n2', password: password('n2') },
        },
        {
          id: 'a1',
          voter: false,
          credential: { kind: 'password', user: 'a1', password: password('a1') },
        },
      ],
    });
    const srv = await startNats(dir2, conf);
    try {
      const voter = await connect({
        servers: srv.url,
        user: 'n2',
        pass: password('n2'),
        inboxPrefix: inboxPrefixFor('n2'),
      });
      voter.subscribe(s.api, {
        queue: 'api',
        callback: (_e, m) => m.respond(new TextEncoder().encode('ok')),
      });
      await voter.flush();
      const agent = await connect({
        servers: srv.url,
        user: 'a1',
        pass: password('a1'),
        inboxPrefix: inboxPrefixFor('a1'),
      });
      const reply = await agent.request(s.api, new TextEncoder().encode('{}'), { timeout: 2000 });
      expect(new TextDecoder().decode(reply.data)).toBe('ok');
      const seen = violation(agent);
      agent.subscribe('_INBOX.>');
      expect(await seen).toMatch('PERMISSIONS_VIOLATION subscription _INBOX.>');
      await agent.close();
      await voter.close();
    } finally {
      await srv.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});

describe('mutual TLS (real nats-server, certificates made with openssl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cox-nats-tls-'));
  const f = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  /** A CA, and a certificate it signs (server or client). */
  const makeCa = (name: string): void => {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.pem`),
    );
  };
  const makeCert = (name: string, ca: string, ext: string): void => {
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
    );
    writeFileSync(f(`${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f(`${ca}.pem`),
      '-CAkey',
      f(`${ca}.key`),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.pem`),
    );
  };
  let server: Awaited<ReturnType<typeof startNats>>;

  beforeAll(async () => {
    makeCa('ca');
    makeCa('rogue-ca');
    makeCert(
      'server',
      'ca',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    makeCert('n1', 'ca', 'extendedKeyUsage=clientAuth\n');
    makeCert('mallory', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
    const conf = natsServerConfig({
      cluster: 'lab',
      nodes: [
        {
          id: 'n1',
          voter: true,
          credential: { kind: 'password', user: 'n1', password: password('n1') },
        },
      ],
      tls: {
        certFile: f('server.pem'),
        keyFile: f('server.key'),
        caFile: f('ca.pem'),
        verify: true,
      },
    });
    server = await startNats(dir, conf);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client with a certificate from the cluster CA connects and publishes', async () => {
    const nc = await connect({
      servers: server.url,
      user: 'n1',
      pass: password('n1'),
      tls: { caFile: f('ca.pem'), certFile: f('n1.pem'), keyFile: f('n1.key') },
    });
    nc.publish(s.report('n1'), new TextEncoder().encode('r'));
    await nc.flush();
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
  });

  it('a certificate from another CA, or none, is refused during the handshake', async () => {
    const attempt = (tls: object): Promise<unknown> =>
      connect({
        servers: server.url,
        user: 'n1',
        pass: password('n1'),
        tls,
        reconnect: false,
        timeout: 3000,
      }).then(
        async (nc) => {
          await nc.close();
          return 'connected';
        },
        (error: unknown) => error,
      );
    const rogue = await attempt({
      caFile: f('ca.pem'),
      certFile: f('mallory.pem'),
      keyFile: f('mallory.key'),
    });
    expect(rogue).toBeInstanceOf(Error);
    const none = await attempt({ caFile: f('ca.pem') });
    expect(none).toBeInstanceOf(Error);
    // The server names the cause in its log.
    await sleep(200);
    expect(server.log()).toMatch(/TLS handshake error/);
  });
});
