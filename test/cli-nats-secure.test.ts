// `coxswain nodes` and `coxswain service` against a nats-server configured as the lab's
// (TLS with client verification, a password per client, per-subject permissions): they
// connect with the agent's --nats-* flags and COXSWAIN_NATS_* variables, and say what is
// missing when the credentials are not given or wrong.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LabSecurity, makeLabSecurity } from '@coxswain/lab';
import { makeTempDir, NatsServer, removeDir } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const testDir = dirname(fileURLToPath(import.meta.url));
const bin = join(testDir, '../packages/cli/src/bin.ts');

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('COXSWAIN_NATS')),
  );
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx/esm', '--conditions=@coxswain/source', bin, ...args],
    { cwd: testDir, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

describe('CLI on a secure NATS', () => {
  let dir: string;
  let security: LabSecurity;
  let nats: NatsServer;

  beforeAll(async () => {
    dir = makeTempDir('cox-cli-sec-');
    security = await makeLabSecurity({
      dir,
      cluster: 'sec',
      voters: ['n1'],
      agents: [],
      serverAddresses: ['127.0.0.1'],
    });
    nats = await NatsServer.start({ extraConfig: security.serverConfig });
  }, 60_000);

  afterAll(async () => {
    await nats?.stop();
    if (dir) await removeDir(dir);
  });

  const tlsFlags = (c: LabSecurity['observer']) => [
    '--nats-ca',
    c.tls.caFile,
    '--nats-cert',
    c.tls.certFile,
    '--nats-key',
    c.tls.keyFile,
  ];

  it('nodes connects with the flags and COXSWAIN_NATS_USER/PASS', async () => {
    const o = security.observer;
    const r = await cli(
      [
        'nodes',
        '--cluster',
        'sec',
        '--nats',
        nats.url,
        '--wait',
        '300ms',
        '--json',
        ...tlsFlags(o),
      ],
      { COXSWAIN_NATS_USER: o.user, COXSWAIN_NATS_PASS: o.pass },
    );
    expect(r.code, r.out).toBe(0);
  }, 60_000);

  it('nodes takes the TLS files from COXSWAIN_NATS_TLS_* as well', async () => {
    const o = security.observer;
    const r = await cli(
      ['nodes', '--cluster', 'sec', '--nats', nats.url, '--wait', '300ms', '--json'],
      {
        COXSWAIN_NATS_USER: o.user,
        COXSWAIN_NATS_PASS: o.pass,
        COXSWAIN_NATS_TLS_CA: o.tls.caFile,
        COXSWAIN_NATS_TLS_CERT: o.tls.certFile,
        COXSWAIN_NATS_TLS_KEY: o.tls.keyFile,
      },
    );
    expect(r.code, r.out).toBe(0);
  }, 60_000);

  it('says the server wants TLS when no TLS files are given', async () => {
    const r = await cli(['nodes', '--cluster', 'sec', '--nats', nats.url, '--wait', '300ms']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/cannot connect to NATS at .*\(/);
  }, 60_000);

  it('says the credentials were refused when the password is wrong', async () => {
    const o = security.observer;
    const r = await cli(
      ['service', 'ls', '--cluster', 'sec', '--nats', nats.url, '--timeout', '2', ...tlsFlags(o)],
      { COXSWAIN_NATS_USER: o.user, COXSWAIN_NATS_PASS: 'wrong-password' },
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/refused these credentials/);
  }, 60_000);

  it('names a missing TLS file before connecting (exit 2)', async () => {
    const r = await cli(['service', 'ls', '--nats', nats.url, '--nats-ca', join(dir, 'nope.pem')]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/nope\.pem/);
  }, 60_000);
});
