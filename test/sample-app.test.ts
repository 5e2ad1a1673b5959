// The sample app (deploy/sample-app/server.mjs): the order -> storage + account chain as real
// processes, its Prometheus metrics, and its image (built by docker import, no registry) running
// under a 0.1 CPU limit, where a modest request rate saturates a replica.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  Dockerd,
  ensureSampleAppImage,
  freePort,
  pollUntil,
  SAMPLE_APP_IMAGE,
  sampleAppServerPath,
} from '@coxswain/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const children: ChildProcess[] = [];
let dockerd: Dockerd | undefined;

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await dockerd?.stop();
});

async function startRole(role: string, env: Record<string, string> = {}): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [sampleAppServerPath()], {
    env: { ...process.env, ROLE: role, PORT: String(port), WORK_HASHES: '2000', ...env },
    stdio: 'ignore',
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(base);
  return base;
}

async function waitHealthy(base: string) {
  await pollUntil(
    `${base}/health`,
    async () => {
      try {
        return (await fetch(`${base}/health`)).ok || undefined;
      } catch {
        return undefined;
      }
    },
    15_000,
    50,
  );
}

/** utime + stime of a process, in seconds (clock ticks of 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function metric(text: string, line: RegExp): number {
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? Number.NaN : Number(m.slice(m.lastIndexOf(' ') + 1));
}

/** Closed-loop load at `concurrency` for `seconds`: the completed-request rate. */
async function throughput(url: string, concurrency: number, seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await fetch(url, { method: 'POST' });
        await r.arrayBuffer();
        if (r.ok) done++;
      }
    }),
  );
  return done / seconds;
}

describe('sample app', () => {
  it('an order reaches storage and account, and the metrics count it by name', async () => {
    const storage = await startRole('storage');
    const account = await startRole('account');
    const order = await startRole('order', { STORAGE_URL: storage, ACCOUNT_URL: account });
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${order}/order/create?userId=7&productId=3&count=2&money=10`, {
        method: 'POST',
      });
      expect(r.status).toBe(200);
      const body = (await r.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        ok: true,
        storage: { productId: 3, deducted: 2 },
        account: { userId: 7, debited: 10 },
      });
    }
    const bad = await fetch(`${order}/order/create?userId=x`, { method: 'POST' });
    expect(bad.status).toBe(400);
    const om = await (await fetch(`${order}/metrics`)).text();
    expect(metric(om, /^http_requests_total\{route="\/order\/create",code="200"\}/)).toBe(3);
    expect(metric(om, /^http_requests_total\{route="\/order\/create",code="400"\}/)).toBe(1);
    expect(metric(om, /^http_request_duration_seconds_count /)).toBe(4);
    expect(om).toContain('# TYPE http_request_duration_seconds histogram');
    const sm = await (await fetch(`${storage}/metrics`)).text();
    expect(metric(sm, /^http_requests_total\{route="\/storage\/deduct",code="200"\}/)).toBe(3);
    const am = await (await fetch(`${account}/metrics`)).text();
    expect(metric(am, /^http_requests_total\{route="\/account\/debit",code="200"\}/)).toBe(3);
  });

  it('its imported image runs a replica that saturates under a 0.1 CPU limit', async () => {
    // Per-request CPU cost, from the CPU time (/proc/PID/stat) an unlimited process spends on N requests.
    const free = await startRole('storage');
    const pid = children[children.length - 1]?.pid as number;
    const url = (b: string) => `${b}/storage/deduct?productId=1&count=1`;
    await throughput(url(free), 1, 1); // warm up
    const cpu0 = cpuSeconds(pid);
    const n = 100;
    for (let i = 0; i < n; i++) await (await fetch(url(free), { method: 'POST' })).arrayBuffer();
    const costSeconds = (cpuSeconds(pid) - cpu0) / n;
    const predicted = 0.1 / costSeconds;

    dockerd = await Dockerd.start();
    await ensureSampleAppImage(dockerd.docker);
    const port = await freePort();
    const container = await dockerd.docker.createContainer({
      Image: SAMPLE_APP_IMAGE,
      Env: ['ROLE=storage', `PORT=${port}`, 'WORK_HASHES=2000'],
      HostConfig: { NetworkMode: 'host', NanoCpus: 100_000_000 },
    });
    await container.start();
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base);
    await throughput(url(base), 4, 2); // warm up (the JIT under the limit)
    const limited = await throughput(url(base), 4, 6);
    console.log(
      `sample-app storage, WORK_HASHES=2000: ${(costSeconds * 1000).toFixed(2)} ms CPU per request, ` +
        `predicted ${predicted.toFixed(1)} req/s at 0.1 CPU, measured ${limited.toFixed(1)} req/s`,
    );
    // The limit binds: the replica serves requests, and never more than 0.1 CPU's worth (CFS
    // quota). How far below that it lands is the machine's business, not this test's: the quota
    // also pays for V8's JIT and GC threads, and on this shared 2-core machine the measured share
    // of the prediction ranged 0.14–0.62 between runs of the same code.
    expect(limited).toBeGreaterThan(1);
    expect(limited).toBeLessThan(predicted * 1.5);
    await container.remove({ force: true });
  });
});
