import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import type { z } from 'zod';
import { ScaleCommand } from './command.js';
import { CoxswainError } from './errors.js';

/*
 * End-to-end authentication of scale commands. The leader signs each command
 * with its voter key; an agent verifies against the voters' public keys before
 * it admits the command's fencing token. Without this, anyone who can publish
 * on `cmd.<node>` can send token 1,000,000,000 and disable a host for good.
 *
 * What is signed: a domain prefix, the cluster, the node the command is for,
 * then the canonical JSON of the *validated* command without `signature`. The
 * target node is bound because a command carries no node id of its own: a
 * command signed for n1 replayed on cmd.n2 must not verify there.
 */

type ScaleCommandValue = z.output<typeof ScaleCommand>;
type ScaleCommandInput = z.input<typeof ScaleCommand>;

export type CommandSignatureErrorCode =
  | 'COX_SIG_MISSING'
  | 'COX_SIG_INVALID'
  | 'COX_SIG_UNKNOWN_SIGNER'
  | 'COX_SIG_BAD_KEY';

/** A command refused for its signature, or a key that could not be loaded. */
export class CommandSignatureError extends CoxswainError {
  declare readonly code: CommandSignatureErrorCode;
  readonly commandId: string | undefined;
  readonly keyId: string | undefined;
  constructor(
    code: CommandSignatureErrorCode,
    message: string,
    context: { commandId?: string; keyId?: string; cause?: unknown } = {},
  ) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.commandId = context.commandId;
    this.keyId = context.keyId;
  }
}

/** What a signature is bound to besides the command: the cluster and the addressee. */
export interface SigningContext {
  readonly cluster: string;
  /** The node whose `cmd.<node>` subject the command is sent on. */
  readonly nodeId: string;
}

/** A voter's private key and the id (its node id) agents know its public key by. */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
}

/** Voter node id → ed25519 public key. */
export type VoterKeys = ReadonlyMap<string, KeyObject>;

export type VerifyResult =
  | { readonly ok: true; readonly keyId: string }
  | { readonly ok: false; readonly error: CommandSignatureError };

export type KeyResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CommandSignatureError };

/**
 * Deterministic JSON: object keys sorted by UTF-16 code units (as RFC 8785
 * does), no whitespace, `undefined` members left out. Numbers and strings are
 * written as JSON.stringify writes them, the same on every Node.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`cannot encode ${typeof value} canonically`);
    return text;
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

const DOMAIN = 'coxswain scale-command v1';
const textEncoder = new TextEncoder();

/** The exact bytes signed and verified for `command` (validated first, so defaults are filled in). */
export function commandSigningBytes(
  command: ScaleCommandValue,
  context: SigningContext,
): Uint8Array {
  const { signature: _ignored, ...rest } = command;
  return textEncoder.encode(
    `${DOMAIN}\n${context.cluster}\n${context.nodeId}\n${canonicalJson(rest)}`,
  );
}

/** Signs a command as the leader sends it; throws only on a command its own schema refuses (a bug in the caller). */
export function signCommand(
  command: ScaleCommandInput,
  context: SigningContext,
  key: SigningKey,
): ScaleCommandValue {
  const value = ScaleCommand.parse(command);
  const sig = sign(null, commandSigningBytes(value, context), key.privateKey);
  return { ...value, signature: { keyId: key.keyId, sig: sig.toString('base64url') } };
}

/**
 * Verifies a decoded command against the voters' keys. Never throws. The
 * signer must be a voter and must be the leader the command names, so a
 * voter cannot issue commands in another's name.
 */
export function verifyCommand(
  command: ScaleCommandValue,
  context: SigningContext,
  voters: VoterKeys,
): VerifyResult {
  const ids = { commandId: command.id };
  const signature = command.signature;
  if (!signature) return fail('COX_SIG_MISSING', `command ${command.id} is not signed`, ids);
  const keyId = signature.keyId;
  const publicKey = voters.get(keyId);
  if (!publicKey)
    return fail(
      'COX_SIG_UNKNOWN_SIGNER',
      `command ${command.id} is signed by ${keyId}, not a voter`,
      {
        ...ids,
        keyId,
      },
    );
  if (keyId !== command.leaderId)
    return fail(
      'COX_SIG_INVALID',
      `command ${command.id} names leader ${command.leaderId} but is signed by ${keyId}`,
      { ...ids, keyId },
    );
  let good = false;
  try {
    const sig = Buffer.from(signature.sig, 'base64url');
    good = sig.length === 64 && verify(null, commandSigningBytes(command, context), publicKey, sig);
  } catch (cause) {
    return fail('COX_SIG_INVALID', `command ${command.id}: signature check failed`, {
      ...ids,
      keyId,
      cause,
    });
  }
  if (!good)
    return fail(
      'COX_SIG_INVALID',
      `command ${command.id}: signature by ${keyId} does not match the command for ${context.cluster}/${context.nodeId}`,
      { ...ids, keyId },
    );
  return { ok: true, keyId };
}

function fail(
  code: CommandSignatureErrorCode,
  message: string,
  context: { commandId?: string; keyId?: string; cause?: unknown },
): { ok: false; error: CommandSignatureError } {
  return { ok: false, error: new CommandSignatureError(code, message, context) };
}

/** A fresh ed25519 key pair for a voter. */
export function generateSigningKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** PKCS#8 PEM of a private key (write it 0600). */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The raw 32-byte ed25519 public key, base64url: short enough for a config file or the replicated state. */
export function publicKeyToBase64(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string')
    throw new TypeError('not an ed25519 public key');
  return jwk.x;
}

export function privateKeyFromPem(pem: string, where = 'private key'): KeyResult<KeyObject> {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519')
      return badKey(`${where}: an ${key.asymmetricKeyType} key, not ed25519`);
    return { ok: true, value: key };
  } catch (cause) {
    return badKey(`${where}: not a PEM private key`, cause);
  }
}

/** Loads a public key written as PEM (SPKI) or as the raw 32 bytes in base64 / base64url. */
export function publicKeyFromText(text: string, where = 'public key'): KeyResult<KeyObject> {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      const key = createPublicKey(trimmed);
      if (key.asymmetricKeyType !== 'ed25519')
        return badKey(`${where}: an ${key.asymmetricKeyType} key, not ed25519`);
      return { ok: true, value: key };
    }
    const raw = Buffer.from(trimmed, /[+/=]/.test(trimmed) ? 'base64' : 'base64url');
    if (raw.length !== 32 || !/^[A-Za-z0-9_\-+/=]+$/.test(trimmed))
      return badKey(
        `${where}: expected 32 bytes of ed25519 public key in base64, got ${raw.length}`,
      );
    return {
      ok: true,
      value: createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
        format: 'jwk',
      }),
    };
  } catch (cause) {
    return badKey(`${where}: not an ed25519 public key`, cause);
  }
}

/** Builds the voter key set from `{ nodeId: key text }` (config or replicated state); the first bad key fails it. */
export function loadVoterKeys(entries: Readonly<Record<string, string>>): KeyResult<VoterKeys> {
  const keys = new Map<string, KeyObject>();
  for (const [nodeId, text] of Object.entries(entries)) {
    const loaded = publicKeyFromText(text, `public key of voter ${nodeId}`);
    if (!loaded.ok) return loaded;
    keys.set(nodeId, loaded.value);
  }
  return { ok: true, value: keys };
}

function badKey(message: string, cause?: unknown): { ok: false; error: CommandSignatureError } {
  return {
    ok: false,
    error: new CommandSignatureError(
      'COX_SIG_BAD_KEY',
      message,
      cause === undefined ? {} : { cause },
    ),
  };
}
