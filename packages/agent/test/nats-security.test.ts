import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeTlsCode, NatsCredentialsError, natsSecurityOptions } from '@coxswain/nats-link';
import { nkeys } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeAndValidate, overridesFromEnv } from '../src/config-loader.js';
import { AgentConfigError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cox-nats-sec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const configOf = (nats: Record<string, unknown>) =>
  mergeAndValidate(
    { nodeId: 'n1', nats: { servers: ['nats://localhost:4222'], ...nats } },
    'agent.yaml',
    {},
    {},
  );

describe('AgentConfig nats TLS and credentials', () => {
  it('takes the TLS files and the seed file from COXSWAIN_NATS_* variables', () => {
    const config = mergeAndValidate(
      { nodeId: 'n1' },
      'agent.yaml',
      overridesFromEnv({
        COXSWAIN_NATS_TLS_CA: '/etc/coxswain/ca.pem',
        COXSWAIN_NATS_TLS_CERT: '/etc/coxswain/n1.pem',
        COXSWAIN_NATS_TLS_KEY: '/etc/coxswain/n1.key',
        COXSWAIN_NATS_NKEY_SEED_FILE: '/etc/coxswain/n1.nk',
      }),
      {},
    );
    expect(config.nats.tls).toEqual({
      caFile: '/etc/coxswain/ca.pem',
      certFile: '/etc/coxswain/n1.pem',
      keyFile: '/etc/coxswain/n1.key',
    });
    expect(config.nats.nkeySeedFile).toBe('/etc/coxswain/n1.nk');
  });

  it('refuses a certificate without its key, and two ways to authenticate, naming the field', () => {
    expect(() => configOf({ tls: { certFile: '/a.pem' } })).toThrow(
      /at nats\.tls: certFile and keyFile go together/,
    );
    expect(() => configOf({ token: 'abcdefgh', nkeySeedFile: '/n1.nk' })).toThrow(AgentConfigError);
    expect(() => configOf({ user: 'n1', pass: 'x', credsFile: '/n1.creds' })).toThrow(
      /one way to authenticate/,
    );
  });
});

describe('natsSecurityOptions', () => {
  it('builds an NKEY authenticator from a seed file and passes TLS files as paths', () => {
    const user = nkeys.createUser();
    const seedFile = join(dir, 'n1.nk');
    writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`);
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'not parsed here');
    const options = natsSecurityOptions(
      configOf({ nkeySeedFile: seedFile, tls: { caFile: ca } }).nats,
    );
    expect(typeof options.authenticator).toBe('function');
    expect(options.tls).toEqual({ caFile: ca });
    expect(options.user).toBeUndefined();
  });

  it('names the field and file of a missing key or a bad seed, and never the seed', () => {
    const missing = join(dir, 'absent.key');
    const cert = join(dir, 'c.pem');
    writeFileSync(cert, 'x');
    let error: unknown;
    try {
      natsSecurityOptions(configOf({ tls: { certFile: cert, keyFile: missing } }).nats);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NatsCredentialsError);
    expect((error as NatsCredentialsError).code).toBe('COX_NATS_CREDENTIALS');
    expect((error as NatsCredentialsError).message).toBe(
      `nats.tls.keyFile: cannot read ${missing} (ENOENT)`,
    );
    const bad = join(dir, 'bad.nk');
    writeFileSync(bad, 'SECRET-NOT-A-SEED\n');
    expect(() => natsSecurityOptions(configOf({ nkeySeedFile: bad }).nats)).toThrow(
      `nats.nkeySeedFile: ${bad} does not hold an NKEY user seed (a line starting with SU)`,
    );
    try {
      natsSecurityOptions(configOf({ nkeySeedFile: bad }).nats);
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('SECRET');
    }
    const creds = join(dir, 'x.creds');
    writeFileSync(creds, 'nothing');
    expect(() => natsSecurityOptions(configOf({ credsFile: creds }).nats)).toThrow(
      /is not a \.creds file/,
    );
  });
});

describe('describeTlsCode', () => {
  it('tells a missing client certificate from a refused one and from an untrusted server', () => {
    expect(describeTlsCode('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', false)).toMatch(
      /requires a client certificate/,
    );
    expect(describeTlsCode('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', true)).toMatch(
      /refused this node's client certificate/,
    );
    expect(describeTlsCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE', false)).toMatch(
      /does not trust the server's certificate/,
    );
    expect(describeTlsCode('ERR_SOMETHING', true)).toBe('TLS failed (ERR_SOMETHING)');
  });
});
