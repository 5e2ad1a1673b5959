/**
 * One lab per state directory. A lab wipes its state directory when it starts
 * and its agents keep their Raft logs, fencing tokens and assignments there, so
 * a second lab on the same directory would silently destroy the first one's
 * state (and read it back as its own on a host restart). The claim is a file
 * beside the directory (the directory itself is wiped) naming the owner's pid;
 * a claim whose process is gone is stale and taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { LabConfigError } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims `stateDir` for this process; returns the release. Throws LabConfigError if a live lab holds it. */
export function claimStateDir(stateDir: string): () => void {
  const lockFile = `${stateDir}.lock`;
  mkdirSync(dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) rmSync(lockFile);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockFile, 'utf8').trim(), 10);
      if (Number.isInteger(owner) && owner > 0 && alive(owner))
        throw new LabConfigError(
          `another lab (pid ${owner}) is using the state directory ${stateDir}; stop it, or give this one its own state directory (chaos run: --state-dir)`,
        );
      // Stale (its lab died without releasing it): take it over.
      rmSync(lockFile, { force: true });
    }
  }
  throw new LabConfigError(`could not claim the state directory ${stateDir} (${lockFile})`);
}
