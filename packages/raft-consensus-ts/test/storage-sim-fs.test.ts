import { describe, expect, it } from 'vitest';
import { FaultyFs } from '../sim/faulty-fs.js';
import { Process, Scheduler } from '../sim/sim-scheduler.js';
import { Prng } from '../src/core/prng.js';
import { FileStorage } from '../src/storage/file-storage.js';
import type { Entry } from '../src/types.js';

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(`e${index}`),
});
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Runs the scheduler until `p` settles (or `stop()` says to stop first). */
async function drive<T>(s: Scheduler, p: Promise<T>, stop?: () => boolean): Promise<T | 'stopped'> {
  let done = false;
  const watched = p.finally(() => {
    done = true;
  });
  // Handled by the caller once returned; without this the rejection looks unhandled meanwhile.
  watched.catch(() => undefined);
  for (;;) {
    await flush();
    if (done) return watched;
    if (stop?.()) return 'stopped';
    if (!s.step(Number.POSITIVE_INFINITY)) {
      await flush();
      if (!done) throw new Error('nothing left to run and the operation is still pending');
    }
  }
}

describe('FileStorage on the simulated disk', () => {
  it('makes records a killed process left unsynced durable before a new process acts on them', async () => {
    const sched = new Scheduler();
    const fs = new FaultyFs(sched, new Prng(7));
    fs.faults.maxFsyncMs = 5;
    const p1 = new Process('a', 1);
    const s1 = new FileStorage({ dir: '/d', fs: fs.api(p1) });
    await drive(sched, s1.load());
    await drive(sched, s1.save({ term: 1, vote: 'a', commit: 0 }, [entry(1, 1)]));
    // Kill the process once entry 2 is written but not yet synced: it sits in the page cache.
    const r = await drive(sched, s1.save(undefined, [entry(2, 1)]), () => fs.hasUnsynced());
    expect(r).toBe('stopped');
    p1.alive = false;
    const p2 = new Process('a', 2);
    const loaded = await drive(sched, new FileStorage({ dir: '/d', fs: fs.api(p2) }).load());
    expect(loaded !== 'stopped' && loaded.entries.map((e) => e.index)).toEqual([1, 2]);
    // The new process may ack entry 2 now; a power loss must not take it back.
    p2.alive = false;
    fs.crash();
    const p3 = new Process('a', 3);
    const after = await drive(sched, new FileStorage({ dir: '/d', fs: fs.api(p3) }).load());
    expect(after !== 'stopped' && after.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('detects a flipped bit in synced data and refuses to load', async () => {
    const sched = new Scheduler();
    const fs = new FaultyFs(sched, new Prng(3));
    const p1 = new Process('a', 1);
    const s1 = new FileStorage({ dir: '/d', fs: fs.api(p1) });
    await drive(sched, s1.load());
    for (let i = 1; i <= 5; i++)
      await drive(sched, s1.save({ term: i, vote: 'a', commit: 0 }, [entry(i, i)]));
    p1.alive = false;
    fs.crash();
    expect(fs.flipBit()).toBeDefined();
    const p2 = new Process('a', 2);
    await expect(
      drive(sched, new FileStorage({ dir: '/d', fs: fs.api(p2) }).load()),
    ).rejects.toMatchObject({ code: 'RAFT_STORAGE_CORRUPT' });
  });
});
