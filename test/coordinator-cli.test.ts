import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { API_TOKEN, NatsServer, SimCluster, waitFor } from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/cli/src/bin.ts');

// `coxswain service` end to end: the real CLI (from source) talking over NATS to three real members.
describe('coxswain service (CLI)', () => {
  let nats: NatsServer;
  let cluster: SimCluster;
  let dir: string;

  const cli = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const r = await run(
        process.execPath,
        [
          '--conditions=@coxswain/source',
          '--import',
          'tsx',
          bin,
          'service',
          '--nats',
          nats.url,
          '--cluster',
          'test',
          ...args,
        ],
        {
          cwd: join(root, 'test'),
          env: { ...process.env, ...env },
          timeout: 90_000,
        },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
    cluster = await SimCluster.start(nats);
    await cluster.waitForLeader();
    dir = mkdtempSync(join(tmpdir(), 'cox-cli-'));
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('applies, scales, lists and removes a service', async () => {
    const file = join(dir, 'svc.yaml');
    writeFileSync(
      file,
      [
        'name: cart',
        'image: coxswain/busybox:latest',
        'command: [sleep, "1000000"]',
        'minReplicas: 2',
        'maxReplicas: 8',
        '',
      ].join('\n'),
    );
    const applied = await cli(['--token', API_TOKEN, 'apply', '-f', file]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toMatch(/service cart applied \(spec version 1/);
    await waitFor('2 running', async () =>
      (await cluster.total('cart')) === 2 ? true : undefined,
    );

    const scaled = await cli(['scale', 'cart', '5'], { COXSWAIN_API_TOKEN: API_TOKEN });
    expect(scaled).toMatchObject({ code: 0, stdout: 'service cart scaled to 5\n' });
    expect(await cluster.total('cart')).toBe(5);

    const listed = await cli(['ls']);
    expect(listed.stdout).toMatch(/^SERVICE\s+VERSION\s+DESIRED\s+MANUAL/);
    expect(listed.stdout).toMatch(
      /cart\s+1\s+5\s+5\s+n1:2,n2:2,n3:1|cart\s+1\s+5\s+5\s+n1:\d,n2:\d,n3:\d/,
    );

    const removed = await cli(['--token', API_TOKEN, 'rm', 'cart']);
    expect(removed).toMatchObject({ code: 0, stdout: 'service cart removed\n' });
    await waitFor('none left', async () =>
      (await cluster.total('cart')) === 0 ? true : undefined,
    );
  });

  it('names the file and field of a bad spec, and sends nothing', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: Bad Name\nimage: x\nminReplicas: 5\nmaxReplicas: 2\n');
    const r = await cli(['--token', API_TOKEN, 'apply', '-f', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/at name: /);
  });

  it('refuses writes without the token, and says so', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'name: nope\nimage: coxswain/busybox:latest\n');
    const r = await cli(['apply', '-f', file], { COXSWAIN_API_TOKEN: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/COX_UNAUTHORIZED/);
  });
});
