/**
 * How CLI commands that talk NATS directly (`nodes`, `service`) connect: the
 * same servers, TLS files and credentials as the agent (`--nats-*` flags,
 * COXSWAIN_NATS_* variables), validated with the agent's schema and turned
 * into connection options by @coxswain/nats-link, so the CLI works against
 * the secure lab and a failure says whether it was the files, TLS or auth.
 */
import { NatsCredentialsError, natsSecurityOptions } from '@coxswain/agent';
import { AgentConfig, formatPath } from '@coxswain/protocol';
import type { Command } from 'commander';
import { connect, type NatsConnection } from 'nats';

export interface NatsFlags {
  nats?: string[];
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
  natsNkeySeedFile?: string;
  natsCredsFile?: string;
}

/** Adds the agent's NATS TLS and credential flags (files only: a secret flag shows in `ps`). */
export function natsSecurityFlags(command: Command): Command {
  return command
    .option(
      '--nats-ca <file>',
      "CA (PEM) that signed the NATS servers' certificates [COXSWAIN_NATS_TLS_CA]",
    )
    .option(
      '--nats-cert <file>',
      'client certificate (PEM) for NATS servers that verify clients (mutual TLS) [COXSWAIN_NATS_TLS_CERT]',
    )
    .option('--nats-key <file>', 'key (PEM) of --nats-cert [COXSWAIN_NATS_TLS_KEY]')
    .option(
      '--nats-nkey-seed-file <file>',
      'NKEY user seed file (coxswain nats-config --auth nkey) [COXSWAIN_NATS_NKEY_SEED_FILE]',
    )
    .option(
      '--nats-creds-file <file>',
      'NATS .creds file (user JWT and seed) [COXSWAIN_NATS_CREDS_FILE]',
    );
}

/** A connection failure with the exit code the command should use (2: bad flags or files). */
export class NatsConnectError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

function natsSection(flags: NatsFlags): unknown {
  const servers = flags.nats?.length
    ? flags.nats
    : env('COXSWAIN_NATS')
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  const tls = {
    caFile: flags.natsCa ?? env('COXSWAIN_NATS_TLS_CA'),
    certFile: flags.natsCert ?? env('COXSWAIN_NATS_TLS_CERT'),
    keyFile: flags.natsKey ?? env('COXSWAIN_NATS_TLS_KEY'),
  };
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const tlsSet = defined(tls);
  return defined({
    servers: servers?.length ? servers : undefined,
    user: env('COXSWAIN_NATS_USER'),
    pass: env('COXSWAIN_NATS_PASS'),
    token: env('COXSWAIN_NATS_TOKEN'),
    nkeySeedFile: flags.natsNkeySeedFile ?? env('COXSWAIN_NATS_NKEY_SEED_FILE'),
    credsFile: flags.natsCredsFile ?? env('COXSWAIN_NATS_CREDS_FILE'),
    tls: Object.keys(tlsSet).length > 0 ? tlsSet : undefined,
  });
}

/** Connects as the agent would; throws NatsConnectError naming what failed. */
export async function connectNats(flags: NatsFlags, name: string): Promise<NatsConnection> {
  const parsed = AgentConfig.shape.nats.safeParse(natsSection(flags));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new NatsConnectError(
      `NATS settings: at ${formatPath(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}`,
      2,
    );
  }
  let security: ReturnType<typeof natsSecurityOptions>;
  try {
    security = natsSecurityOptions(parsed.data);
  } catch (error) {
    if (error instanceof NatsCredentialsError) throw new NatsConnectError(error.message, 2);
    throw error;
  }
  const servers = parsed.data.servers;
  try {
    return await connect({ servers, timeout: 3000, name, ...security });
  } catch (error) {
    const message = (error as Error).message;
    throw new NatsConnectError(
      `cannot connect to NATS at ${servers.join(', ')}: ${message}${hint(message, parsed.data)}`,
      1,
    );
  }
}

function hint(
  message: string,
  nats: { tls?: unknown; credsFile?: string; nkeySeedFile?: string; user?: string; token?: string },
): string {
  const m = message.toLowerCase();
  if (m.includes('authorization') || m.includes('authentication'))
    return nats.credsFile || nats.nkeySeedFile || nats.user || nats.token
      ? ' (the server refused these credentials)'
      : ' (the server wants credentials: --nats-nkey-seed-file, --nats-creds-file or COXSWAIN_NATS_USER/PASS)';
  if (
    m.includes('tls') ||
    m.includes('certificate') ||
    m.includes('self-signed') ||
    m.includes('ssl')
  )
    return nats.tls
      ? ' (TLS failed: check --nats-ca, --nats-cert and --nats-key)'
      : ' (the server wants TLS: --nats-ca, and --nats-cert/--nats-key if it verifies clients)';
  return '';
}
