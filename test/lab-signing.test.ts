// The lab's command signing as the lab writes it into agent configs: a key file per voter
// (0600), every agent told the voters' public keys; a voter's agent signs with its file, a
// client host's agent admits that and refuses a command signed by a key the lab did not make.
import { statSync } from 'node:fs';
import { makeLabSigning } from '@coxswain/lab';
import { commandAuth } from '@coxswain/nats-link';
import {
  AgentConfig,
  generateSigningKeyPair,
  PROTOCOL_VERSION,
  type ScaleCommand,
  ServiceSpec,
  signCommand,
} from '@coxswain/protocol';
import { makeTempDir, removeDir } from '@coxswain/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dir = makeTempDir('cox-lab-signing-');
afterAll(() => removeDir(dir));

describe('lab signing', () => {
  it('makes a key per voter that the other agents accept, and nothing else', () => {
    const voters = ['host-1', 'host-2', 'host-3'];
    const signing = makeLabSigning(dir, voters);
    expect(Object.keys(signing.voterKeys)).toEqual(voters);
    expect(signing.keyFileOf('host-4')).toBeUndefined();
    expect(statSync(signing.keyFileOf('host-1')!).mode & 0o777).toBe(0o600);
    const configOf = (nodeId: string) =>
      AgentConfig.parse({
        nodeId,
        cluster: 'lab',
        voters,
        dataDir: dir,
        security: {
          voterKeys: signing.voterKeys,
          ...(signing.keyFileOf(nodeId) ? { signingKeyFile: signing.keyFileOf(nodeId) } : {}),
        },
      });
    const command: ScaleCommand = {
      v: PROTOCOL_VERSION,
      id: 'web.3.host-4',
      service: 'web',
      spec: ServiceSpec.parse({ name: 'web', image: 'x' }),
      specVersion: 1,
      replicas: 1,
      token: 3,
      term: 1,
      leaderId: 'host-2',
      issuedAt: 0,
    };
    const client = commandAuth(configOf('host-4'));
    const signed = commandAuth(configOf('host-2')).sign(command, 'host-4');
    expect(client.authenticate!(signed)).toBeUndefined();
    const stranger = signCommand(
      command,
      { cluster: 'lab', nodeId: 'host-4' },
      {
        keyId: 'host-2',
        privateKey: generateSigningKeyPair().privateKey,
      },
    );
    expect(client.authenticate!(stranger)?.code).toBe('COX_SIG_INVALID');
  });
});
