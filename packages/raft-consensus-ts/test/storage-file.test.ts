import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../src/storage/file-storage.js';
import { MemoryStorage } from '../src/storage/memory-storage.js';
import { StorageCorruptionError } from '../src/storage/storage-errors.js';
import type { Entry, RaftStorage } from '../src/types.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const entry = (index: number, term: number, data = `e${index}t${term}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: bytes(data),
});
const range = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const membership = { voters: ['a', 'b', 'c'], learners: [] };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-storage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function reopen(
  options: { segmentBytes?: number } = {},
): Promise<{ s: FileStorage; state: Awaited<ReturnType<FileStorage['load']>> }> {
  const s = new FileStorage({ dir, ...options });
  const state = await s.load();
  return { s, state };
}

const walFiles = async (): Promise<string[]> =>
  (await readdir(join(dir, 'wal'))).sort().map((n) => join(dir, 'wal', n));

describe.each([
  ['MemoryStorage', () => new MemoryStorage()],
  ['FileStorage', () => new FileStorage({ dir })],
] as const)('%s semantics', (_name, make) => {
  it('round-trips entries, hard state, overwrites and snapshots', async () => {
    const s: RaftStorage = make();
    const empty = await s.load();
    expect(empty.hardState).toEqual({ term: 0, vote: null, commit: 0 });
    expect(empty.entries).toEqual([]);
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 5, 1));
    await s.save({ term: 2, vote: 'b', commit: 3 }, [entry(4, 2), entry(5, 2), entry(6, 2)]);
    let st = await s.load();
    expect(st.hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
    expect(st.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
      [5, 2],
      [6, 2],
    ]);
    expect(new TextDecoder().decode(st.entries[3]?.data)).toBe('e4t2');
    await s.saveSnapshot({ meta: { index: 4, term: 2, membership }, data: bytes('state@4') });
    st = await s.load();
    expect(st.snapshot).toEqual({ index: 4, term: 2, membership });
    expect(new TextDecoder().decode(st.snapshotData)).toBe('state@4');
    expect(st.entries.map((e) => e.index)).toEqual([5, 6]);
    // A snapshot that disagrees with the log (installed from a leader) replaces the whole log.
    await s.saveSnapshot({ meta: { index: 5, term: 3, membership }, data: bytes('state@5') });
    st = await s.load();
    expect(st.entries).toEqual([]);
    expect(st.snapshot?.index).toBe(5);
    await s.save(undefined, [entry(6, 3)]);
    st = await s.load();
    expect(st.entries.map((e) => [e.index, e.term])).toEqual([[6, 3]]);
    await s.close();
  });
});

describe('FileStorage', () => {
  it('survives a reopen with every field intact, including empty and binary data', async () => {
    const { s } = await reopen();
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    await s.save({ term: 7, vote: 'node-ü', commit: 2 }, [
      { index: 1, term: 7, type: 'noop', data: new Uint8Array(0) },
      { index: 2, term: 7, type: 'config', data },
      { index: 3, term: 7, type: 'normal', data: bytes('x') },
    ]);
    await s.close();
    const { s: s2, state } = await reopen();
    expect(state.hardState).toEqual({ term: 7, vote: 'node-ü', commit: 2 });
    expect(state.entries).toEqual([
      { index: 1, term: 7, type: 'noop', data: new Uint8Array(0) },
      { index: 2, term: 7, type: 'config', data },
      { index: 3, term: 7, type: 'normal', data: bytes('x') },
    ]);
    await s2.close();
  });

  it('batches a save of many entries into one fdatasync', async () => {
    const { s } = await reopen();
    const before = s.syncs;
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 1000, 1));
    expect(s.syncs - before).toBe(1);
    await s.close();
  });

  it('defers a save that only moves the commit index to the next write, and flushes it on close', async () => {
    const { s } = await reopen();
    await s.save({ term: 3, vote: 'a', commit: 0 }, range(1, 5, 3));
    const syncs = s.syncs;
    await s.save({ term: 3, vote: 'a', commit: 4 }, []);
    expect(s.syncs).toBe(syncs);
    // A crash now (no close) may lose the commit index, which Raft re-learns from the leader...
    const { s: crashed, state: lost } = await reopen();
    expect(lost.hardState).toEqual({ term: 3, vote: 'a', commit: 0 });
    await crashed.close();
    // ...but never the term or vote: those are written and synced at once.
    await s.save({ term: 4, vote: null, commit: 4 }, []);
    expect(s.syncs).toBe(syncs + 1);
    const { s: s2, state: st2 } = await reopen();
    expect(st2.hardState).toEqual({ term: 4, vote: null, commit: 4 });
    await s2.close();
    // The deferred commit rides along with the next entries, and close() flushes one still pending.
    await s.save({ term: 4, vote: null, commit: 5 }, []);
    await s.save(undefined, [entry(6, 4)]);
    const { s: s3, state: st3 } = await reopen();
    expect(st3.hardState.commit).toBe(5);
    await s3.close();
    await s.save({ term: 4, vote: null, commit: 6 }, []);
    await s.close();
    const { s: s4, state: st4 } = await reopen();
    expect(st4.hardState).toEqual({ term: 4, vote: null, commit: 6 });
    await s4.close();
  });

  it('loads the previous state when the file is cut at any byte of the last record', async () => {
    const { s } = await reopen();
    await s.save({ term: 1, vote: 'a', commit: 1 }, range(1, 3, 1));
    await s.close();
    const [wal] = await walFiles();
    const goodSize = (await stat(wal as string)).size;
    const { s: s2 } = await reopen();
    await s2.save({ term: 2, vote: 'b', commit: 3 }, range(4, 6, 2));
    await s2.close();
    const full = await readFile(wal as string);
    expect(full.length).toBeGreaterThan(goodSize);
    for (let cut = goodSize; cut < full.length; cut++) {
      await writeFile(wal as string, full.subarray(0, cut));
      const { s: s3, state } = await reopen();
      expect(state.hardState, `cut at ${cut}`).toEqual({ term: 1, vote: 'a', commit: 1 });
      expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3]);
      // The torn tail was truncated, so the log can be appended to again.
      expect((await stat(wal as string)).size).toBe(goodSize);
      await s3.save(undefined, [entry(4, 5)]);
      await s3.close();
      const { s: s4, state: again } = await reopen();
      expect(again.entries.map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 5],
      ]);
      await s4.close();
    }
  });

  it('treats a bad checksum in the final record as a torn write', async () => {
    const { s } = await reopen();
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 2, 1));
    await s.save({ term: 1, vote: 'a', commit: 2 }, []);
    await s.close();
    const [wal] = await walFiles();
    const buf = await readFile(wal as string);
    buf[buf.length - 1] = (buf[buf.length - 1] as number) ^ 0xff;
    await writeFile(wal as string, buf);
    const { s: s2, state } = await reopen();
    expect(state.hardState.commit).toBe(0);
    expect(state.entries.length).toBe(2);
    await s2.close();
  });

  it('refuses to start on a flipped byte in the middle, naming the file and offset', async () => {
    const { s } = await reopen();
    await s.save({ term: 1, vote: 'a', commit: 0 }, range(1, 3, 1));
    await s.save({ term: 1, vote: 'a', commit: 3 }, range(4, 6, 1));
    await s.close();
    const [wal] = await walFiles();
    const buf = await readFile(wal as string);
    // Offset 40 lies in the first save record (after the 9+13-byte initial hard-state record).
    const firstRecordStart = 9 + 13;
    buf[40] = (buf[40] as number) ^ 0x01;
    await writeFile(wal as string, buf);
    const err = await new FileStorage({ dir }).load().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageCorruptionError);
    const c = err as StorageCorruptionError;
    expect(c.file).toBe(wal);
    expect(c.offset).toBe(firstRecordStart);
    expect(c.message).toContain(wal as string);
    expect(c.message).toContain(`byte ${firstRecordStart}`);
    expect(c.code).toBe('RAFT_STORAGE_CORRUPT');
  });

  it('refuses a corrupt record in a segment that is not the last', async () => {
    const { s } = await reopen({ segmentBytes: 200 });
    for (let i = 1; i <= 20; i++)
      await s.save({ term: 1, vote: 'a', commit: i - 1 }, [entry(i, 1, 'x'.repeat(40))]);
    await s.close();
    const files = await walFiles();
    expect(files.length).toBeGreaterThan(2);
    const first = files[0] as string;
    const buf = await readFile(first);
    // Truncating an older segment is corruption too: only the newest may have a torn tail.
    await writeFile(first, buf.subarray(0, buf.length - 3));
    await expect(new FileStorage({ dir, segmentBytes: 200 }).load()).rejects.toThrow(
      StorageCorruptionError,
    );
  });

  it('rotates segments by size and keeps the log whole across them', async () => {
    const { s } = await reopen({ segmentBytes: 1024 });
    for (let i = 1; i <= 100; i++)
      await s.save({ term: 1 + Math.floor(i / 30), vote: 'a', commit: i - 1 }, [
        entry(i, 1 + Math.floor(i / 30), 'y'.repeat(50)),
      ]);
    await s.close();
    const files = await walFiles();
    expect(files.length).toBeGreaterThan(4);
    for (const f of files.slice(0, -1)) expect((await stat(f)).size).toBeLessThan(1024 + 200);
    const { s: s2, state } = await reopen({ segmentBytes: 1024 });
    expect(state.entries.map((e) => e.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(state.hardState).toEqual({ term: 4, vote: 'a', commit: 99 });
    await s2.close();
  });

  it('rewrites a new segment header cut short by a crash, so compaction cannot lose the vote', async () => {
    const { s } = await reopen({ segmentBytes: 300 });
    for (let i = 1; i <= 10; i++)
      await s.save(i === 1 ? { term: 5, vote: 'c', commit: 0 } : undefined, [
        entry(i, 5, 'q'.repeat(60)),
      ]);
    await s.close();
    const files = await walFiles();
    expect(files.length).toBeGreaterThan(1);
    const tail = files[files.length - 1] as string;
    const tailBytes = await readFile(tail);
    // Keep only the first 5 bytes of the newest segment: its header records are torn.
    await writeFile(tail, tailBytes.subarray(0, 5));
    const { s: s2, state } = await reopen({ segmentBytes: 300 });
    expect(state.hardState).toEqual({ term: 5, vote: 'c', commit: 0 });
    const lastIndex = state.entries[state.entries.length - 1]?.index as number;
    await s2.save(undefined, [entry(lastIndex + 1, 5, 'q'.repeat(60))]);
    // A snapshot covering everything lets compaction drop every older segment.
    await s2.saveSnapshot({
      meta: { index: lastIndex + 1, term: 5, membership },
      data: bytes('all'),
    });
    await s2.close();
    const { s: s3, state: after } = await reopen({ segmentBytes: 300 });
    expect(after.hardState).toEqual({ term: 5, vote: 'c', commit: 0 });
    expect(after.snapshot?.index).toBe(lastIndex + 1);
    await s3.close();
  });

  it('compaction deletes whole segments below the snapshot and recovery still works', async () => {
    const { s } = await reopen({ segmentBytes: 1024 });
    for (let i = 1; i <= 100; i++)
      await s.save({ term: 2, vote: 'a', commit: i - 1 }, [entry(i, 2, 'z'.repeat(50))]);
    const before = s.segmentFiles().length;
    await s.saveSnapshot({ meta: { index: 60, term: 2, membership }, data: bytes('sm@60') });
    const after = s.segmentFiles().length;
    expect(after).toBeLessThan(before);
    // Appends after the compaction, with an overwrite of the tail.
    await s.save({ term: 3, vote: 'b', commit: 90 }, range(95, 110, 3));
    await s.close();
    expect((await walFiles()).length).toBe(s.segmentFiles().length);
    expect((await readdir(join(dir, 'snap'))).filter((n) => n.endsWith('.snap'))).toHaveLength(1);
    const { s: s2, state } = await reopen({ segmentBytes: 1024 });
    expect(state.snapshot?.index).toBe(60);
    expect(new TextDecoder().decode(state.snapshotData)).toBe('sm@60');
    expect(state.entries.map((e) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => i + 61));
    expect(state.entries.find((e) => e.index === 95)?.term).toBe(3);
    expect(state.entries.find((e) => e.index === 94)?.term).toBe(2);
    expect(state.hardState).toEqual({ term: 3, vote: 'b', commit: 90 });
    // A second snapshot compacts further and the older snapshot file goes away.
    await s2.saveSnapshot({ meta: { index: 105, term: 3, membership }, data: bytes('sm@105') });
    await s2.compact(105);
    await s2.close();
    const { s: s3, state: st3 } = await reopen({ segmentBytes: 1024 });
    expect(st3.snapshot?.index).toBe(105);
    expect(st3.entries.map((e) => e.index)).toEqual([106, 107, 108, 109, 110]);
    expect(await readdir(join(dir, 'snap'))).toEqual(['0000000000000069.snap']);
    await s3.close();
  });

  it('rejects a snapshot file whose checksum does not match', async () => {
    const { s } = await reopen();
    await s.save({ term: 1, vote: 'a', commit: 3 }, range(1, 3, 1));
    await s.saveSnapshot({ meta: { index: 3, term: 1, membership }, data: bytes('important') });
    await s.close();
    const snap = join(dir, 'snap', '0000000000000003.snap');
    const buf = await readFile(snap);
    buf[buf.length - 2] = (buf[buf.length - 2] as number) ^ 0x10;
    await writeFile(snap, buf);
    const err = await new FileStorage({ dir }).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).file).toBe(snap);
  });

  it('ignores a snapshot file written without its WAL marker (crash between the two)', async () => {
    const { s } = await reopen();
    await s.save({ term: 1, vote: 'a', commit: 3 }, range(1, 3, 1));
    await s.saveSnapshot({ meta: { index: 2, term: 1, membership }, data: bytes('s2') });
    await s.close();
    // As if the process died after renaming snapshot 3 into place but before its marker reached the WAL.
    const other = await mkdtemp(join(tmpdir(), 'raft-storage-other-'));
    const o = new FileStorage({ dir: other });
    await o.load();
    await o.saveSnapshot({ meta: { index: 3, term: 1, membership }, data: bytes('s3') });
    await o.close();
    await writeFile(
      join(dir, 'snap', '0000000000000003.snap'),
      await readFile(join(other, 'snap', '0000000000000003.snap')),
    );
    await rm(other, { recursive: true, force: true });
    const { s: s2, state } = await reopen();
    expect(state.snapshot?.index).toBe(2);
    expect(new TextDecoder().decode(state.snapshotData)).toBe('s2');
    expect(state.entries.map((e) => e.index)).toEqual([3]);
    await s2.close();
  });
});
