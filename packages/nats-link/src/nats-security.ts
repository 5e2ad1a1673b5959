/**
 * The TLS and authentication part of the agent's NATS connection options, from
 * `AgentConfig.nats`. Files are checked when the agent starts, so a missing key
 * or seed is one error naming the file instead of a retry loop that never
 * connects. Secrets are read here and handed to nats.js; no error or log line
 * carries their contents, only their paths.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import type { AgentConfig } from '@coxswain/protocol';
import { type Authenticator, credsAuthenticator, nkeyAuthenticator } from 'nats';
import { NatsCredentialsError } from './errors.js';

export interface NatsSecurityOptions {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  readonly authenticator?: Authenticator;
  /** File paths: nats.js reads them on every connect, so a renewed certificate is used on reconnect. */
  readonly tls?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
  };
}

function readable(field: string, file: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (cause) {
    throw new NatsCredentialsError(
      field,
      file,
      `nats.${field}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause },
    );
  }
}

function secretBytes(field: string, file: string): Uint8Array {
  readable(field, file);
  // Trailing newlines are how the files are written; nats.js wants the bare seed.
  const text = readFileSync(file, 'utf8').trim();
  if (field === 'nkeySeedFile' && !/^SU[A-Z2-7]+$/.test(text))
    throw new NatsCredentialsError(
      field,
      file,
      `nats.${field}: ${file} does not hold an NKEY user seed (a line starting with SU)`,
    );
  if (field === 'credsFile' && !text.includes('-----BEGIN NATS USER JWT-----'))
    throw new NatsCredentialsError(
      field,
      file,
      `nats.${field}: ${file} is not a .creds file (no NATS USER JWT block)`,
    );
  return new TextEncoder().encode(text);
}

export function natsSecurityOptions(nats: AgentConfig['nats']): NatsSecurityOptions {
  const tls = nats.tls;
  if (tls !== undefined)
    for (const field of ['caFile', 'certFile', 'keyFile'] as const) {
      const file = tls[field];
      if (file !== undefined) readable(`tls.${field}`, file);
    }
  const authenticator =
    nats.nkeySeedFile !== undefined
      ? nkeyAuthenticator(secretBytes('nkeySeedFile', nats.nkeySeedFile))
      : nats.credsFile !== undefined
        ? credsAuthenticator(secretBytes('credsFile', nats.credsFile))
        : undefined;
  return {
    ...(nats.user !== undefined ? { user: nats.user } : {}),
    ...(nats.pass !== undefined ? { pass: nats.pass } : {}),
    ...(nats.token !== undefined ? { token: nats.token } : {}),
    ...(authenticator !== undefined ? { authenticator } : {}),
    ...(tls !== undefined && Object.keys(tls).length > 0
      ? {
          tls: {
            ...(tls.caFile !== undefined ? { caFile: tls.caFile } : {}),
            ...(tls.certFile !== undefined ? { certFile: tls.certFile } : {}),
            ...(tls.keyFile !== undefined ? { keyFile: tls.keyFile } : {}),
          },
        }
      : {}),
  };
}
