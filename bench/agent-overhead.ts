// What the agent costs its host: one agent process (the built CLI,
// `node packages/cli/dist/bin.js agent`) watching 50 labelled containers,
// sampling and reporting every second for ~60 s. CPU (% of one core) and RSS
// come from /proc/<pid>/stat and /proc/<pid>/status once a second; the bench
// also counts the reports on NATS so an idle, broken agent cannot look cheap.
//
// Needs a build first: `pnpm exec tsc --build packages/cli`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { decode, LABELS, MAX_REPORT_BYTES, NodeReport, subjects } from '@coxswain/protocol';
import {
  BUSYBOX_IMAGE,
  Dockerd,
  ensureBusyboxImage,
  freePort,
  NatsServer,
} from '@coxswain/testkit';
import { connect } from 'nats';
import { percentile, recordResult } from './lib/results.js';

const CONTAINERS = 50;
const WARMUP_S = 8;
const MEASURE_S = 60;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/cli/dist/bin.js');
const CLOCK_TICKS_PER_SECOND = 100;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<void> {
  if (!existsSync(bin))
    throw new Error(`${bin} missing: build first (pnpm exec tsc --build packages/cli)`);
  const ns = await NatsServer.start();
  const dockerd = await Dockerd.start();
  let agent: ChildProcess | undefined;
  let stderr = '';
  const nc = await connect({ servers: ns.url });
  try {
    await ensureBusyboxImage(dockerd.docker);
    for (let i = 0; i < CONTAINERS; i++) {
      const c = await dockerd.docker.createContainer({
        Image: BUSYBOX_IMAGE,
        Cmd: ['sleep', '100000'],
        Labels: { [LABELS.service]: `svc-${i % 5}` },
      });
      await c.start();
    }
    const reports: NodeReport[] = [];
    let invalid = 0;
    nc.subscribe(subjects('bench').report('n1'), {
      callback: (_e, msg) => {
        const r = decode(NodeReport, msg.data, { maxBytes: MAX_REPORT_BYTES });
        if (r.ok) reports.push(r.value);
        else invalid++;
      },
    });
    const apiPort = await freePort();
    agent = spawn(
      process.execPath,
      [
        bin,
        'agent',
        '--node-id',
        'n1',
        '--cluster',
        'bench',
        '--nats',
        ns.url,
        '--docker-socket',
        dockerd.socketPath,
        '--api-host',
        '127.0.0.1',
        '--api-port',
        String(apiPort),
        '--sample-interval',
        '1s',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    agent.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const pid = agent.pid!;
    await sleep(WARMUP_S * 1000);
    if (agent.exitCode !== null) throw new Error(`agent exited early: ${stderr}`);
    const reportsAtStart = reports.length;
    const cpu: number[] = [];
    const rss: number[] = [];
    let lastTicks = cpuTicks(pid);
    let lastAt = performance.now();
    const firstTicks = lastTicks;
    const firstAt = lastAt;
    for (let s = 0; s < MEASURE_S; s++) {
      await sleep(1000);
      const ticks = cpuTicks(pid);
      const at = performance.now();
      cpu.push(((ticks - lastTicks) / CLOCK_TICKS_PER_SECOND / ((at - lastAt) / 1000)) * 100);
      rss.push(rssBytes(pid) / 1024 ** 2);
      lastTicks = ticks;
      lastAt = at;
    }
    const meanCpu =
      ((lastTicks - firstTicks) / CLOCK_TICKS_PER_SECOND / ((lastAt - firstAt) / 1000)) * 100;
    const window = reports.slice(reportsAtStart);
    const last = window.at(-1);
    const counted = last ? last.containers.length : 0;
    console.log(
      `agent CPU mean ${meanCpu.toFixed(2)} % (p50 ${percentile(cpu, 50).toFixed(1)}, p99 ${percentile(cpu, 99).toFixed(1)}); RSS p50 ${percentile(rss, 50).toFixed(1)} MB p99 ${percentile(rss, 99).toFixed(1)} MB; ${window.length} reports in ${MEASURE_S} s with ${counted} containers; ${invalid} invalid`,
    );
    if (counted !== CONTAINERS)
      throw new Error(`agent reported ${counted} containers, expected ${CONTAINERS}`);
    // Sanity of the agent's own figure: its sample duration from /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const sum = Number(/coxswain_sample_duration_seconds_sum (\S+)/.exec(metrics)?.[1]);
    const count = Number(/coxswain_sample_duration_seconds_count (\S+)/.exec(metrics)?.[1]);
    const meanSampleMs = (sum / count) * 1000;
    recordResult({
      benchmark: 'agent-overhead',
      figures: [
        {
          name: 'agent CPU (% of one core), per-second samples',
          value: percentile(cpu, 50),
          unit: '%',
          p50: percentile(cpu, 50),
          p99: percentile(cpu, 99),
          samples: cpu.length,
          target: '<= 3 %',
        },
        {
          name: 'agent CPU, mean over the window',
          value: meanCpu,
          unit: '%',
          samples: cpu.length,
          target: '<= 3 %',
        },
        {
          name: 'agent RSS',
          value: percentile(rss, 50),
          unit: 'MB',
          p50: percentile(rss, 50),
          p99: percentile(rss, 99),
          samples: rss.length,
          target: '<= 120 MB',
        },
        {
          name: 'reports received (1 s interval)',
          value: window.length,
          unit: `in ${MEASURE_S} s`,
          samples: window.length,
        },
        {
          name: 'mean sample duration (agent /metrics)',
          value: meanSampleMs,
          unit: 'ms',
          samples: count,
        },
      ],
      notes: [
        `One agent process (node ${bin.replace(`${root}/`, '')} agent, built JS) with ${CONTAINERS} running busybox containers labelled in 5 services, on a private dockerd and nats-server from the test kit; sampling and reporting every 1 s; ${WARMUP_S} s warm-up, then ${MEASURE_S} one-second samples of /proc/<pid>/stat (utime+stime) and VmRSS.`,
        'Stats come from the cgroup v1 files (no Docker stats API calls); container state comes from the engine event stream (no polling).',
        'CPU per-second samples are quantised to 1 tick (10 ms = 1 %), so the mean over the window is the finer figure.',
        'No peer runs here (a peer agent such as cAdvisor or the Docker stats API is not installed on this machine).',
        "Machine shared with other engineers' builds and tests during the run.",
      ].join(' '),
    });
  } finally {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await Promise.race([new Promise((r) => agent!.once('exit', r)), sleep(5000)]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    await nc.close();
    await dockerd.stop();
    await ns.stop();
  }
}
