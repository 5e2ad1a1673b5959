/**
 * Command signing for the lab: one ed25519 key per voter, made when the lab
 * starts (as an operator would, before the agents run), and every agent told
 * all voters' public keys, so agents refuse commands no voter signed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeyPair, privateKeyToPem, publicKeyToBase64 } from '@coxswain/protocol';

export interface LabSigning {
  /** Voter node id → public key (raw base64url), every agent's `security.voterKeys`. */
  readonly voterKeys: Readonly<Record<string, string>>;
  /** The voter's private key file (0600), or undefined for a client host. */
  keyFileOf(nodeId: string): string | undefined;
}

export function makeLabSigning(dir: string, voters: readonly string[]): LabSigning {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const voterKeys: Record<string, string> = {};
  const files = new Map<string, string>();
  for (const id of voters) {
    const pair = generateSigningKeyPair();
    const file = join(dir, `${id}.pem`);
    writeFileSync(file, privateKeyToPem(pair.privateKey), { mode: 0o600 });
    voterKeys[id] = publicKeyToBase64(pair.publicKey);
    files.set(id, file);
  }
  return { voterKeys, keyFileOf: (id) => files.get(id) };
}
