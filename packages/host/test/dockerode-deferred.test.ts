// dockerode loads with its SSH and BuildKit-session modules deferred: they are
// not in the module cache after the driver's import, and the stand-ins still
// load and run the real code when called.

import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dockerode } from '../src/dockerode.js';

const require = createRequire(import.meta.url);
const dockerodeMain = require.resolve('dockerode');
const modemMain = createRequire(dockerodeMain).resolve('docker-modem');
const sshFile = `${dirname(modemMain)}/ssh.js`;
const loaded = (needle: string) => Object.keys(require.cache).some((k) => k.includes(needle));

describe('dockerode with deferred transports', () => {
  it('loads without ssh2 or gRPC, and the SSH stand-in loads the real agent factory on use', () => {
    const docker = new Dockerode({ socketPath: '/nonexistent.sock' });
    expect(typeof docker.listContainers).toBe('function');
    expect(loaded('/node_modules/ssh2/')).toBe(false);
    expect(loaded('/node_modules/@grpc/grpc-js/')).toBe(false);
    expect(loaded('/node_modules/protobufjs/')).toBe(false);

    const ssh = require(sshFile) as (opt: object) => Agent;
    const agent = ssh({ host: '127.0.0.1' });
    expect(agent).toBeInstanceOf(Agent);
    agent.destroy();
    expect(loaded('/node_modules/ssh2/')).toBe(true);
    // The real module replaced the stand-in in the cache.
    expect(require(sshFile)).not.toBe(ssh);
  });
});
