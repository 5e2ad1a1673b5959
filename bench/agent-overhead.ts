// What the agent costs its host: one agent process (the built CLI as installed:
// `node <the flags on bin.js's shebang> packages/cli/dist/bin.js agent`) watching 50 labelled containers,
// sampling and reporting every second for ~60 s. CPU (% of one core) and RSS
// come from /proc/<pid>/stat and /proc/<pid>/status once a second; the bench
// also counts the reports on NATS so an idle, broken agent cannot look cheap.
//
// The peer runs in the same window: bench/peers/docker-stats-poller.mjs, a
// plain-node script reading the same 50 containers' stats from the Docker stats
// API every second (one-shot calls), the floor for what reading stats through
// the engine costs a process. It prints each round's count, so it is checked
// to be working too. The engine's own CPU (dockerd, which serves those calls;
// the agent reads cgroup files and makes no periodic engine calls) is recorded
// beside it.
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
const peerScript = join(root, 'bench/peers/docker-stats-poller.mjs');
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

/** Per-second CPU (% of one core) and RSS (MB) of one process, and its mean CPU over the window. */
class ProcessSampler {
  readonly cpu: number[] = [];
  readonly rss: number[] = [];
  readonly #pid: number;
  readonly #firstTicks: number;
  readonly #firstAt: number;
  #lastTicks: number;
  #lastAt: number;

  constructor(pid: number) {
    this.#pid = pid;
    this.#firstTicks = this.#lastTicks = cpuTicks(pid);
    this.#firstAt = this.#lastAt = performance.now();
  }

  sample(): void {
    const ticks = cpuTicks(this.#pid);
    const at = performance.now();
    this.cpu.push(
      ((ticks - this.#lastTicks) / CLOCK_TICKS_PER_SECOND / ((at - this.#lastAt) / 1000)) * 100,
    );
    this.rss.push(rssBytes(this.#pid) / 1024 ** 2);
    this.#lastTicks = ticks;
    this.#lastAt = at;
  }

  get meanCpu(): number {
    return (
      ((this.#lastTicks - this.#firstTicks) /
        CLOCK_TICKS_PER_SECOND /
        ((this.#lastAt - this.#firstAt) / 1000)) *
      100
    );
  }
}

/**
 * The node flags an installed `coxswain` runs with: those on bin.js's shebang
 * (`#!/usr/bin/env -S node --flag...`). Passed explicitly, so the run does not
 * depend on the file being executable or on which `node` is first on PATH.
 */
function shebangNodeFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const words = first.replace(/^#!\s*/, '').split(/\s+/);
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  return node < 0 ? [] : words.slice(node + 1).filter(Boolean);
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export async function run(): Promise<void> {
  if (!existsSync(bin))
    throw new Error(`${bin} missing: build first (pnpm exec tsc --build packages/cli)`);
  const ns = await NatsServer.start();
  const dockerd = await Dockerd.start();
  let agent: ChildProcess | undefined;
  let peer: ChildProcess | undefined;
  let stderr = '';
  let peerStderr = '';
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
        ...shebangNodeFlags(bin),
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
    peer = spawn(process.execPath, [peerScript, dockerd.socketPath, LABELS.service, '1000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const peerRounds: number[] = [];
    let peerOut = '';
    peer.stdout?.on('data', (d: Buffer) => {
      peerOut += d.toString();
      const lines = peerOut.split('\n');
      peerOut = lines.pop() ?? '';
      for (const l of lines) peerRounds.push(Number(l));
    });
    peer.stderr?.on('data', (d: Buffer) => {
      peerStderr += d.toString();
    });
    const peerPid = peer.pid!;
    await sleep(WARMUP_S * 1000);
    if (agent.exitCode !== null) throw new Error(`agent exited early: ${stderr}`);
    if (peer.exitCode !== null) throw new Error(`peer exited early: ${peerStderr}`);
    const dockerdPid = dockerd.pid;
    if (dockerdPid === undefined) throw new Error('dockerd not running');
    const reportsAtStart = reports.length;
    const peerRoundsAtStart = peerRounds.length;
    const loadBefore = loadAverage();
    const agentSampler = new ProcessSampler(pid);
    const peerSampler = new ProcessSampler(peerPid);
    const dockerdSampler = new ProcessSampler(dockerdPid);
    for (let s = 0; s < MEASURE_S; s++) {
      await sleep(1000);
      agentSampler.sample();
      peerSampler.sample();
      dockerdSampler.sample();
    }
    const loadAfter = loadAverage();
    const { cpu, rss } = agentSampler;
    const meanCpu = agentSampler.meanCpu;
    const window = reports.slice(reportsAtStart);
    const last = window.at(-1);
    const counted = last ? last.containers.length : 0;
    const peerWindow = peerRounds.slice(peerRoundsAtStart);
    console.log(
      `agent CPU mean ${meanCpu.toFixed(2)} % (p50 ${percentile(cpu, 50).toFixed(1)}, p99 ${percentile(cpu, 99).toFixed(1)}); RSS p50 ${percentile(rss, 50).toFixed(1)} MB p99 ${percentile(rss, 99).toFixed(1)} MB; ${window.length} reports in ${MEASURE_S} s with ${counted} containers; ${invalid} invalid`,
    );
    console.log(
      `peer (stats API poller) CPU mean ${peerSampler.meanCpu.toFixed(2)} %; RSS p50 ${percentile(peerSampler.rss, 50).toFixed(1)} MB p99 ${percentile(peerSampler.rss, 99).toFixed(1)} MB; ${peerWindow.length} rounds, last ${peerWindow.at(-1)} containers; dockerd CPU mean ${dockerdSampler.meanCpu.toFixed(2)} %; load average ${loadBefore} -> ${loadAfter}`,
    );
    if (peerWindow.at(-1) !== CONTAINERS)
      throw new Error(`peer read ${peerWindow.at(-1)} containers' stats, expected ${CONTAINERS}`);
    if (counted !== CONTAINERS)
      throw new Error(`agent reported ${counted} containers, expected ${CONTAINERS}`);
    // Sanity of the agent's own figure: its sample duration from /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const sum = Number(/coxswain_sample_duration_seconds_sum (\S+)/.exec(metrics)?.[1]);
    const count = Number(/coxswain_sample_duration_seconds_count (\S+)/.exec(metrics)?.[1]);
    const meanSampleMs = (sum / count) * 1000;
    const peerCpu = {
      name: 'Docker stats API poller',
      value: peerSampler.meanCpu,
      p50: percentile(peerSampler.cpu, 50),
      p99: percentile(peerSampler.cpu, 99),
    };
    const peerRss = {
      name: 'Docker stats API poller',
      value: percentile(peerSampler.rss, 50),
      p50: percentile(peerSampler.rss, 50),
      p99: percentile(peerSampler.rss, 99),
    };
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
          target: '<= 1 %',
          peer: { ...peerCpu, value: peerCpu.p50 },
        },
        {
          name: 'agent CPU, mean over the window',
          value: meanCpu,
          unit: '%',
          samples: cpu.length,
          target: '<= 1 %',
          peer: peerCpu,
        },
        {
          name: 'agent RSS',
          value: percentile(rss, 50),
          unit: 'MB',
          p50: percentile(rss, 50),
          p99: percentile(rss, 99),
          samples: rss.length,
          target: '<= 70 MB',
          peer: peerRss,
        },
        {
          name: "dockerd CPU, mean over the window (serves the peer's stats calls)",
          value: dockerdSampler.meanCpu,
          unit: '%',
          p50: percentile(dockerdSampler.cpu, 50),
          p99: percentile(dockerdSampler.cpu, 99),
          samples: dockerdSampler.cpu.length,
        },
        {
          name: 'peer stats rounds (1 s interval)',
          value: peerWindow.length,
          unit: `in ${MEASURE_S} s`,
          samples: peerWindow.length,
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
        `One agent process (${bin.replace(`${root}/`, '')} agent, built JS, with its shebang's node flags: ${shebangNodeFlags(bin).join(' ') || 'none'}) with ${CONTAINERS} running busybox containers labelled in 5 services, on a private dockerd and nats-server from the test kit; sampling and reporting every 1 s; ${WARMUP_S} s warm-up, then ${MEASURE_S} one-second samples of /proc/<pid>/stat (utime+stime) and VmRSS.`,
        'Stats come from the cgroup v1 files (no Docker stats API calls); container state comes from the engine event stream (no polling).',
        'CPU per-second samples are quantised to 1 tick (10 ms = 1 %), so the mean over the window is the finer figure.',
        `Peer, same window: bench/peers/docker-stats-poller.mjs (plain node, node:http over the engine socket, no client library) lists the labelled containers and reads each one's one-shot stats every 1 s, all 50 at once; its CPU and RSS are sampled the same way. It is a floor for reading stats through the engine, not an agent: it does not report, serve an API or keep state. dockerd's own CPU (the dockerd process only, not containerd) is mostly serving those calls, since the agent makes no periodic engine calls.`,
        `Load average (1/5/15 min) ${loadBefore} at the window's start, ${loadAfter} at its end; machine shared with other engineers' builds and tests during the run.`,
      ].join(' '),
    });
  } finally {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await Promise.race([new Promise((r) => agent!.once('exit', r)), sleep(5000)]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    if (peer && peer.exitCode === null) {
      peer.kill('SIGTERM');
      await Promise.race([new Promise((r) => peer!.once('exit', r)), sleep(5000)]);
      if (peer.exitCode === null) peer.kill('SIGKILL');
    }
    await nc.close();
    await dockerd.stop();
    await ns.stop();
  }
}
