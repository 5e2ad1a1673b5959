import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './process.js';

/**
 * A fresh private directory under the system temp dir. Names stay short on
 * purpose: dockerd and containerd put unix sockets under it, and a socket path
 * longer than 107 bytes cannot be bound.
 */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Mount points at or below `dir`, deepest first (as /proc/self/mountinfo lists them). */
export function mountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes spaces and the like as octal: \040
    .map((p) =>
      p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    )
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Removes a daemon's directory. A crashed dockerd leaves overlay and shm
 * mounts behind, and `rm` cannot remove a mount point: unmount them (lazily,
 * so a busy mount cannot block us), then remove, retrying while the kernel
 * lets go of them.
 */
export async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const mounts = mountsUnder(dir);
    for (const point of mounts) {
      await run('umount', ['-l', point], { allowFailure: true });
    }
    try {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      return;
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(100 * (attempt + 1));
    }
  }
}
