/**
 * deploy/: every example config as the real tools read it. The agent configs go through the
 * loader `coxswain agent --config` uses (YAML, then COXSWAIN_* variables, then flags, then the
 * AgentConfig schema); the NATS configs through `nats-server -t`, the per-host one with the
 * authorization block `coxswain nats-config` writes; the systemd unit through
 * `systemd-analyze verify` (and its keys parsed); the compose file through `docker compose
 * config` where the plugin exists, and always through a schema of what the deployment relies
 * on (the services and images, the Docker socket, the NATS routes, the agent's config mount
 * being the file checked here). The TLS claims of deploy/README.md are checked against a real
 * TLS nats-server in deploy-nats-tls.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV_VARS, loadAgentConfig } from '@coxswain/agent';
import { AgentConfig, natsServerConfig } from '@coxswain/protocol';
import { makeTempDir, removeDir } from '@coxswain/testkit';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');
const TOKEN = 'a-test-token-of-24-chars';

/** KEY=VALUE lines of a systemd EnvironmentFile (comments and blanks skipped). */
function envFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.trim();
  }
  return env;
}

/** `[Section]` → key → values (a key may repeat), as systemd reads a unit file. */
function unitFile(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`unit line not understood: ${raw}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

/** nats-server -t -c FILE with the given environment; its complaint on failure. */
function natsTest(file: string, env: Record<string, string> = {}): string {
  const r = spawnSync('nats-server', ['-t', '-c', file], {
    cwd: dirname(file),
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  expect(r.status, `nats-server -t -c ${file}: ${r.stdout}${r.stderr}`).toBe(0);
  return `${r.stdout}${r.stderr}`;
}

/** The `routes: [...]` of a nats-server config's cluster block. */
function routesOf(conf: string): string[] {
  const block = /routes:\s*\[([^\]]*)\]/.exec(conf);
  return [...(block?.[1] ?? '').matchAll(/nats-route:\/\/[^\s,\]]+/g)].map((m) => m[0]);
}

/** The part of the compose file this deployment relies on; other keys pass through. */
const ComposeService = z.object({
  image: z.string(),
  build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
  command: z.array(z.string()),
  environment: z.record(z.string(), z.string()).default({}),
  volumes: z.array(z.string()).default([]),
  ports: z.array(z.string()).default([]),
  network_mode: z.string().optional(),
  networks: z.array(z.string()).optional(),
  depends_on: z.array(z.string()).optional(),
  restart: z.string(),
});
const ComposeFile = z.object({
  name: z.string(),
  services: z.record(z.string(), ComposeService),
  volumes: z.record(z.string(), z.unknown()).optional(),
  networks: z.record(z.string(), z.unknown()).optional(),
});

describe('deploy/compose', () => {
  const file = join(DEPLOY, 'compose/compose.yaml');
  const compose = ComposeFile.parse(parseYaml(readFileSync(file, 'utf8')));
  const natsNames = ['nats-1', 'nats-2', 'nats-3'];

  it("the agent's config is valid through the agent's loader, with the token from the environment", async () => {
    const path = join(DEPLOY, 'compose/agent.yaml');
    const config = await loadAgentConfig({ file: path, env: { COXSWAIN_API_TOKEN: TOKEN } });
    expect(config.api.token).toBe(TOKEN);
    expect(config.voters).toContain(config.nodeId);
    // Without the variable the file alone is valid too, and refuses writes: no secret in it.
    expect((await loadAgentConfig({ file: path })).api.token).toBeUndefined();
    // The fields a user must change are marked.
    const text = read('compose/agent.yaml');
    expect(text).toMatch(/# CHANGE[^\n]*\n(#[^\n]*\n)*nodeId:/);
    expect(text).toMatch(/# CHANGE[^\n]*\n(#[^\n]*\n)*address:/);
  });

  it('runs three NATS servers from one config that routes to all three, and nats-server accepts it', () => {
    const conf = read('compose/nats.conf');
    expect(routesOf(conf)).toEqual(natsNames.map((n) => `nats-route://${n}:6222`));
    for (const name of natsNames) {
      const s = compose.services[name]!;
      expect(s.image, name).toMatch(/^nats:2\.\d+/);
      expect(s.command, name).toEqual(['--config', '/etc/nats/nats.conf']);
      expect(s.volumes, name).toContain('./nats.conf:/etc/nats/nats.conf:ro');
      expect(s.environment.NATS_NAME, name).toBe(name);
      natsTest(join(DEPLOY, 'compose/nats.conf'), { NATS_NAME: name });
    }
  });

  it("mounts the Docker socket and the checked config into the agent, which reaches the servers' published ports", async () => {
    const agent = compose.services.agent!;
    expect(agent.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(agent.volumes).toContain('./agent.yaml:/etc/coxswain/agent.yaml:ro');
    expect(agent.command).toEqual(['agent', '--config', '/etc/coxswain/agent.yaml']);
    expect(agent.network_mode).toBe('host');
    expect(agent.environment.COXSWAIN_API_TOKEN).toMatch(/^\$\{COXSWAIN_API_TOKEN:\?/);
    expect(agent.depends_on).toEqual(natsNames);
    // The image is built from the repository with the Dockerfile checked below.
    expect(agent.build).toBeDefined();
    const context = resolve(DEPLOY, 'compose', agent.build!.context);
    expect(context).toBe(resolve(ROOT));
    expect(existsSync(join(context, agent.build!.dockerfile))).toBe(true);

    const config = await loadAgentConfig({
      file: join(DEPLOY, 'compose/agent.yaml'),
      env: { COXSWAIN_API_TOKEN: TOKEN },
    });
    expect(config.docker.socketPath).toBe('/var/run/docker.sock');
    // Fencing tokens and the Raft log live on the named volume.
    const dataMount = agent.volumes.find((v) => v.endsWith(`:${config.dataDir}`));
    expect(dataMount, agent.volumes.join(', ')).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(dataMount!.split(':')[0]);
    // Each server's client port is published on the host, and the agent lists all three.
    const published = natsNames.map((n) => {
      const port = compose.services[n]!.ports.find((p) => p.endsWith(':4222'));
      expect(port, n).toBeDefined();
      return `nats://127.0.0.1:${port!.split(':')[0]}`;
    });
    expect(config.nats.servers).toEqual(published);
  });

  it('passes `docker compose config` where the compose plugin is installed', () => {
    const version = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (version.status !== 0) {
      // This machine has the engine's CLI without the plugin: the schema above is the check.
      expect(`${version.stdout}${version.stderr}`).toMatch(/compose|not found|unknown/i);
      return;
    }
    const r = spawnSync('docker', ['compose', '-f', file, 'config', '--quiet'], {
      env: { ...process.env, COXSWAIN_API_TOKEN: TOKEN },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('deploy/agent.Dockerfile', () => {
  const text = read('agent.Dockerfile');

  it('builds the CLI from the repository on node:20-slim with pnpm and runs the agent on the mounted config', () => {
    expect(text.match(/^FROM node:20-slim\b/gm)).toHaveLength(2);
    expect(text).toMatch(/^RUN pnpm install --frozen-lockfile$/m);
    expect(text).toMatch(/^RUN pnpm --filter @coxswain\/cli run build$/m);
    expect(text).toContain('docker build -f deploy/agent.Dockerfile');
    expect(text).toMatch(/^ENTRYPOINT \["coxswain"\]$/m);
    expect(text).toMatch(/^CMD \["agent", "--config", "\/etc\/coxswain\/agent\.yaml"\]$/m);
    // The host's installs and builds stay out of the build context.
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    expect(ignore).toMatch(/^\*\*\/node_modules$/m);
    expect(ignore).toMatch(/^\*\*\/dist$/m);
    // The CLI it links to is the package's bin.
    const cli = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8'));
    expect(text).toContain(`/opt/coxswain/${cli.bin.coxswain.replace(/^\.\//, '')}`);
  });
});

describe('deploy/systemd', () => {
  const unitText = read('systemd/coxswain-agent.service');
  const unit = unitFile(unitText);
  const service = unit.get('Service')!;
  const one = (section: string, key: string) => unit.get(section)?.get(key)?.at(-1);
  const words = (section: string, key: string) =>
    (unit.get(section)?.get(key) ?? []).flatMap((v) => v.split(/\s+/));

  it('the example /etc/coxswain/agent.yaml with agent.env is valid through the agent loader', async () => {
    const env = envFile(read('systemd/agent.env'));
    expect(Object.keys(env).sort()).toEqual(['COXSWAIN_API_TOKEN', 'COXSWAIN_NATS_PASS']);
    const config = await loadAgentConfig({ file: join(DEPLOY, 'systemd/agent.yaml'), env });
    expect(config.api.token).toBe(env.COXSWAIN_API_TOKEN);
    expect(config.nats.pass).toBe(env.COXSWAIN_NATS_PASS);
    expect(config.nats.user).toBe(config.nodeId);
    expect(config.voters).toHaveLength(3);
    expect(config.voters).toContain(config.nodeId);
    expect(config.nats.servers).toHaveLength(3);
    // The unit's StateDirectory is the agent's dataDir.
    expect(config.dataDir).toBe(`/var/lib/${one('Service', 'StateDirectory')}`);
    // Another host's agent is the same file with its own id, address and user (flags here).
    const hostB = await loadAgentConfig({
      file: join(DEPLOY, 'systemd/agent.yaml'),
      env,
      flags: { nodeId: 'host-b', address: '10.0.0.12', 'nats.user': 'host-b' },
    });
    expect(hostB.voters).toContain(hostB.nodeId);
    // The loader names the file and field of a mistake: a sixth voter is refused.
    await expect(
      loadAgentConfig({
        file: join(DEPLOY, 'systemd/agent.yaml'),
        env: { ...env, COXSWAIN_VOTERS: 'a,b,c,d,e,f' },
      }),
    ).rejects.toThrow(
      /agent\.yaml: invalid agent config: at voters: .*\(set by env COXSWAIN_VOTERS\)/,
    );
    const text = read('systemd/agent.yaml');
    for (const field of ['nodeId', 'address', 'voters', 'servers', 'user'])
      expect(text, field).toMatch(new RegExp(`# CHANGE[^\\n]*\\n(\\s*#[^\\n]*\\n)*\\s*${field}:`));
  });

  it('runs `coxswain agent --config /etc/coxswain/agent.yaml` after docker and the network, restarts on failure, hardened but with the socket', () => {
    expect(one('Service', 'ExecStart')).toBe(
      '/usr/local/bin/coxswain agent --config /etc/coxswain/agent.yaml',
    );
    expect(one('Service', 'Restart')).toBe('on-failure');
    for (const key of ['After', 'Wants'])
      expect(words('Unit', key).sort(), key).toEqual(['docker.service', 'network-online.target']);
    expect(one('Install', 'WantedBy')).toBe('multi-user.target');
    expect(one('Service', 'EnvironmentFile')).toBe('-/etc/coxswain/agent.env');
    // Hardening, and what the Docker socket needs through it.
    expect(one('Service', 'ProtectSystem')).toBe('strict');
    expect(one('Service', 'NoNewPrivileges')).toBe('yes');
    expect(one('Service', 'CapabilityBoundingSet')).toBe('');
    expect(words('Service', 'SupplementaryGroups')).toContain('docker');
    expect(words('Service', 'RestrictAddressFamilies')).toEqual(
      expect.arrayContaining(['AF_UNIX', 'AF_INET', 'AF_INET6']),
    );
    // Node's JIT needs writable executable memory; the container's /proc entries must show.
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
    expect(service.has('ProtectProc')).toBe(false);
    // A socket bound in with ReadWritePaths would go stale when dockerd restarts.
    expect(unitText).not.toMatch(/^ReadWritePaths=.*docker\.sock/m);
  });

  it('passes `systemd-analyze verify`, and `systemd-analyze security` rates its exposure low', async () => {
    // An alternate root: this machine's unit library, the unit, and an executable where
    // ExecStart looks (verify checks it exists), so the result does not depend on what is
    // installed in /usr/local/bin here.
    const root = makeTempDir('cox-unit-');
    try {
      mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
      cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), {
        recursive: true,
        verbatimSymlinks: true,
      });
      mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
      writeFileSync(join(root, 'usr/local/bin/coxswain'), '#!/bin/sh\n', { mode: 0o755 });
      mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
      copyFileSync(
        join(DEPLOY, 'systemd/coxswain-agent.service'),
        join(root, 'etc/systemd/system/coxswain-agent.service'),
      );
      const verify = spawnSync(
        'systemd-analyze',
        ['verify', `--root=${root}`, 'coxswain-agent.service'],
        { encoding: 'utf8' },
      );
      expect(verify.error, 'systemd-analyze: apt-get install -y systemd').toBeUndefined();
      expect(verify.status, verify.stderr).toBe(0);
      // Unknown keys and bad values are only warnings: there must be none.
      expect(verify.stderr).toBe('');
      const security = execFileSync(
        'systemd-analyze',
        ['security', '--offline=yes', `--root=${root}`, 'coxswain-agent.service'],
        { encoding: 'utf8' },
      );
      const exposure = /Overall exposure level for coxswain-agent\.service: ([\d.]+)/.exec(
        security,
      );
      expect(exposure, security.slice(-500)).not.toBeNull();
      expect(Number(exposure![1])).toBeLessThanOrEqual(2.5);
    } finally {
      await removeDir(root);
    }
  });
});

describe('deploy/nats', () => {
  it("one host's NATS server routes to every server the agents list, and nats-server accepts it with coxswain's authorization block", async () => {
    const conf = read('nats/nats-server.conf');
    const env = envFile(read('systemd/agent.env'));
    const config = await loadAgentConfig({ file: join(DEPLOY, 'systemd/agent.yaml'), env });
    const hosts = config.nats.servers.map((u) => new URL(u).hostname);
    expect(routesOf(conf)).toEqual(hosts.map((h) => `nats-route://${h}:6222`));
    expect(config.nats.servers.map((u) => new URL(u).port)).toEqual(['4222', '4222', '4222']);
    expect(conf).toMatch(/^listen: 0\.0\.0\.0:4222$/m);
    expect(conf).toMatch(/^http: 0\.0\.0\.0:8222$/m);
    expect(conf).toMatch(/^include nats-auth\.conf$/m);
    // The block `coxswain nats-config --auth password` writes for these voters and this cluster.
    const dir = makeTempDir('cox-natsconf-');
    try {
      copyFileSync(join(DEPLOY, 'nats/nats-server.conf'), join(dir, 'nats-server.conf'));
      writeFileSync(
        join(dir, 'nats-auth.conf'),
        natsServerConfig({
          cluster: config.cluster,
          nodes: config.voters.map((id) => ({
            id,
            voter: true,
            credential: { kind: 'password', user: id, password: `${id}-password-16-chars` },
          })),
        }),
      );
      expect(natsTest(join(dir, 'nats-server.conf'))).toContain('is valid');
    } finally {
      await removeDir(dir);
    }
    // The README's command makes that block for the agents' cluster name.
    expect(conf).toContain(`--cluster ${config.cluster}`);
  });
});

describe('deploy/README.md', () => {
  const readme = read('README.md');

  it("lists every port to open, the API's as AgentConfig defaults it", () => {
    const apiPort = AgentConfig.parse({ nodeId: 'x' }).api.port;
    for (const port of [4222, 6222, 8222, apiPort])
      expect(readme, String(port)).toMatch(new RegExp(`\\| ${port}/tcp \\|`));
  });

  it('documents the TLS and credential options AgentConfig has, and only those', () => {
    const nats = AgentConfig.shape.nats.unwrap().shape;
    const api = AgentConfig.shape.api.unwrap().shape;
    expect(Object.keys(nats).sort()).toEqual([
      'credsFile',
      'nkeySeedFile',
      'pass',
      'servers',
      'tls',
      'token',
      'user',
    ]);
    expect(Object.keys(nats.tls.unwrap().shape).sort()).toEqual(['caFile', 'certFile', 'keyFile']);
    expect(Object.keys(api).sort()).toEqual(['host', 'port', 'token']);
    for (const field of [
      'nats.user',
      'nats.pass',
      'nats.token',
      'nats.tls.caFile',
      'nats.tls.certFile',
      'nats.tls.keyFile',
      'nats.nkeySeedFile',
      'nats.credsFile',
      'api.token',
    ])
      expect(readme, field).toContain(`\`${field}\``);
    // Every variable the agent reads for them is documented beside its field.
    for (const name of Object.keys(ENV_VARS).filter((n) =>
      /^COXSWAIN_NATS_(TLS|NKEY|CREDS)/.test(n),
    ))
      expect(readme, name).toContain(`\`${name}\``);
    expect(readme).toContain('NODE_EXTRA_CA_CERTS');
    expect(readme).toMatch(/not supported yet/i);
  });
});
