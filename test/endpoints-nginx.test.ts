/**
 * Endpoints for load balancers, end to end with real parts: two agents (one
 * voter, one client node) each drive a real dockerd that runs inside a
 * simulated host (a network namespace with its own address on a lab bridge,
 * and its own docker0 so ports publish), busybox httpd replicas publish their container port on
 * host ports Docker picks, and a real nginx in the root namespace proxies to
 * the upstream block that `coxswain endpoints --watch` keeps current and
 * reloads. A replica added receives traffic; removed ones stop receiving it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent } from '@coxswain/agent';
import { ApiClient, ApiRequestError } from '@coxswain/client';
import { AgentConfig, LABELS, type ServiceSpecInput } from '@coxswain/protocol';
import { createLogger } from '@coxswain/telemetry';
import {
  API_TOKEN,
  BUSYBOX_IMAGE,
  Dockerd,
  ensureBusyboxImage,
  freePort,
  HostNetwork,
  NatsServer,
  run,
  type SimHost,
  waitFor,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The CLI as a user runs it, from source (as load-cli.test.ts does).
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CLI = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
const SERVICE = 'web';

/**
 * Each replica answers with its hostname (Docker sets it to the container id's
 * first 12 characters), so a response says which replica served it. The trap
 * makes `docker stop` quick: httpd as pid 1 would ignore SIGTERM.
 */
const spec: ServiceSpecInput = {
  name: SERVICE,
  image: BUSYBOX_IMAGE,
  command: [
    'sh',
    '-c',
    'mkdir -p /www && echo "$HOSTNAME" > /www/index.html && trap "exit 0" TERM && httpd -f -p 8080 -h /www & wait',
  ],
  ports: [{ containerPort: 8080 }],
  minReplicas: 0,
  maxReplicas: 5,
};

describe('endpoints: the route on real agents and dockerds on two hosts, and a real nginx kept current', () => {
  let net: HostNetwork;
  let host: SimHost;
  let host2: SimHost;
  let nats: NatsServer;
  let dockerd: Dockerd;
  let dockerd2: Dockerd;
  let agent: Agent;
  let agent2: Agent;
  let client: ApiClient;
  let apiUrl: string;
  let dataDir: string;
  let dataDir2: string;
  let nginxDir: string;
  let nginxPort: number;
  let nginx: ChildProcess | undefined;
  let watcher: ChildProcess | undefined;
  let watcherLog = '';

  /** The hostnames of the service's running replicas, from the engine itself. */
  const runningReplicas = async (): Promise<Set<string>> => {
    const out = new Set<string>();
    for (const d of [dockerd, dockerd2]) {
      const list = await d.docker.listContainers({
        filters: { label: [`${LABELS.service}=${SERVICE}`], status: ['running'] },
      });
      for (const c of list) out.add(c.Id.slice(0, 12));
    }
    return out;
  };

  /**
   * One request, sent again (at most twice) when the kept-alive connection it went out on was
   * closed before any answer: a reload's old nginx worker closes its idle connections as it
   * exits, and fetch, unlike a browser, does not retry on a fresh one. No answer is hidden: a 502
   * or any other status is still counted.
   */
  const fetchOnce = async (url: string): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetch(url);
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code;
        if (code !== 'UND_ERR_SOCKET' || attempt >= 2) throw error;
      }
    }
  };

  /** Who answered `n` requests through nginx (non-200 answers are counted by status). */
  const through = async (n: number): Promise<Map<string, number>> => {
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const res = await fetchOnce(`http://127.0.0.1:${nginxPort}/`);
      const key = res.status === 200 ? (await res.text()).trim() : `status ${res.status}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    return seen;
  };

  const nginxArgs = () => ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf')];

  beforeAll(async () => {
    net = await HostNetwork.create();
    host = await net.addHost('ep1');
    host2 = await net.addHost('ep2');
    nats = await NatsServer.start();
    // The kit's engines run without a bridge; inside its own namespace each one
    // may have its docker0 (no clash with other engines), which port publishing needs.
    const engine = async (h: SimHost, bip: string) => {
      const d = await Dockerd.start({ netns: h.netns, extraArgs: ['--bridge=', `--bip=${bip}`] });
      await ensureBusyboxImage(d.docker);
      return d;
    };
    [dockerd, dockerd2] = await Promise.all([
      engine(host, '172.31.251.1/24'),
      engine(host2, '172.31.252.1/24'),
    ]);
    dataDir = mkdtempSync(join(tmpdir(), 'cox-endpoints-'));
    dataDir2 = mkdtempSync(join(tmpdir(), 'cox-endpoints-'));
    // ep1 is the one voter; ep2 a client node, whose replicas count the same.
    const configOf = (nodeId: string, h: SimHost, d: Dockerd, dir: string) =>
      AgentConfig.parse({
        cluster: 'ep',
        nodeId,
        voters: ['ep1'],
        // The advertised address: where the published ports are reachable from outside the host.
        address: h.ip,
        nats: { servers: [nats.url] },
        docker: { socketPath: d.socketPath },
        dataDir: dir,
        api: { host: '127.0.0.1', port: 0, token: API_TOKEN },
        sampleIntervalMs: 250,
        decideIntervalMs: 250,
      });
    const logger = createLogger({ level: 'error', write: () => {} });
    agent = await Agent.start(configOf('ep1', host, dockerd, dataDir), { logger });
    agent2 = await Agent.start(configOf('ep2', host2, dockerd2, dataDir2), { logger });
    apiUrl = `http://127.0.0.1:${agent.http.port}`;
    client = new ApiClient({ baseUrl: apiUrl, token: API_TOKEN });
    await waitFor('the member leading', () =>
      agent.member?.coordinator?.leading ? true : undefined,
    );
    await waitFor(
      'the service applied',
      async () => ((await client.applyService(spec)).ok ? true : undefined),
      60_000,
      500,
    );
    await client.scaleService(SERVICE, 2);
  }, 180_000);

  afterAll(async () => {
    watcher?.kill('SIGTERM');
    if (nginx?.pid !== undefined && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      await new Promise((resolve) => nginx?.once('exit', resolve));
    }
    await agent2?.stop();
    await agent?.stop();
    await dockerd2?.stop();
    await dockerd?.stop();
    await nats?.stop();
    await net?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (dataDir2) rmSync(dataDir2, { recursive: true, force: true });
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
  }, 120_000);

  it('lists running replicas at the host address and their published ports, with the applied index', async () => {
    const reply = await waitFor(
      '2 endpoints',
      async () => {
        const r = await client.endpoints(SERVICE);
        return r.endpoints.length === 2 ? r : undefined;
      },
      90_000,
      250,
    );
    expect(reply.service).toBe(SERVICE);
    expect(reply.containerPort).toBe(8080);
    expect(reply.meta.appliedIndex).toBeGreaterThan(0);
    // Each port is the one the engine published for that replica.
    for (const e of reply.endpoints) {
      const [h, d] = e.node === 'ep1' ? [host, dockerd] : [host2, dockerd2];
      expect(e.address).toBe(h.ip);
      const info = await d.docker.getContainer(e.container).inspect();
      expect(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort).toBe(String(e.port));
      // And reachable from outside the host at that address.
      const res = await fetch(`http://${e.address}:${e.port}/`);
      expect((await res.text()).trim()).toBe(info.Id.slice(0, 12));
    }
    expect(new Set(reply.endpoints.map((e) => `${e.address}:${e.port}`)).size).toBe(2);

    const missing = await client.endpoints('nope').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ApiRequestError);
    expect((missing as ApiRequestError).status).toBe(404);
    const badPort = await client.endpoints(SERVICE, { port: '9999' }).catch((e: unknown) => e);
    expect((badPort as ApiRequestError).status).toBe(400);
    expect((badPort as ApiRequestError).serverCode).toBe('COX_INVALID_PAYLOAD');
    expect((badPort as ApiRequestError).issues[0]?.path).toBe('query.port');
  }, 120_000);

  it('nginx in front: an added replica receives traffic, removed ones stop receiving it, none answers 502', async () => {
    nginxDir = mkdtempSync(join(tmpdir(), 'cox-nginx-'));
    nginxPort = await freePort();
    const upstreamFile = join(nginxDir, 'web-upstream.conf');
    writeFileSync(
      join(nginxDir, 'nginx.conf'),
      `worker_processes 1;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${nginxDir}/body;
  proxy_temp_path ${nginxDir}/proxy;
  fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi;
  scgi_temp_path ${nginxDir}/scgi;
  include ${upstreamFile};
  server {
    listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://${SERVICE}; }
  }
}
`,
    );
    // One render before nginx starts: its config must include a valid upstream.
    // The same command the watcher runs below, without --watch.
    const render = [
      '--import',
      tsx,
      CLI,
      'endpoints',
      SERVICE,
      '--api',
      apiUrl,
      '--format',
      'nginx',
      '-o',
      upstreamFile,
    ];
    const once = await run('node', render);
    expect(once.code, once.stderr).toBe(0);
    expect(readFileSync(upstreamFile, 'utf8')).toMatch(/upstream web \{\n {2}server [\d.]+:\d+;/);
    nginx = spawn('nginx', [...nginxArgs(), '-g', 'daemon off;'], { stdio: 'ignore' });
    await waitFor(
      'nginx answering',
      async () => {
        const r = await fetch(`http://127.0.0.1:${nginxPort}/`).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      },
      30_000,
      100,
    );

    watcher = spawn(
      'node',
      [
        ...render,
        '--watch',
        '--interval',
        '300ms',
        '--exec',
        // "reloaded" only once nginx took the signal: the log counts successful reloads.
        `nginx ${nginxArgs().join(' ')} -s reload && echo reloaded`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    watcher.stdout?.on('data', (d: Buffer) => {
      watcherLog += d.toString();
    });
    watcher.stderr?.on('data', (d: Buffer) => {
      watcherLog += d.toString();
    });

    const two = await runningReplicas();
    expect(two.size).toBe(2);
    const before = await through(20);
    expect(new Set(before.keys()), `answers ${JSON.stringify([...before])}`).toEqual(two);

    // Added: the third replica shows up in nginx's answers once the watcher reloaded it.
    await client.scaleService(SERVICE, 3);
    const three = await waitFor(
      '3 running replicas',
      async () => {
        const r = await runningReplicas();
        return r.size === 3 ? r : undefined;
      },
      90_000,
      250,
    );
    const added = [...three].find((id) => !two.has(id))!;
    await waitFor(
      'the added replica receiving traffic through nginx',
      async () => ((await through(12)).has(added) ? true : undefined),
      60_000,
      200,
    );
    expect(watcherLog).toContain('reloaded');
    // Replicas on both hosts are in the upstream, each behind its own host's address.
    const spread = await client.endpoints(SERVICE);
    expect(new Set(spread.endpoints.map((e) => e.node))).toEqual(new Set(['ep1', 'ep2']));
    expect(readFileSync(upstreamFile, 'utf8')).toContain(`server ${host2.ip}:`);

    // Removed: down to one; once reloaded, every answer comes from the one left.
    await client.scaleService(SERVICE, 1);
    const one = await waitFor(
      '1 running replica',
      async () => {
        const r = await runningReplicas();
        return r.size === 1 ? r : undefined;
      },
      90_000,
      250,
    );
    const [kept] = [...one];
    // nginx retries a refused connection on the next server, so answers alone
    // could look right before the reload: wait for the rewritten upstream first.
    await waitFor(
      'the upstream rewritten to one server',
      () => (readFileSync(upstreamFile, 'utf8').match(/server /g)?.length === 1 ? true : undefined),
      60_000,
      200,
    );
    await waitFor(
      'only the kept replica answering',
      async () => {
        const seen = await through(12);
        return seen.size === 1 && seen.has(kept!) ? true : undefined;
      },
      60_000,
      200,
    );
    const after = await through(30);
    expect([...after]).toEqual([[kept, 30]]);
    expect(watcherLog.match(/reloaded/g)?.length).toBeGreaterThanOrEqual(2);

    // None left: the placeholder keeps nginx's config valid (the reload succeeds) and it answers 502.
    const reloads = () => watcherLog.match(/reloaded/g)?.length ?? 0;
    const reloadsBefore = reloads();
    await client.scaleService(SERVICE, 0);
    await waitFor(
      'the upstream rewritten to the placeholder',
      () => (readFileSync(upstreamFile, 'utf8').includes(' down;') ? true : undefined),
      90_000,
      200,
    );
    await waitFor(
      'nginx reloaded with it',
      () => (reloads() > reloadsBefore ? true : undefined),
      30_000,
      100,
    );
    await waitFor(
      'nginx answering 502',
      async () => {
        const seen = await through(6);
        return seen.size === 1 && seen.has('status 502') ? true : undefined;
      },
      60_000,
      200,
    );
    expect(watcherLog).not.toMatch(/--exec exited/);
    expect(watcher.exitCode).toBeNull();
  }, 300_000);
});
