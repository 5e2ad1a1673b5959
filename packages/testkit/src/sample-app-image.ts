import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { CommandFailedError, ToolMissingError } from './errors.js';
import { makeTempDir, removeDir } from './temp-dir.js';

export const SAMPLE_APP_IMAGE = 'coxswain/sample-app:latest';

/** deploy/sample-app/server.mjs, found from this file (src/ and dist/ sit at the same depth). */
export function sampleAppServerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '..', '..', '..', 'deploy', 'sample-app', 'server.mjs');
}

/** The shared libraries (and the loader) that `ldd` lists for an ELF binary, as absolute paths. */
export function lddLibraries(binary: string): string[] {
  const out = spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (out.error) throw new ToolMissingError(['ldd'], ['libc-bin'], String(out.error.message));
  if (out.status !== 0) throw new CommandFailedError(`ldd ${binary}`, out.status, out.stderr);
  const libs: string[] = [];
  for (const line of out.stdout.split('\n')) {
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) libs.push(path);
  }
  return libs;
}

/**
 * Makes `tag` exist on this engine: a one-layer image holding this machine's `node` binary, the
 * libraries `ldd` lists for it, and deploy/sample-app/server.mjs at /app/server.mjs, imported from a
 * tar stream (no registry needed). Idempotent: an engine that already has the tag is left alone.
 */
export async function ensureSampleAppImage(
  docker: Docker,
  tag = SAMPLE_APP_IMAGE,
  serverPath = sampleAppServerPath(),
): Promise<string> {
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // Not there yet.
  }
  if (!existsSync(serverPath)) throw new ToolMissingError(['server.mjs'], [], serverPath);
  const node = realpathSync(process.execPath);
  const root = makeTempDir('cxs-');
  try {
    mkdirSync(join(root, 'app'));
    mkdirSync(join(root, 'tmp'));
    copyFileSync(node, join(root, 'node'));
    copyFileSync(serverPath, join(root, 'app', 'server.mjs'));
    for (const lib of lddLibraries(node)) {
      const target = join(root, lib);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(realpathSync(lib), target);
    }
    await importTree(docker, root, tag, [
      'ENV PATH=/',
      'WORKDIR /app',
      'CMD ["/node","/app/server.mjs"]',
    ]);
    await docker.getImage(tag).inspect();
    return tag;
  } finally {
    await removeDir(root);
  }
}

/** `docker import` of a directory tree as one layer, with Dockerfile-style changes. */
async function importTree(docker: Docker, root: string, tag: string, changes: string[]) {
  const colon = tag.lastIndexOf(':');
  const [repo, version] =
    colon > tag.lastIndexOf('/') ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, 'latest'];
  const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarError = '';
  tar.stderr.setEncoding('utf8').on('data', (d: string) => {
    tarError += d;
  });
  const response = await docker.importImage(tar.stdout, {
    repo,
    tag: version,
    changes,
  } as unknown as Record<string, unknown>);
  await new Promise<void>((ok, fail) => {
    docker.modem.followProgress(response, (error: Error | null, output: { error?: string }[]) => {
      const failed = output?.find((o) => o.error);
      if (error) fail(error);
      else if (failed) fail(new Error(`docker import ${tag}: ${failed.error}`));
      else ok();
    });
  });
  const tarExit = await new Promise<number | null>((done) => {
    if (tar.exitCode !== null) done(tar.exitCode);
    else tar.once('close', done);
  });
  if (tarExit !== 0) throw new CommandFailedError('tar (sample-app rootfs)', tarExit, tarError);
}
