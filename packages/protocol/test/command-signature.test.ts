import {
  canonicalJson,
  decode,
  encode,
  generateSigningKeyPair,
  loadVoterKeys,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromText,
  publicKeyToBase64,
  ScaleCommand,
  type ScaleCommand as ScaleCommandValue,
  signCommand,
  verifyCommand,
} from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';

const command = {
  v: 1 as const,
  id: 'cmd-1',
  service: 'web',
  spec: { name: 'web', image: 'coxswain/busybox:latest' },
  specVersion: 1,
  replicas: 2,
  token: 17,
  term: 3,
  leaderId: 'n1',
  issuedAt: 1_764_000_000_000,
};
const ctx = { cluster: 'lab', nodeId: 'n2' };
const n1 = generateSigningKeyPair();
const n2 = generateSigningKeyPair();
const outsider = generateSigningKeyPair();
const voters = new Map([
  ['n1', n1.publicKey],
  ['n2', n2.publicKey],
]);

/** What the agent does: decode the bytes off the wire, then verify the decoded value. */
function received(value: ScaleCommandValue): ScaleCommandValue {
  const decoded = decode(ScaleCommand, encode(ScaleCommand, value));
  if (!decoded.ok) throw decoded.error;
  return decoded.value;
}

describe('command signatures', () => {
  it('a command signed by the leader verifies after a trip over the wire', () => {
    const signed = signCommand(command, ctx, { keyId: 'n1', privateKey: n1.privateKey });
    expect(signed.signature?.sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(verifyCommand(received(signed), ctx, voters)).toEqual({ ok: true, keyId: 'n1' });
  });

  it('refuses an unsigned command (COX_SIG_MISSING)', () => {
    const r = verifyCommand(ScaleCommand.parse(command), ctx, voters);
    expect(r.ok || r.error.code).toBe('COX_SIG_MISSING');
  });

  it('refuses a forged command: the fields changed after signing (the billion-token attack)', () => {
    const signed = signCommand(command, ctx, { keyId: 'n1', privateKey: n1.privateKey });
    for (const forged of [
      { ...signed, token: 1_000_000_000 },
      { ...signed, replicas: 50 },
      { ...signed, spec: { ...signed.spec, image: 'evil' } },
    ]) {
      const r = verifyCommand(received(forged), ctx, voters);
      expect(r.ok || r.error.code).toBe('COX_SIG_INVALID');
    }
  });

  it('refuses a signature made with another key, and garbage signature bytes', () => {
    const wrong = signCommand(command, ctx, { keyId: 'n1', privateKey: n2.privateKey });
    const r1 = verifyCommand(received(wrong), ctx, voters);
    expect(r1.ok || r1.error.code).toBe('COX_SIG_INVALID');
    const garbage = { ...wrong, signature: { keyId: 'n1', sig: 'A'.repeat(86) } };
    const r2 = verifyCommand(received(garbage), ctx, voters);
    expect(r2.ok || r2.error.code).toBe('COX_SIG_INVALID');
  });

  it('refuses a command signed by a non-voter (COX_SIG_UNKNOWN_SIGNER)', () => {
    const signed = signCommand({ ...command, leaderId: 'mallory' }, ctx, {
      keyId: 'mallory',
      privateKey: outsider.privateKey,
    });
    const r = verifyCommand(received(signed), ctx, voters);
    expect(r.ok || r.error.code).toBe('COX_SIG_UNKNOWN_SIGNER');
    if (!r.ok) expect(r.error.keyId).toBe('mallory');
  });

  it('refuses a voter signing in the name of another leader', () => {
    const signed = signCommand(command, ctx, { keyId: 'n2', privateKey: n2.privateKey });
    const r = verifyCommand(received(signed), ctx, voters);
    expect(r.ok || r.error.message).toMatch(/names leader n1 but is signed by n2/);
  });

  it('binds the addressee and the cluster: a replay on another node or cluster fails', () => {
    const signed = signCommand(command, ctx, { keyId: 'n1', privateKey: n1.privateKey });
    for (const other of [
      { cluster: 'lab', nodeId: 'n3' },
      { cluster: 'prod', nodeId: 'n2' },
    ]) {
      const r = verifyCommand(received(signed), other, voters);
      expect(r.ok || r.error.code).toBe('COX_SIG_INVALID');
    }
  });

  it('canonical JSON sorts keys, drops undefined and ignores insertion order', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'é' }], u: undefined })).toBe(
      '{"a":[1,{"c":"é"}],"b":1}',
    );
    const reordered = Object.fromEntries(Object.entries(command).reverse()) as typeof command;
    const a = signCommand(command, ctx, { keyId: 'n1', privateKey: n1.privateKey });
    expect(
      verifyCommand(
        received({ ...ScaleCommand.parse(reordered), signature: a.signature }),
        ctx,
        voters,
      ).ok,
    ).toBe(true);
  });

  it('loads keys from PEM and base64, and names a bad one', () => {
    const pem = privateKeyToPem(n1.privateKey);
    const loaded = privateKeyFromPem(pem);
    expect(loaded.ok).toBe(true);
    const b64 = publicKeyToBase64(n1.publicKey);
    expect(b64).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const set = loadVoterKeys({
      n1: b64,
      n2: n2.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    });
    expect(set.ok).toBe(true);
    if (!set.ok || !loaded.ok) return;
    const signed = signCommand(command, ctx, { keyId: 'n1', privateKey: loaded.value });
    expect(verifyCommand(received(signed), ctx, set.value).ok).toBe(true);
    const bad = loadVoterKeys({ n1: b64, n3: 'c2hvcnQ=' });
    expect(bad.ok || bad.error.message).toMatch(/voter n3: expected 32 bytes/);
    const notPem = privateKeyFromPem('-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----');
    expect(notPem.ok || notPem.error.code).toBe('COX_SIG_BAD_KEY');
    expect(publicKeyFromText('!!!').ok).toBe(false);
  });
});
