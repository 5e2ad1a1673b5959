import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { CommandFailedError, ToolMissingError } from './errors.js';
import { makeTempDir, removeDir } from './temp-dir.js';

export const BUSYBOX_IMAGE = 'coxswain/busybox:latest';

/** Applets linked into the image's /bin; any other applet still runs as `busybox <applet>`. */
export const BUSYBOX_APPLETS = [
  'sh',
  'sleep',
  'httpd',
  'echo',
  'cat',
  'wget',
  'nc',
  'yes',
  'true',
  'false',
  'ls',
  'ps',
  'kill',
] as const;

/** Where Debian's busybox-static installs busybox; the first static one wins. */
const CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** Finds a statically linked busybox: a dynamic one would not run in an image without libc. */
export function findStaticBusybox(): string {
  for (const path of CANDIDATES) {
    if (existsSync(path) && !isDynamicElf(path)) return path;
  }
  throw new ToolMissingError(
    ['busybox (static)'],
    ['busybox-static'],
    'no statically linked busybox in /bin or /usr/bin',
  );
}

/** True when the ELF file has a program interpreter (PT_INTERP), i.e. needs a dynamic loader. */
function isDynamicElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    readSync(fd, head, 0, head.length, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return true; // not a 64-bit ELF: do not trust it
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (at + 4 > head.length) break;
      if (head.readUInt32LE(at) === 3) return true; // PT_INTERP
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes `tag` exist on this engine: a one-layer image holding a static busybox
 * and its applet links, imported from a tar stream (no registry needed).
 * Idempotent: an engine that already has the tag is left alone.
 */
export async function ensureBusyboxImage(docker: Docker, tag = BUSYBOX_IMAGE): Promise<string> {
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // Not there yet.
  }
  const busybox = findStaticBusybox();
  const root = makeTempDir('cxi-');
  try {
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'tmp'));
    mkdirSync(join(root, 'www'));
    copyFileSync(busybox, join(root, 'bin', 'busybox'));
    for (const applet of BUSYBOX_APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
    const [repo, version] = splitTag(tag);
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarError = '';
    tar.stderr.setEncoding('utf8').on('data', (d: string) => {
      tarError += d;
    });
    const response = await docker.importImage(tar.stdout, {
      repo,
      tag: version,
      changes: ['ENV PATH=/bin', 'CMD ["sh"]'],
    } as unknown as Record<string, unknown>);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(response, (error: Error | null, output: { error?: string }[]) => {
        const failed = output?.find((o) => o.error);
        if (error) reject(error);
        else if (failed) reject(new Error(`docker import ${tag}: ${failed.error}`));
        else resolve();
      });
    });
    const tarExit = await new Promise<number | null>((resolve) => {
      if (tar.exitCode !== null) resolve(tar.exitCode);
      else tar.once('close', resolve);
    });
    if (tarExit !== 0)
      throw new CommandFailedError('tar (busybox rootfs)', tarExit, String(tarError));
    await docker.getImage(tag).inspect();
    return tag;
  } finally {
    await removeDir(root);
  }
}

function splitTag(tag: string): [string, string] {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/')
    ? [tag.slice(0, colon), tag.slice(colon + 1)]
    : [tag, 'latest'];
}
