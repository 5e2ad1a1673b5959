/**
 * One lab per state directory: a lab wipes its directory at start, so a second
 * one on the same directory would destroy the first one's agent state (three
 * chaos runs at once from one working directory did exactly that). Real files
 * and a real second process as the owner.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimStateDir } from '@coxswain/lab';
import { makeTempDir } from '@coxswain/testkit';
import { describe, expect, it } from 'vitest';

describe('the lab state directory claim', () => {
  it('refuses a second claim while the first holds, naming the directory and owner', () => {
    const dir = join(makeTempDir('lab-lock-'), 'lab');
    const release = claimStateDir(dir);
    expect(() => claimStateDir(dir)).toThrow(
      expect.objectContaining({
        code: 'COX_LAB_CONFIG',
        message: expect.stringContaining(
          `another lab (pid ${process.pid}) is using the state directory ${dir}`,
        ),
      }),
    );
    release();
    expect(existsSync(`${dir}.lock`)).toBe(false);
    claimStateDir(dir)();
  });

  it('refuses while another live process holds it, and takes over once that process is gone', async () => {
    const dir = join(makeTempDir('lab-lock-'), 'lab');
    const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(`${dir}.lock`, `${owner.pid}\n`);
      expect(() => claimStateDir(dir)).toThrow(/another lab \(pid \d+\)/);
    } finally {
      const exited = new Promise((resolve) => owner.once('exit', resolve));
      owner.kill('SIGKILL');
      await exited;
    }
    const release = claimStateDir(dir);
    release();
  });
});
