import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ToolMissingError } from './errors.js';
import { run } from './process.js';

/** The Debian package that provides each program the lab and the tests run. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  'nats-server': 'nats-server',
  dockerd: 'docker.io',
  busybox: 'busybox-static',
  nsenter: 'util-linux',
  ip: 'iproute2',
};

export const REQUIRED_TOOLS = ['nats-server', 'dockerd', 'busybox'] as const;

/** The full path of `name` on PATH (plus the sbin dirs a non-login root shell may lack), or undefined. */
export function whichSync(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/**
 * Makes sure nats-server, dockerd and busybox are installed. As root on a
 * Debian-like system it installs what is missing with apt-get; anywhere else it
 * throws a ToolMissingError that says what to install.
 */
export async function ensureTools(tools: readonly string[] = REQUIRED_TOOLS): Promise<void> {
  const missing = tools.filter((t) => whichSync(t) === undefined);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((t) => PACKAGE_OF[t] ?? t))];
  if (missing.includes('dockerd') && !packages.includes('iptables')) packages.push('iptables');
  if (process.getuid?.() !== 0)
    throw new ToolMissingError(missing, packages, 'not root, so not installing them');
  if (!whichSync('apt-get'))
    throw new ToolMissingError(missing, packages, 'no apt-get on this system');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
  const still = tools.filter((t) => whichSync(t) === undefined);
  if (still.length > 0)
    throw new ToolMissingError(still, packages, 'still missing after apt-get install');
}
