import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type InboxMode, type NatsCredential, natsServerConfig } from '@coxswain/protocol';
import type { Command } from 'commander';
import { nkeys } from 'nats';

interface Flags {
  cluster: string;
  voters: string;
  agents?: string;
  operators: string;
  auth: string;
  inboxes: string;
  out: string;
  credsDir: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsVerify?: boolean;
}

const ids = (text: string | undefined): string[] =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A fresh credential, and the secret half the client keeps (the server config holds only the other half for NKEYs). */
function makeCredential(
  name: string,
  auth: 'password' | 'nkey',
): { credential: NatsCredential; secret: string } {
  if (auth === 'nkey') {
    const user = nkeys.createUser();
    return {
      credential: { kind: 'nkey', publicKey: user.getPublicKey() },
      secret: `${new TextDecoder().decode(user.getSeed())}\n`,
    };
  }
  const password = randomBytes(24).toString('base64url');
  return {
    credential: { kind: 'password', user: name, password },
    secret: `${JSON.stringify({ user: name, pass: password })}\n`,
  };
}

export function registerNatsConfigCommand(program: Command): void {
  program
    .command('nats-config')
    .description(
      'write the nats-server authorization block (per-subject permissions per node) and credentials for a cluster',
    )
    .requiredOption('--voters <ids>', 'comma-separated voter node ids')
    .option('--agents <ids>', 'comma-separated non-voting agent node ids')
    .option('--cluster <name>', 'cluster name (subjects cox.<cluster>.*)', 'default')
    .option('--operators <n>', 'credentials for operators (the CLI): API requests only', '1')
    .option('--auth <kind>', 'password | nkey (the server keeps only public keys)', 'nkey')
    .option(
      '--inboxes <mode>',
      'shared | per-node (agents connect with inboxPrefix _INBOX_<node>)',
      'shared',
    )
    .option(
      '--out <file>',
      'server config to write (include it from nats-server.conf)',
      'nats-auth.conf',
    )
    .option(
      '--creds-dir <dir>',
      "where each node's secret is written (<id>.nk or <id>.json, mode 0600)",
      'nats-creds',
    )
    .option('--tls-cert <file>', 'server certificate (PEM)')
    .option('--tls-key <file>', 'server key (PEM)')
    .option('--tls-ca <file>', 'CA of client certificates')
    .option('--tls-verify', 'require client certificates (mutual TLS)')
    .action((flags: Flags) => {
      if (flags.auth !== 'password' && flags.auth !== 'nkey')
        throw new Error('--auth is password or nkey');
      if (flags.inboxes !== 'shared' && flags.inboxes !== 'per-node')
        throw new Error('--inboxes is shared or per-node');
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
        throw new Error('--tls-cert and --tls-key go together');
      if (flags.tlsVerify && !flags.tlsCa) throw new Error('--tls-verify needs --tls-ca');
      const auth = flags.auth;
      mkdirSync(flags.credsDir, { recursive: true, mode: 0o700 });
      const nodes = [
        ...ids(flags.voters).map((id) => ({ id, voter: true })),
        ...ids(flags.agents).map((id) => ({ id, voter: false })),
      ].map(({ id, voter }) => {
        const { credential, secret } = makeCredential(id, auth);
        writeFileSync(join(flags.credsDir, `${id}.${auth === 'nkey' ? 'nk' : 'json'}`), secret, {
          mode: 0o600,
        });
        return { id, voter, credential };
      });
      const operators = Array.from({ length: Number(flags.operators) }, (_, i) => {
        const { credential, secret } = makeCredential(`operator-${i + 1}`, auth);
        writeFileSync(
          join(flags.credsDir, `operator-${i + 1}.${auth === 'nkey' ? 'nk' : 'json'}`),
          secret,
          {
            mode: 0o600,
          },
        );
        return credential;
      });
      const text = natsServerConfig({
        cluster: flags.cluster,
        nodes,
        operators,
        inboxes: flags.inboxes as InboxMode,
        ...(flags.tlsCert && flags.tlsKey
          ? {
              tls: {
                certFile: flags.tlsCert,
                keyFile: flags.tlsKey,
                ...(flags.tlsCa ? { caFile: flags.tlsCa } : {}),
                ...(flags.tlsVerify ? { verify: true } : {}),
              },
            }
          : {}),
      });
      writeFileSync(flags.out, text, { mode: 0o600 });
      console.log(
        `wrote ${flags.out} (${nodes.length} nodes, ${operators.length} operators, ${auth} auth) and secrets in ${flags.credsDir}/`,
      );
    });
}
