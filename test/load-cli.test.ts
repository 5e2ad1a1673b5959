/**
 * `coxswain load` as a user runs it (the real CLI, from source) against a real local HTTP server:
 * it holds a target rate in open-model mode, follows a trace replayed faster, and counts arrivals
 * that find the concurrency bound full as dropped instead of delaying them.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type LoadSummary, nextArrival, seededRandom } from '@coxswain/cli';
import { makeTempDir, removeDir } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const bin = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
const dir = makeTempDir('cxload-');

let server: Server;
let base: string;
let received = 0;
let inFlight = 0;
let maxInFlight = 0;
let delayMs = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    received++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      res.end('ok');
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await removeDir(dir);
});

function reset(delay: number) {
  received = 0;
  inFlight = 0;
  maxInFlight = 0;
  delayMs = delay;
}

function load(...args: string[]): Promise<LoadSummary & { progressLines: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@coxswain/source', '--import', tsx, bin, 'load', base, '--json', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load exited ${code}: ${err}`));
      else resolve({ ...JSON.parse(out), progressLines: err.split('\n').filter(Boolean).length });
    });
  });
}

describe('coxswain load', () => {
  it('holds a constant target rate within 5 %', async () => {
    reset(1);
    const s = await load('--rate', '200', '--duration', '5', '--seed', '7');
    // The seeded Poisson schedule's own count (its noise is the process's, not the generator's).
    const random = seededRandom(7);
    let scheduled = 0;
    for (let t = nextArrival(0, () => 200, 200, 5, random); t !== undefined; scheduled++)
      t = nextArrival(t, () => 200, 200, 5, random);
    const rate = received / s.elapsedSeconds;
    const target = scheduled / 5;
    console.log(
      `load: Poisson 200/s (this seed's schedule ${target.toFixed(1)}/s), server received ` +
        `${rate.toFixed(1)}/s over ${s.elapsedSeconds.toFixed(2)} s, p95 ${s.p95Ms} ms`,
    );
    expect(Math.abs(rate - target) / target).toBeLessThan(0.05);
    expect(received).toBe(scheduled);
    expect(s.sent).toBe(received);
    expect(s.dropped).toBe(0);
    expect(s.ok).toBe(received);
    expect(s.progressLines).toBeGreaterThanOrEqual(3);
  });

  it('follows a trace replayed faster', async () => {
    reset(1);
    const trace = join(dir, 'trace.csv');
    writeFileSync(trace, 't_seconds,requests\n0,60\n60,180\n120,60\n');
    // 60 s bins at --speedup 60: 1 s each, at 60, 180 and 60 req/s.
    const s = await load('--trace', trace, '--speedup', '60', '--seed', '3');
    expect(s.elapsedSeconds).toBeGreaterThan(2.9);
    expect(s.elapsedSeconds).toBeLessThan(3.5);
    expect(Math.abs(received - 300) / 300).toBeLessThan(0.12);
  });

  it('counts arrivals at the concurrency bound as dropped, never delayed', async () => {
    reset(500);
    const s = await load('--rate', '40', '--duration', '3', '--concurrency', '4', '--seed', '11');
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(s.dropped).toBeGreaterThan(50);
    expect(s.sent + s.dropped).toBe(s.arrivals);
    expect(s.sent).toBe(received);
    // At most 4 in flight for 500 ms each: about 8 per second get through.
    expect(s.sent).toBeLessThanOrEqual(4 * 7);
  });
});
