// Cost of command signing: µs per sign and per verify of a typical ScaleCommand
// (ed25519 through node:crypto, canonical JSON included). Run: pnpm exec tsx bench/command-signing.ts
import {
  generateSigningKeyPair,
  PROTOCOL_VERSION,
  ServiceSpec,
  signCommand,
  verifyCommand,
} from '@coxswain/protocol';

const pair = generateSigningKeyPair();
const context = { cluster: 'bench', nodeId: 'n2' };
const key = { keyId: 'n1', privateKey: pair.privateKey };
const voters = new Map([['n1', pair.publicKey]]);
const command = {
  v: PROTOCOL_VERSION,
  id: 'web.42.n2',
  service: 'web',
  spec: ServiceSpec.parse({ name: 'web', image: 'nginx:1.27', minReplicas: 1, maxReplicas: 10 }),
  specVersion: 3,
  replicas: 4,
  token: 42,
  term: 7,
  leaderId: 'n1',
  issuedAt: Date.now(),
  ttlMs: 5000,
};
const N = 5000;
for (let i = 0; i < 500; i++) verifyCommand(signCommand(command, context, key), context, voters);
let t0 = performance.now();
let signed = signCommand(command, context, key);
for (let i = 0; i < N; i++) signed = signCommand({ ...command, token: i + 1 }, context, key);
const signUs = ((performance.now() - t0) * 1000) / N;
t0 = performance.now();
for (let i = 0; i < N; i++) if (!verifyCommand(signed, context, voters).ok) throw new Error('bad');
const verifyUs = ((performance.now() - t0) * 1000) / N;
console.log(JSON.stringify({ n: N, signUs: Math.round(signUs), verifyUs: Math.round(verifyUs) }));
