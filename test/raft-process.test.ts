import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvCluster, NatsServer } from '@coxswain/testkit';
import { describe, expect, it } from 'vitest';

/**
 * Three Raft members in three OS processes over a real nats-server, FileStorage
 * with fsync. A driver keeps writing while the leader is SIGKILLed five times
 * (and restarted each time); every write the cluster acknowledged must be on
 * every node afterwards.
 */
describe('raft-consensus-ts in real processes', () => {
  it('keeps every acknowledged write through five SIGKILLs of the leader', async () => {
    await using ns = await NatsServer.start();
    const dir = await mkdtemp(join(tmpdir(), 'raft-process-'));
    const cluster = await KvCluster.start({ natsUrl: ns.url, baseDir: dir });
    try {
      const acked = new Map<string, string>();
      let target = cluster.ids[0] as string;
      let next = 0;
      let running = true;
      let writesAfterKill = 0;
      const worker = async (): Promise<void> => {
        while (running) {
          const key = `k${next++}`;
          const value = `v${key}`;
          // Retry the same key until acknowledged or the driver stops: a put is idempotent here.
          for (;;) {
            if (!running) return;
            const to = target;
            try {
              const reply = await cluster.request(to, { op: 'put', key, value }, 1000);
              if (reply.ok) {
                acked.set(key, value);
                writesAfterKill++;
                break;
              }
              if (reply.code === 'RAFT_NOT_LEADER' && reply.leader) target = reply.leader;
              else target = rotate(cluster.ids, to);
            } catch {
              target = rotate(cluster.ids, to);
            }
            await new Promise((r) => setTimeout(r, 10));
          }
        }
      };
      const workers = Array.from({ length: 8 }, () => worker());

      const terms: number[] = [];
      for (let round = 0; round < 5; round++) {
        const leader = await cluster.waitForLeader();
        terms.push((await cluster.status(leader)).term);
        // Let writes flow, then kill the leader with requests in flight.
        const before = acked.size;
        await waitFor(() => acked.size >= before + 50, 10_000);
        await cluster.kill(leader, 'SIGKILL');
        writesAfterKill = 0;
        const survivors = cluster.ids.filter((id) => id !== leader);
        const newLeader = await cluster.waitForLeader();
        expect(survivors).toContain(newLeader);
        // The new leader commits: the driver's writes resume without the killed node.
        await waitFor(() => writesAfterKill >= 20, 10_000);
        await cluster.startNode(leader);
      }
      const finalLeader = await cluster.waitForLeader();
      terms.push((await cluster.status(finalLeader)).term);
      running = false;
      await Promise.all(workers);

      // A new leader each round means the term grew every time.
      for (let i = 1; i < terms.length; i++)
        expect(terms[i]).toBeGreaterThan(terms[i - 1] as number);
      expect(acked.size).toBeGreaterThan(5 * 70);

      for (const id of cluster.ids) {
        const reply = await cluster.request(id, { op: 'dump', linearizable: true }, 10_000);
        expect(reply.ok, `${id}: ${JSON.stringify(reply)}`).toBe(true);
        const state = new Map((reply as unknown as { entries: [string, string][] }).entries);
        const missing = [...acked].filter(([k, v]) => state.get(k) !== v).map(([k]) => k);
        expect(missing, `node ${id} lacks acknowledged writes`).toEqual([]);
      }

      // The same holds from disk alone: restart every node cleanly and read again.
      for (const id of cluster.ids) {
        await cluster.kill(id, 'SIGTERM');
        await cluster.startNode(id);
      }
      await cluster.waitForLeader();
      for (const id of cluster.ids) {
        const reply = await cluster.request(id, { op: 'dump', linearizable: true }, 10_000);
        const state = new Map((reply as unknown as { entries: [string, string][] }).entries);
        expect([...acked].filter(([k, v]) => state.get(k) !== v)).toEqual([]);
      }
      const status = (await cluster.request(finalLeader, { op: 'status' })) as unknown as {
        transport: { dropped: Record<string, number> };
      };
      expect(status.transport.dropped.malformed).toBe(0);
    } finally {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

function rotate(ids: readonly string[], current: string): string {
  return ids[(ids.indexOf(current) + 1) % ids.length] as string;
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
