import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../src/storage/file-storage.js';
import { nodeFileSystem, type StorageFileSystem } from '../src/storage/file-system.js';
import {
  StorageCorruptionError,
  StorageFailedError,
  StorageWriteError,
} from '../src/storage/storage-errors.js';
import type { Entry } from '../src/types.js';

const run = promisify(execFile);
const entry = (index: number, term: number, data = `e${index}t${term}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(data),
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-faults-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Node's file system, but every write stops after at most `limit(n)` bytes. */
function shortWrites(limit: (asked: number) => number): StorageFileSystem {
  return {
    ...nodeFileSystem,
    async open(path, mode) {
      const f = await nodeFileSystem.open(path, mode);
      return { ...f, write: (data) => f.write(data.subarray(0, limit(data.length))) };
    },
  };
}

async function walFile(): Promise<string> {
  const names = (await readdir(join(dir, 'wal'))).sort();
  return join(dir, 'wal', names[names.length - 1] as string);
}

describe('FileStorage short writes (issue 15, item 1)', () => {
  it('keeps writing until every byte of a record is down', async () => {
    const s = new FileStorage({ dir, fs: shortWrites((n) => Math.max(1, n >> 1)) });
    await s.load();
    await s.save({ term: 3, vote: 'b', commit: 0 }, [entry(1, 3), entry(2, 3, 'x'.repeat(5000))]);
    await s.close();
    const st = await new FileStorage({ dir }).load();
    expect(st.hardState).toEqual({ term: 3, vote: 'b', commit: 0 });
    expect(st.entries.map((e) => e.data.length)).toEqual([4, 5000]);
  });

  it('fails a save whose write makes no progress, refuses later writes, loses nothing acknowledged', async () => {
    let full = false;
    const s = new FileStorage({ dir, fs: shortWrites((n) => (full ? 3 : n)) });
    await s.load();
    await s.save({ term: 1, vote: 'a', commit: 0 }, [entry(1, 1)]);
    full = true;
    const fsWrite = shortWrites((n) => (full ? 0 : n));
    const t = new FileStorage({ dir, fs: fsWrite });
    await s.close();
    await t.load();
    await expect(t.save({ term: 2, vote: 'b', commit: 0 }, [entry(2, 2)])).rejects.toBeInstanceOf(
      StorageWriteError,
    );
    // The tail is unknown now: appending after it would bury a torn record mid-file.
    await expect(t.save(undefined, [entry(2, 1)])).rejects.toBeInstanceOf(StorageFailedError);
    await t.close();
    const st = await new FileStorage({ dir }).load();
    expect(st.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(st.entries.map((e) => [e.index, e.term])).toEqual([[1, 1]]);
  });

  it('rejects a save cut short by a real file-size limit (ulimit -f) instead of acknowledging it', async () => {
    const child = fileURLToPath(new URL('./fixtures/short-write-child.ts', import.meta.url));
    const pkg = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await run(
      'bash',
      ['-c', `ulimit -f 64 && exec "${process.execPath}" --import tsx "${child}" "${dir}"`],
      { cwd: pkg },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop() as string) as {
      resolved: boolean;
      code?: string;
    };
    const st = await new FileStorage({ dir }).load();
    // Whatever resolved must be on disk: before the fix, the save resolved and was lost.
    if (out.resolved) expect(st.hardState.term).toBe(2);
    expect(out).toEqual({ resolved: false, code: 'RAFT_STORAGE_WRITE' });
    expect(st.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(st.entries.map((e) => e.index)).toEqual([1]);
  });
});

describe('FileStorage torn tails vs corruption (issue 15, item 4)', () => {
  /** Three saves; returns the byte offsets where each starts. */
  async function threeSaves(): Promise<number[]> {
    const s = new FileStorage({ dir });
    await s.load();
    const offsets: number[] = [];
    for (let i = 1; i <= 3; i++) {
      offsets.push((await stat(await walFile())).size);
      await s.save({ term: i, vote: 'a', commit: 0 }, [entry(i, i)]);
    }
    await s.close();
    return offsets;
  }

  it('refuses a corrupt length field in the second-to-last record of the newest segment', async () => {
    const [, second] = await threeSaves();
    const file = await walFile();
    const bytes = await readFile(file);
    bytes[(second as number) + 1] = 0x7f; // the record now "runs past the end"
    await writeFile(file, bytes);
    const err = await new FileStorage({ dir }).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect(err).toMatchObject({ code: 'RAFT_STORAGE_CORRUPT', file, offset: second });
    // Nothing was truncated: the intact, fsynced last record is still there for the operator.
    expect((await readFile(file)).length).toBe(bytes.length);
  });

  it('refuses a final record whose length field is damaged but whose data is whole', async () => {
    const [, , third] = await threeSaves();
    const file = await walFile();
    const bytes = await readFile(file);
    bytes[(third as number) + 2] ^= 0x10;
    await writeFile(file, bytes);
    await expect(new FileStorage({ dir }).load()).rejects.toMatchObject({
      code: 'RAFT_STORAGE_CORRUPT',
      offset: third,
    });
  });

  it('takes a zero-filled tail (the file grew, its data never landed) for a torn write', async () => {
    await threeSaves();
    const file = await walFile();
    const size = (await stat(file)).size;
    await appendFile(file, new Uint8Array(700));
    const st = await new FileStorage({ dir }).load();
    expect(st.hardState.term).toBe(3);
    expect(st.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect((await stat(file)).size).toBe(size);
  });

  it('still takes a final record cut short for a torn write', async () => {
    const [, , third] = await threeSaves();
    const file = await walFile();
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, (third as number) + 12));
    const st = await new FileStorage({ dir }).load();
    expect(st.hardState.term).toBe(2);
  });
});
