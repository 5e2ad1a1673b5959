/**
 * The lab's NATS security, made fresh per lab: a throwaway CA (openssl: node:crypto
 * cannot sign X.509), a server certificate for the addresses the agents dial, a
 * client certificate and a password per node, and the servers' `authorization`
 * block from the same generator as `coxswain nats-config`. So the lab runs as a
 * real cluster should: TLS with client verification, each node allowed only its
 * own subjects, and the lab's watchers allowed to read and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { natsServerConfig } from '@coxswain/protocol';
import { run } from '@coxswain/testkit';

/** What one NATS client of the lab connects with; fits nats.js options and AgentConfig.nats alike. */
export interface LabNatsCredentials {
  readonly user: string;
  readonly pass: string;
  readonly tls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
}

export interface LabSecurity {
  /** Lines for every nats-server's config: `authorization` and `tls` with `verify`. */
  readonly serverConfig: string;
  readonly nodes: ReadonlyMap<string, LabNatsCredentials>;
  /** The lab's own table, the chaos runner and the demo: reports and events, read-only but for events. */
  readonly observer: LabNatsCredentials;
}

const ssl = (args: string[]): Promise<unknown> => run('openssl', args);

/** An EC key and a certificate signed by the CA in `dir` (EC: keys in milliseconds, not RSA's seconds). */
async function issue(dir: string, name: string, usage: string, altNames?: string): Promise<void> {
  const key = join(dir, `${name}.key`);
  await ssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    join(dir, `${name}.csr`),
  ]);
  chmodSync(key, 0o600);
  writeFileSync(
    join(dir, `${name}.ext`),
    `extendedKeyUsage=${usage}\n${altNames ? `subjectAltName=${altNames}\n` : ''}`,
  );
  await ssl([
    'x509',
    '-req',
    '-days',
    '2',
    '-in',
    join(dir, `${name}.csr`),
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-extfile',
    join(dir, `${name}.ext`),
    '-out',
    join(dir, `${name}.pem`),
  ]);
}

export async function makeLabSecurity(options: {
  readonly dir: string;
  readonly cluster: string;
  readonly voters: readonly string[];
  readonly agents: readonly string[];
  /** Addresses the clients dial (the servers' and the relays' host). */
  readonly serverAddresses: readonly string[];
}): Promise<LabSecurity> {
  const dir = options.dir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await ssl([
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
    `/CN=coxswain lab ${options.cluster} CA`,
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.pem'),
  ]);
  chmodSync(join(dir, 'ca.key'), 0o600);
  const ips = [...new Set(['127.0.0.1', ...options.serverAddresses])];
  await issue(
    dir,
    'nats-server',
    'serverAuth',
    ['DNS:localhost', ...ips.map((ip) => (/^[\d.]+$/.test(ip) ? `IP:${ip}` : `DNS:${ip}`))].join(
      ',',
    ),
  );
  const credentials = async (name: string): Promise<LabNatsCredentials> => {
    await issue(dir, name, 'clientAuth');
    return {
      user: name,
      pass: randomBytes(18).toString('base64url'),
      tls: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, `${name}.pem`),
        keyFile: join(dir, `${name}.key`),
      },
    };
  };
  const nodes = new Map<string, LabNatsCredentials>();
  for (const id of [...options.voters, ...options.agents]) nodes.set(id, await credentials(id));
  const observer = await credentials('lab-observer');
  const password = (c: LabNatsCredentials) =>
    ({ kind: 'password', user: c.user, password: c.pass }) as const;
  const serverConfig = natsServerConfig({
    cluster: options.cluster,
    nodes: [...nodes].map(([id, c]) => ({
      id,
      voter: options.voters.includes(id),
      credential: password(c),
    })),
    observers: [password(observer)],
    tls: {
      certFile: join(dir, 'nats-server.pem'),
      keyFile: join(dir, 'nats-server.key'),
      caFile: join(dir, 'ca.pem'),
      verify: true,
    },
  });
  writeFileSync(join(dir, 'nats-auth.conf'), serverConfig, { mode: 0o600 });
  return { serverConfig, nodes, observer };
}
