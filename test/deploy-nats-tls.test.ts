/**
 * What deploy/README.md says about NATS over TLS, against a real nats-server and the built
 * `coxswain agent`: an agent reaches a server that requires TLS when the server's CA is in
 * NODE_EXTRA_CA_CERTS (Node's CA store) or in `nats.tls.caFile`, and refuses the server without
 * either; a server that demands client certificates
 * (mutual TLS) takes the agent's `nats.tls.certFile`/`keyFile` (here from COXSWAIN_NATS_TLS_*),
 * and refuses none or one from another CA, which the agent's log names in words (nats.js alone
 * says TIMEOUT). Certificates come from openssl, made per run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, pollUntil, removeDir, run, terminate } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));

const ssl = (...args: string[]) => run('openssl', args);

/** A self-signed CA `<name>.pem` with its key `<name>.key`. */
async function makeCa(dir: string, name: string): Promise<void> {
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.pem`),
  );
}

/** A client certificate `<name>.pem` (key `<name>.key`) signed by CA `ca`, for TLS client auth. */
async function makeClientCertificate(dir: string, name: string, ca: string): Promise<void> {
  await ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.csr`),
  );
  writeFileSync(join(dir, `${name}.cnf`), 'extendedKeyUsage=clientAuth\n');
  await ssl(
    'x509',
    '-req',
    '-days',
    '1',
    '-in',
    join(dir, `${name}.csr`),
    '-CA',
    join(dir, `${ca}.pem`),
    '-CAkey',
    join(dir, `${ca}.key`),
    '-CAcreateserial',
    '-extfile',
    join(dir, `${name}.cnf`),
    '-out',
    join(dir, `${name}.pem`),
  );
}

/** A CA, a server certificate it signed for localhost (DNS and IP), and client certificates. */
async function makeCertificates(dir: string): Promise<void> {
  await makeCa(dir, 'ca');
  await ssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    join(dir, 'server.key'),
    '-out',
    join(dir, 'server.csr'),
  );
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await ssl(
    'x509',
    '-req',
    '-days',
    '1',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-extfile',
    join(dir, 'ext.cnf'),
    '-out',
    join(dir, 'server.pem'),
  );
  await makeClientCertificate(dir, 'agent', 'ca');
  // The same name, from a CA the server does not trust: what a stolen-name impostor has.
  await makeCa(dir, 'rogue-ca');
  await makeClientCertificate(dir, 'rogue', 'rogue-ca');
}

interface TlsNats {
  readonly port: number;
  readonly child: ChildProcess;
}

/** nats-server requiring TLS (and client certificates when `verifyClients`), on a free port. */
async function startTlsNats(dir: string, name: string, verifyClients: boolean): Promise<TlsNats> {
  const own = join(dir, name);
  writeFileSync(
    join(dir, `${name}.conf`),
    [
      'listen: 127.0.0.1:-1',
      `ports_file_dir: ${JSON.stringify(dir)}`,
      'tls {',
      `  cert_file: ${JSON.stringify(join(dir, 'server.pem'))}`,
      `  key_file: ${JSON.stringify(join(dir, 'server.key'))}`,
      ...(verifyClients
        ? [`  ca_file: ${JSON.stringify(join(dir, 'ca.pem'))}`, '  verify: true']
        : []),
      '  timeout: 2',
      '}',
    ].join('\n'),
  );
  const before = new Set(readdirSync(dir));
  const child = spawn('nats-server', ['-c', join(dir, `${name}.conf`)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const file = await pollUntil(
    `nats-server ${own} to write its ports file (${stderr})`,
    () => readdirSync(dir).find((f) => f.endsWith('.ports') && !before.has(f)),
    10_000,
  );
  const ports = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nats: string[] };
  return { port: Number(new URL(ports.nats[0]!).port), child };
}

/**
 * Runs the agent against `url` until its log says it connected or could not, and stops it.
 * No Docker engine is needed for this: the agent retries the engine in the background.
 */
async function agentOutcome(
  dir: string,
  url: string,
  env: NodeJS.ProcessEnv,
  natsExtra = '',
): Promise<{ connected: boolean; log: string }> {
  const id = `tls-${Math.random().toString(36).slice(2, 8)}`;
  const config = join(dir, `${id}.yaml`);
  writeFileSync(
    config,
    [
      `nodeId: ${id}`,
      `nats: { servers: [${JSON.stringify(url)}]${natsExtra} }`,
      `docker: { socketPath: ${JSON.stringify(join(dir, 'no-engine.sock'))} }`,
      `dataDir: ${JSON.stringify(join(dir, id))}`,
      'api: { host: 127.0.0.1, port: 0 }',
      'log: { format: json }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [CLI, 'agent', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let log = '';
  for (const s of [child.stdout!, child.stderr!])
    s.setEncoding('utf8').on('data', (d: string) => {
      log += d;
    });
  try {
    const connected = await pollUntil(
      `agent ${id} to connect to ${url} or fail`,
      () =>
        log.includes('"msg":"connected to NATS"')
          ? true
          : log.includes('"msg":"NATS not reachable; retrying"')
            ? false
            : undefined,
      20_000,
    );
    return { connected, log };
  } finally {
    await terminate(child);
  }
}

describe('the agent and a NATS server that requires TLS', () => {
  let dir: string;
  const servers: TlsNats[] = [];
  // The agent's environment without any CA setting of the machine's own.
  const baseEnv = { ...process.env };
  delete baseEnv.NODE_EXTRA_CA_CERTS;

  beforeAll(async () => {
    expect(existsSync(CLI), `${CLI} missing: run pnpm exec tsc --build first`).toBe(true);
    dir = makeTempDir('cox-tls-');
    await makeCertificates(dir);
  });
  afterAll(async () => {
    for (const s of servers) await terminate(s.child);
    if (dir) await removeDir(dir);
  });

  it('connects with the CA in NODE_EXTRA_CA_CERTS, and refuses the server without it', async () => {
    const nats = await startTlsNats(dir, 'tls', false);
    servers.push(nats);
    const url = `nats://localhost:${nats.port}`;
    const trusted = await agentOutcome(dir, url, {
      ...baseEnv,
      NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
    });
    expect(trusted.connected, trusted.log).toBe(true);
    const untrusted = await agentOutcome(dir, url, baseEnv);
    expect(untrusted.connected, untrusted.log).toBe(false);
    expect(untrusted.log).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/);
  });

  it('trusts the CA in nats.tls.caFile without NODE_EXTRA_CA_CERTS', async () => {
    const nats = await startTlsNats(dir, 'tls-ca', false);
    servers.push(nats);
    const outcome = await agentOutcome(
      dir,
      `nats://localhost:${nats.port}`,
      baseEnv,
      `, tls: { caFile: ${JSON.stringify(join(dir, 'ca.pem'))} }`,
    );
    expect(outcome.connected, outcome.log).toBe(true);
  });

  it('connects to a server that verifies clients with its client certificate (mutual TLS)', async () => {
    const nats = await startTlsNats(dir, 'mtls', true);
    servers.push(nats);
    const url = `nats://localhost:${nats.port}`;
    // The certificate and key from the environment, as agent.env would set them.
    const outcome = await agentOutcome(dir, url, {
      ...baseEnv,
      COXSWAIN_NATS_TLS_CA: join(dir, 'ca.pem'),
      COXSWAIN_NATS_TLS_CERT: join(dir, 'agent.pem'),
      COXSWAIN_NATS_TLS_KEY: join(dir, 'agent.key'),
    });
    expect(outcome.connected, outcome.log).toBe(true);
    // The key's contents never reach the log.
    const keyBody = readFileSync(join(dir, 'agent.key'), 'utf8').split('\n')[1]!;
    expect(outcome.log).not.toContain(keyBody);
  });

  it('is refused without a client certificate, or with one the server does not trust, and says so', async () => {
    const nats = await startTlsNats(dir, 'mtls-refuse', true);
    servers.push(nats);
    const url = `nats://localhost:${nats.port}`;
    const ca = `caFile: ${JSON.stringify(join(dir, 'ca.pem'))}`;
    const none = await agentOutcome(dir, url, baseEnv, `, tls: { ${ca} }`);
    expect(none.connected, none.log).toBe(false);
    expect(none.log).toContain('"tlsRefused":"ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"');
    expect(none.log).toContain('the server requires a client certificate (mutual TLS)');
    const rogue = await agentOutcome(
      dir,
      url,
      baseEnv,
      `, tls: { ${ca}, certFile: ${JSON.stringify(join(dir, 'rogue.pem'))}, keyFile: ${JSON.stringify(join(dir, 'rogue.key'))} }`,
    );
    expect(rogue.connected, rogue.log).toBe(false);
    expect(rogue.log).toContain("the server refused this node's client certificate");
  });
});
