// `coxswain agent` and `coxswain nodes` as processes, the way an operator runs
// them: settings from a file, COXSWAIN_* variables and flags; a bad config
// refused with the file and field named; `nodes` listing the running agent;
// SIGTERM stopping the agent cleanly.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LABELS, type NodeReport } from '@coxswain/protocol';
import {
  BUSYBOX_IMAGE,
  Dockerd,
  ensureBusyboxImage,
  freePort,
  NatsServer,
  pollUntil,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const testDir = dirname(fileURLToPath(import.meta.url));
const bin = join(testDir, '../packages/cli/src/bin.ts');

/** Runs the CLI from its TypeScript sources (no build needed), as vitest does. */
function cli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx/esm', '--conditions=@coxswain/source', bin, ...args],
    {
      cwd: testDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

async function finish(
  child: ChildProcess,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, stdout, stderr };
}

let ns: NatsServer;
let dockerd: Dockerd;
let dir: string;

beforeAll(async () => {
  ns = await NatsServer.start();
  dockerd = await Dockerd.start();
  await ensureBusyboxImage(dockerd.docker);
  const c = await dockerd.docker.createContainer({
    Image: BUSYBOX_IMAGE,
    Cmd: ['sleep', '100000'],
    Labels: { [LABELS.service]: 'web' },
  });
  await c.start();
  dir = mkdtempSync(join(tmpdir(), 'cox-cli-'));
});

afterAll(async () => {
  await dockerd?.stop();
  await ns?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('coxswain agent (process)', () => {
  it('refuses a bad config, naming the file and the field, with exit code 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'nodeId: n1\nnats:\n  servers: ["http://nope"]\n');
    const result = await finish(cli(['agent', '--config', file]));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: invalid agent config: at nats.servers[0]:`);
  });

  it('runs from file + env + flags, is listed by `coxswain nodes`, and stops cleanly on SIGTERM', async () => {
    const file = join(dir, 'agent.yaml');
    // The file says one cluster and interval; the variable and the flag override them.
    writeFileSync(
      file,
      `nodeId: n1\ncluster: fromfile\nsampleIntervalMs: 5s\napi:\n  host: 127.0.0.1\n  port: 1\n`,
    );
    const apiPort = await freePort();
    const agent = cli(
      [
        'agent',
        '--config',
        file,
        '--nats',
        ns.url,
        '--api-port',
        String(apiPort),
        '--sample-interval',
        '300ms',
      ],
      {
        COXSWAIN_CLUSTER: 'clitest',
        COXSWAIN_DOCKER_SOCKET: dockerd.socketPath,
        COXSWAIN_LOG_FORMAT: 'json',
      },
    );
    const exited = finish(agent, 90_000);
    try {
      await pollUntil(
        'the agent to be ready',
        async () => {
          try {
            const r = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
            return r.status === 200 ? true : undefined;
          } catch {
            return undefined;
          }
        },
        60_000,
        200,
      );
      const json = await finish(
        cli(['nodes', '--nats', ns.url, '--cluster', 'clitest', '--wait', '1500ms', '--json']),
      );
      expect(json.code).toBe(0);
      const reports = JSON.parse(json.stdout) as NodeReport[];
      expect(reports.map((r) => r.nodeId)).toEqual(['n1']);
      expect(reports[0]!.services.web?.containerCount).toBe(1);
      const table = await finish(
        cli(['nodes', '--nats', ns.url, '--cluster', 'clitest', '--wait', '1s']),
      );
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^NODE\s+ROLE/);
      expect(table.stdout).toMatch(/\nn1\s+client\s+127\.0\.0\.1\s+ok\s+\S+\s+web\s+1\/1/);
      // Nobody reports on another cluster: exit 1 with a clear line.
      const empty = await finish(
        cli(['nodes', '--nats', ns.url, '--cluster', 'other', '--wait', '500ms']),
      );
      expect(empty.code).toBe(1);
      expect(empty.stdout).toContain('no node reported on cox.other.report.*');
    } finally {
      agent.kill('SIGTERM');
    }
    const result = await exited;
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toContain('agent started');
    expect(lines.at(-1)!.msg).toBe('agent stopped');
  });
});
