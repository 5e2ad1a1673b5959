import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandAuth, signingKeyPath } from '@coxswain/nats-link';
import {
  AgentConfig,
  generateSigningKeyPair,
  PROTOCOL_VERSION,
  publicKeyToBase64,
  type ScaleCommand,
  ServiceSpec,
} from '@coxswain/protocol';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(nodeId: string, security: Record<string, unknown> = {}, dataDir?: string) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'cox-auth-'));
  if (!dataDir) dirs.push(dir);
  return AgentConfig.parse({ nodeId, cluster: 'c', voters: ['v1', 'v2'], dataDir: dir, security });
}

const command = (leaderId: string): ScaleCommand => ({
  v: PROTOCOL_VERSION,
  id: 'web.5.n1',
  service: 'web',
  spec: ServiceSpec.parse({ name: 'web', image: 'x' }),
  specVersion: 1,
  replicas: 2,
  token: 5,
  term: 1,
  leaderId,
  issuedAt: 0,
});

describe('commandAuth', () => {
  it('a voter generates its key once (0600) and keeps it across restarts', () => {
    const c = config('v1');
    const first = commandAuth(c);
    expect(first.generated).toBe(true);
    expect(statSync(signingKeyPath(c)).mode & 0o777).toBe(0o600);
    const again = commandAuth(c);
    expect(again.generated).toBe(false);
    expect(again.publicKey).toBe(first.publicKey);
    expect(commandAuth(config('n1')).signingKey).toBeUndefined();
  });

  it('with voterKeys, admits a voter-signed command and refuses the rest by code', () => {
    const v1 = config('v1');
    const v1Key = commandAuth(v1).publicKey!;
    const outsider = generateSigningKeyPair();
    // n9 is listed but not a voter: its key must not count.
    const agent = commandAuth(
      config('n1', { voterKeys: { v1: v1Key, n9: publicKeyToBase64(outsider.publicKey) } }),
    );
    expect(agent.authenticate).toBeDefined();
    const signed = commandAuth(v1).sign(command('v1'), 'n1');
    expect(agent.authenticate!(signed)).toBeUndefined();
    expect(agent.authenticate!(command('v1'))?.code).toBe('COX_SIG_MISSING');
    expect(agent.authenticate!({ ...signed, token: 1_000_000_000 })?.code).toBe('COX_SIG_INVALID');
    // Signed for another node: refused here.
    expect(agent.authenticate!(commandAuth(v1).sign(command('v1'), 'n2'))?.code).toBe(
      'COX_SIG_INVALID',
    );
    const n9dir = mkdtempSync(join(tmpdir(), 'cox-auth-'));
    dirs.push(n9dir);
    const n9file = join(n9dir, 'k.pem');
    writeFileSync(n9file, outsider.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const n9 = AgentConfig.parse({
      nodeId: 'n9',
      cluster: 'c',
      voters: ['v1', 'v2', 'n9'],
      dataDir: n9dir,
      security: { signingKeyFile: n9file },
    });
    expect(agent.authenticate!(commandAuth(n9).sign(command('n9'), 'n1'))?.code).toBe(
      'COX_SIG_UNKNOWN_SIGNER',
    );
  });

  it('is off without voterKeys, and can be turned off explicitly', () => {
    expect(commandAuth(config('n1')).authenticate).toBeUndefined();
    const key = publicKeyToBase64(generateSigningKeyPair().publicKey);
    expect(
      commandAuth(config('n1', { voterKeys: { v1: key }, requireSignedCommands: false }))
        .authenticate,
    ).toBeUndefined();
    expect(() =>
      AgentConfig.parse({ nodeId: 'n1', security: { requireSignedCommands: true } }),
    ).toThrow(/voterKeys/);
  });

  it('names a bad key file, and a bad public key, with COX_SIG_BAD_KEY', () => {
    const c = config('v1');
    writeFileSync(join(c.dataDir, 'junk.pem'), 'not a key');
    const bad = { ...c, security: { ...c.security, signingKeyFile: join(c.dataDir, 'junk.pem') } };
    expect(() => commandAuth(bad)).toThrow(/junk\.pem/);
    expect(() => commandAuth(config('n1', { voterKeys: { v1: 'short' } }))).toThrow(
      expect.objectContaining({ code: 'COX_SIG_BAD_KEY' }),
    );
  });
});
