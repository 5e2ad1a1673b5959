import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import type DockerodeType from 'dockerode';

const require = createRequire(import.meta.url);

/**
 * dockerode and docker-modem load every transport they support when they load:
 * `docker-modem/lib/ssh.js` pulls in ssh2 (and its crypto), `dockerode/lib/session.js`
 * gRPC and protobuf for BuildKit sessions. We talk to the engine over a Unix
 * socket, so that is ~25 MB of an agent's RSS for code it never runs.
 *
 * Both files export a single function, called only when an SSH host or a
 * session is used. Before dockerode loads, each is put in the module cache as a
 * stand-in with the same signature: on its first call it drops itself from the
 * cache, loads the real file and delegates to it from then on, so SSH and
 * BuildKit sessions still work, they just load when first used.
 */
function deferFunctionModule(filename: string): void {
  if (require.cache[filename] !== undefined) return;
  let real: ((...args: unknown[]) => unknown) | undefined;
  const standIn = function (this: unknown, ...args: unknown[]): unknown {
    if (real === undefined) {
      if (require.cache[filename]?.exports === standIn) delete require.cache[filename];
      real = require(filename) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  const mod = new Module(filename);
  mod.filename = filename;
  mod.loaded = true;
  mod.exports = standIn;
  require.cache[filename] = mod;
}

const dockerodeMain = require.resolve('dockerode');
const modemMain = createRequire(dockerodeMain).resolve('docker-modem');
deferFunctionModule(`${dirname(modemMain)}/ssh.js`);
deferFunctionModule(`${dirname(dockerodeMain)}/session.js`);

/** dockerode itself, unchanged but for when its unused transports load. */
export const Dockerode = require('dockerode') as typeof DockerodeType;
