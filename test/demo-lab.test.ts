/**
 * The README's first command, shortened, end to end with real parts: `coxswain lab` (the demo
 * scenario) as a user runs it, built: three netns hosts each with its own dockerd and agent, a
 * 3-server NATS cluster, the sample chain under the predictive policy, a real nginx kept current
 * by the endpoints watcher, a NASA day replayed through it in 90 s, the kill-leader-host
 * experiment in the middle. What it asserts comes from the demo's own report (validated with its
 * zod schema) and from the machine after it exited: order scaled up under the load and back down,
 * requests through nginx succeeded, the leader's host was killed and the cluster healed within
 * the experiment's SLA, the HTML report holds the same figures and the series it charts, and
 * nothing it started is still running.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DemoReport } from '@coxswain/protocol';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('the demo (coxswain lab), shortened', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cox-demo-'));
  let passed = false;
  // A failed run keeps its state dir (agent logs, nginx's logs, the chaos journal) to look at.
  afterAll(() => {
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`demo test: kept ${dir}`);
  });

  it('scales the chain up and down by forecast behind nginx, heals a leader-host kill, reports, and leaves nothing running', async () => {
    // The agents run the built CLI too (the lab's default agent binary), so the demo must be built.
    expect(existsSync(CLI), `${CLI} missing: run pnpm exec tsc --build first`).toBe(true);
    const reportPath = join(dir, 'report.txt');
    const child = spawn(
      process.execPath,
      [
        CLI,
        'lab',
        '--load',
        '90s',
        '--chaos-at',
        '50s',
        '--state-dir',
        join(dir, 'state'),
        '--report',
        reportPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const started = performance.now();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const seconds = (performance.now() - started) / 1000;
    console.log(`demo: exit ${code} after ${seconds.toFixed(0)} s\n${stderr}`);
    expect(code, `stderr:\n${stderr}\nstdout tail:\n${stdout.slice(-3000)}`).toBe(0);

    // Progress lines while images build and hosts start.
    expect(stderr).toMatch(/demo \[1\/6\] starting the lab/);
    expect(stderr).toMatch(/host-1: image sample-app ready/);
    expect(stderr).toMatch(/demo \[4\/6\] the chain answers through nginx/);

    const text = readFileSync(reportPath, 'utf8');
    console.log(text);
    const decoded = DemoReport.safeParse(
      JSON.parse(readFileSync(reportPath.replace(/\.txt$/, '.json'), 'utf8')),
    );
    expect(decoded.success, decoded.error?.message).toBe(true);
    const report = decoded.data!;
    expect(report.outcome).toBe('completed');
    expect(stdout).toContain(text.split('\n')[0]!);

    // The HTML report beside them, its path printed: the same report embedded, the series it
    // charts filled from the run (replicas every second, the leader's rates and forecast, the
    // offered load from nginx's log). That it draws in a browser is demo-report-html.test.ts.
    const htmlPath = reportPath.replace(/\.txt$/, '.html');
    expect(stdout).toContain(`report with charts: ${htmlPath}`);
    const html = readFileSync(htmlPath, 'utf8');
    const embedded = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(
      html,
    );
    expect(embedded).not.toBeNull();
    expect(DemoReport.parse(JSON.parse(embedded![1]!))).toEqual(report);
    expect(html).toContain('uPlot');
    for (const s of report.services) {
      expect(s.series.length, s.name).toBeGreaterThan(report.loadSeconds * 0.5);
      expect(
        s.series.some((p) => (p.offeredRps ?? 0) > 0),
        s.name,
      ).toBe(true);
      expect(
        s.series.some((p) => (p.measuredRps ?? 0) > 0),
        s.name,
      ).toBe(true);
      expect(
        s.series.some((p) => p.forecastRps !== null),
        s.name,
      ).toBe(true);
      expect(Math.max(...s.series.map((p) => p.running)), s.name).toBe(s.maxReplicas);
    }

    // Under the load the policy took order above its minimum of 1, and back down after the peak.
    const order = report.services.find((s) => s.name === 'order')!;
    expect(order.maxReplicas, JSON.stringify(order.decisions)).toBeGreaterThan(1);
    const firstUp = order.decisions.find((d) => d.to > d.from);
    expect(firstUp, JSON.stringify(order.decisions)).toBeDefined();
    const downAfterUp = order.decisions.find(
      (d) => d.to < d.from && d.atSeconds > firstUp!.atSeconds,
    );
    expect(downAfterUp, JSON.stringify(order.decisions)).toBeDefined();
    expect(order.replicaSeconds).toBeGreaterThan(0);

    // Requests through nginx: the load's own count and nginx's access log agree it served them.
    expect(report.load.sent).toBeGreaterThan(500);
    expect(report.load.ok / report.load.sent).toBeGreaterThanOrEqual(0.99);
    for (const s of report.services) {
      expect(s.requests, s.name).toBeGreaterThan(500);
      expect(s.okPercent, s.name).toBeGreaterThanOrEqual(99);
      expect(s.p99Ms, s.name).not.toBeNull();
    }
    expect(report.nginxReloads).toBeGreaterThan(3);

    // The leader's host was killed; a new leader healed the cluster within the SLA.
    const chaos = report.chaos!;
    expect(chaos, text).not.toBeNull();
    expect(chaos.verdict, text).toBe('passed');
    expect(chaos.killedHost).toBe(chaos.leaderBefore);
    expect(chaos.leaderAfter).not.toBeNull();
    expect(chaos.leaderAfter).not.toBe(chaos.leaderBefore);
    expect(chaos.phases.map((p) => p.phase)).toEqual(['detect', 'decide', 'recover']);
    for (const p of chaos.phases) {
      expect(p.ms, p.phase).not.toBeNull();
      expect(p.met, p.phase).toBe(true);
    }
    expect(text).toMatch(/chaos: demo-kill-leader-host .*PASSED/);

    // Nothing left running: the demo says so, and the machine agrees.
    expect(report.cleanup.leftRunning).toEqual([]);
    expect(report.cleanup.pids.length).toBeGreaterThan(10);
    expect(report.cleanup.pids.filter(alive)).toEqual([]);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const n of report.cleanup.netns) expect(netns).not.toContain(n);
    expect(report.cleanup.netns.length).toBe(3);
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(ps).not.toContain(join(dir, 'state'));
    passed = true;
  }, 300_000);
});
