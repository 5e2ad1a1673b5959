/**
 * The soak of issue #12 item 6, as a function the benchmark (bench/soak.ts) and its short form
 * (bench/test/soak.test.ts) share: three voters run as a user runs them (`coxswain agent` from
 * the CLI's build, one OS process each) on one real nats-server, and `hosts` simulated hosts
 * spread over `processes` OS processes (soak-hosts.ts) report at 1 Hz and answer commands.
 * Load steps on a few services every `stepEveryMs` make the leader decide and command.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiReply,
  ApiRequest,
  type ApiRequest as ApiRequestType,
  decode,
  encode,
  PROTOCOL_VERSION,
  subjects,
} from '@coxswain/protocol';
import { freePort, NatsServer } from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import type { CommandSeen } from './soak-hosts.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const CLUSTER = 'soak';
const TOKEN = 'soak-bench-token';
const VOTERS = ['v1', 'v2', 'v3'];

export interface SoakOptions {
  readonly hosts: number;
  readonly services: number;
  readonly durationMs: number;
  readonly processes: number;
  readonly intervalMs?: number;
  readonly stepEveryMs?: number;
  /** Sampling period of each voter's CPU and RSS. */
  readonly sampleEveryMs?: number;
  /** Extra node flags for the voters (e.g. --cpu-prof). */
  readonly voterNodeArgs?: readonly string[];
  readonly log?: (line: string) => void;
}

/** Niceness of the simulated hosts' processes (the voters and nats-server keep 0). */
export const HOSTS_NICE = 10;

export interface ProcSample {
  /** Seconds since the simulated hosts were all up. */
  readonly t: number;
  /** The voter sampled; every voter is sampled each period. */
  readonly voter: string;
  /** Whether this voter was the newest elected leader (by its log) when sampled. */
  readonly leading: boolean;
  readonly cpuPercent: number;
  readonly rssMiB: number;
}

export interface ProgressSample {
  readonly t: number;
  /** Reports the hosts had sent (as of their last 1 s tally) and the leader had accepted. */
  readonly sent: number;
  readonly accepted: number;
  readonly natsReconnects: number;
  readonly commands: number;
  /** Event-loop lag p99 of each voter (prom-client's histogram since start), s. */
  readonly lagP99S?: Record<string, number>;
  /** V8 heap used of the leader, MiB (RSS is the ProcSample). */
  readonly heapUsedMiB?: number;
  /** Each voter's memory by kind, MiB: V8 heap committed and used, external (Buffers), RSS; to tell a leak from a heap V8 lets grow. */
  readonly memoryMiB?: Record<
    string,
    { heapTotal: number; heapUsed: number; liveHeap: number; external: number; rss: number }
  >;
}

export interface LoadStep {
  readonly service: string;
  readonly at: number;
  readonly from: number;
  readonly to: number;
  /** Ms from the step to the first command for the service issued after it (leader's issuedAt). */
  decisionMs?: number;
}

export interface SoakResult {
  /** The leader at the end, and the first one elected. */
  readonly leader: string;
  readonly firstLeader: string;
  readonly leaderChanges: number;
  readonly durationS: number;
  readonly samples: ProcSample[];
  readonly sent: number;
  readonly publishErrors: number;
  /** Report messages NATS delivered to the leader (`coxswain_reports_received_total`), decoded or not. */
  readonly received: number;
  /** Reports the leader decoded and took in while leading (`coxswain_reports_accepted_total{role="client"}`). */
  readonly accepted: number;
  /** Sent minus received: reports that never reached the leader. */
  readonly lost: number;
  readonly commands: number;
  readonly commandsFailed: number;
  /** issuedAt (leader) to the simulated agent's reply, ms. */
  readonly commandMs: number[];
  readonly steps: LoadStep[];
  readonly leaderMetrics: Record<string, number>;
  readonly voterExits: string[];
  /** Each voter's metrics at the end (reports received and decoded, event-loop lag, heap). */
  readonly voterMetrics: Record<string, Record<string, number>>;
  /** Commands the leader sent to a voter's command subject. */
  readonly voterCommands: number;
  readonly progress: ProgressSample[];
  readonly commandBuckets: { le: number; count: number }[];
}

interface Voter {
  readonly id: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  exited?: string;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => {});
  const intervalMs = o.intervalMs ?? 1000;
  const stepEveryMs = o.stepEveryMs ?? 20_000;
  const sampleEveryMs = o.sampleEveryMs ?? 5000;
  const dir = await mkdtemp(join(tmpdir(), 'cox-soak-'));
  const nats = await NatsServer.start({ maxPayloadBytes: 1024 * 1024 });
  const voters: Voter[] = [];
  const sims: ChildProcess[] = [];
  let nc: NatsConnection | undefined;
  try {
    for (const id of VOTERS) voters.push(await startVoter(id, nats.url, dir, o.voterNodeArgs));
    nc = await connect({ servers: nats.url, name: 'soak-driver' });
    // Commands to voters: there should be none (they run no replicas); counted to say so.
    let voterCommands = 0;
    for (const v of VOTERS)
      nc.subscribe(subjects(CLUSTER).cmd(v), {
        callback: () => {
          voterCommands += 1;
        },
      });
    const api = async (r: ApiRequestType): Promise<ApiReply> => {
      const m = await nc!.request(subjects(CLUSTER).api, encode(ApiRequest, r), {
        timeout: 10_000,
      });
      const d = decode(ApiReply, m.data);
      if (!d.ok) throw d.error;
      return d.value;
    };
    const leaderOf = (): string | undefined => {
      let best: { id: string; term: number } | undefined;
      for (const v of voters)
        for (const line of v.lines)
          if (line.includes('"elected leader"')) {
            const term = Number((JSON.parse(line) as { term?: number }).term ?? 0);
            if (!best || term > best.term) best = { id: v.id, term };
          }
      return best?.id;
    };
    const until = Date.now() + 30_000;
    while (!leaderOf() && Date.now() < until) await sleep(100);
    const leader = leaderOf();
    if (!leader) throw new Error('soak: no voter logged "elected leader" within 30 s');
    log(`leader ${leader}`);

    const services = Array.from({ length: o.services }, (_, i) => `svc-${i}`);
    // Requests per second per service; 10 per replica is the target, so 40 starts at ~4 replicas.
    const rate = new Map(services.map((s) => [s, 40]));
    for (const name of services) {
      let reply: ApiReply | undefined;
      for (let attempt = 0; attempt < 20; attempt += 1) {
        reply = await api({
          v: PROTOCOL_VERSION,
          op: 'service.apply',
          token: TOKEN,
          spec: {
            name,
            image: 'soak/sim:1',
            env: {},
            ports: [],
            labels: {},
            // Each replica reserves 0.1 CPU, more than a voter offers (below): replicas go to the hosts only.
            resources: { cpus: 0.1 },
            minReplicas: 2,
            maxReplicas: 40,
            policy: {
              name: 'hpa',
              params: {
                metrics: [{ type: 'requests-per-replica', targetAverageValue: 10 }],
                scaleDown: {
                  stabilizationWindowSeconds: 0,
                  policies: [{ type: 'percent', value: 100, periodSeconds: 15 }],
                },
              },
            },
          },
        }).catch((e: unknown) => ({ ok: false, error: String(e) }) as unknown as ApiReply);
        if (reply.ok) break;
        await sleep(500);
      }
      if (!reply?.ok) throw new Error(`soak: service.apply ${name}: ${JSON.stringify(reply)}`);
    }

    // Simulated hosts.
    const perProcess = Math.ceil(o.hosts / o.processes);
    const totalsBy = new Map<number, Record<string, number>>();
    const sentBy = new Map<number, { sent: number; publishErrors: number }>();
    const finals = new Map<number, { sent: number; publishErrors: number }>();
    const commandsSeen: CommandSeen[] = [];
    const ready: Promise<void>[] = [];
    for (let p = 0; p < o.processes; p += 1) {
      const count = Math.min(perProcess, o.hosts - p * perProcess);
      if (count <= 0) break;
      const child = fork(
        join(here, 'soak-hosts.ts'),
        [
          JSON.stringify({
            natsUrl: nats.url,
            cluster: CLUSTER,
            prefix: `sim${p}`,
            hosts: count,
            intervalMs,
            image: 'soak/sim:1',
          }),
        ],
        {
          execArgv: ['--conditions=@coxswain/source', '--import', 'tsx'],
          // `--import tsx` resolves from the working directory: bench's own, whoever starts the soak.
          cwd: join(here, '..'),
          stdio: 'inherit',
        },
      );
      // The simulated hosts stand for a thousand other machines: at nice 10 they do not take the
      // voters' CPU on these shared cores, which made the voters miss election timeouts (19
      // elections in the 12-04 run, event-loop lag spikes of 0.3 s against a 200-400 ms timeout).
      if (child.pid !== undefined) setPriority(child.pid, HOSTS_NICE);
      sims.push(child);
      ready.push(
        new Promise((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`sim process ${p} exited (${code})`)));
          child.on('message', (m: { type: string } & Record<string, unknown>) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'totals') {
              totalsBy.set(p, m.totals as Record<string, number>);
              sentBy.set(p, { sent: Number(m.sent), publishErrors: Number(m.publishErrors) });
            } else if (m.type === 'cmd') commandsSeen.push(m as unknown as CommandSeen);
            else if (m.type === 'final')
              finals.set(p, { sent: Number(m.sent), publishErrors: Number(m.publishErrors) });
          });
        }),
      );
    }
    await Promise.all(ready);
    const t0 = Date.now();
    log(`${o.hosts} simulated hosts up in ${sims.length} processes`);

    // The per-replica rate each host multiplies by its replicas: the service's rate over the replicas reported.
    const broadcast = (): void => {
      const total: Record<string, number> = {};
      for (const t of totalsBy.values())
        for (const [s, n] of Object.entries(t)) total[s] = (total[s] ?? 0) + n;
      const perReplica: Record<string, number> = {};
      for (const s of services) perReplica[s] = (rate.get(s) ?? 0) / Math.max(1, total[s] ?? 0);
      for (const c of sims) c.send({ type: 'rates', perReplica });
    };
    const rateTimer = setInterval(broadcast, 1000);
    broadcast();

    const steps: LoadStep[] = [];
    let stepNo = 0;
    const stepTimer = setInterval(() => {
      // A few services at a time go up or down by half (within 20..300 req/s): 2..30 replicas wanted.
      for (let k = 0; k < Math.max(1, Math.floor(o.services / 5)); k += 1) {
        const s = services[(stepNo * 3 + k * 7) % services.length]!;
        const from = rate.get(s)!;
        const up = from < 60 || (from < 300 && (stepNo + k) % 2 === 0);
        const to = up ? Math.min(300, from * 1.5) : Math.max(20, from / 1.5);
        rate.set(s, to);
        steps.push({ service: s, at: Date.now(), from, to });
      }
      stepNo += 1;
      broadcast();
    }, stepEveryMs);

    // Every 30 s: what the hosts had sent and the leader had taken in, to see when any loss happened.
    const progress: ProgressSample[] = [];
    const progressTimer = setInterval(() => {
      const sentNow = [...sentBy.values()].reduce((a, f) => a + f.sent, 0);
      const t = (Date.now() - t0) / 1000;
      void Promise.all(voters.map((v) => scrape(apiPort(v)).catch(() => ({})))).then(
        (all: Record<string, number>[]) => {
          const m = all[voters.findIndex((v) => v.id === leaderOf())] ?? {};
          progress.push({
            t,
            sent: sentNow,
            accepted: m['coxswain_reports_accepted_total{role="client"}'] ?? Number.NaN,
            natsReconnects: m.coxswain_nats_reconnects_total ?? Number.NaN,
            commands: commandsSeen.length,
            lagP99S: Object.fromEntries(
              voters.map((v, i) => [v.id, all[i]?.nodejs_eventloop_lag_p99_seconds ?? Number.NaN]),
            ),
            heapUsedMiB: (m.nodejs_heap_size_used_bytes ?? Number.NaN) / 2 ** 20,
            memoryMiB: Object.fromEntries(
              voters.map((v, i) => {
                const x = all[i] ?? {};
                const mib = (k: string): number => (x[k] ?? Number.NaN) / 2 ** 20;
                return [
                  v.id,
                  {
                    heapTotal: mib('nodejs_heap_size_total_bytes'),
                    heapUsed: mib('nodejs_heap_size_used_bytes'),
                    liveHeap: mib('nodejs_heap_used_after_major_gc_bytes'),
                    external: mib('nodejs_external_memory_bytes'),
                    rss: mib('process_resident_memory_bytes'),
                  },
                ];
              }),
            ),
          });
        },
      );
    }, 30_000);

    const samples: ProcSample[] = [];
    // USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux this runs on.
    const ticks = 100;
    // Every voter, not only the first leader: leadership may move, and memory is judged per process.
    const lastTicks = new Map(voters.map((v) => [v.id, cpuTicks(v.child.pid!)]));
    let lastAt = performance.now();
    const sampleTimer = setInterval(() => {
      const now = performance.now();
      const leading = leaderOf();
      for (const v of voters) {
        const vpid = v.child.pid!;
        if (v.child.exitCode !== null) continue;
        const c = cpuTicks(vpid);
        samples.push({
          t: (Date.now() - t0) / 1000,
          voter: v.id,
          leading: v.id === leading,
          cpuPercent: (((c - (lastTicks.get(v.id) ?? c)) / ticks) * 100_000) / (now - lastAt),
          rssMiB: rssKiB(vpid) / 1024,
        });
        lastTicks.set(v.id, c);
      }
      lastAt = now;
      const s = samples.filter((x) => x.leading).at(-1);
      if (s && Math.round(s.t / (sampleEveryMs / 1000)) % 6 === 0)
        log(
          `t=${s.t.toFixed(0)} s leader ${s.voter} cpu ${s.cpuPercent.toFixed(0)}% rss ${s.rssMiB.toFixed(0)} MiB, ${commandsSeen.length} commands`,
        );
    }, sampleEveryMs);

    await sleep(o.durationMs);
    clearInterval(stepTimer);
    clearInterval(sampleTimer);
    clearInterval(rateTimer);
    clearInterval(progressTimer);

    for (const c of sims) c.send({ type: 'stop' });
    const finalsDue = Date.now() + 15_000;
    while (finals.size < sims.length && Date.now() < finalsDue) await sleep(100);
    // Reports in flight reach the voters well within this.
    await sleep(3000);
    const durationS = (Date.now() - t0) / 1000;
    // The leader at the end: every voter receives every report message, and this one took them in last.
    const leaderVoter = voters.find((v) => v.id === leaderOf()) ?? voters[0]!;
    const metrics = await scrape(apiPort(leaderVoter));
    const voterMetrics: Record<string, Record<string, number>> = {};
    for (const v of voters) {
      const m = v === leaderVoter ? metrics : await scrape(apiPort(v)).catch(() => ({}));
      voterMetrics[v.id] = Object.fromEntries(
        Object.entries(m as Record<string, number>).filter(([k]) =>
          /^(coxswain_reports_(received|decoded|accepted|published)_total|nodejs_eventloop_lag_(p50|p99|max)_seconds|nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_heap_used_after_major_gc_bytes|process_cpu_seconds_total|process_resident_memory_bytes)/.test(
            k,
          ),
        ),
      );
    }
    const accepted = metrics['coxswain_reports_accepted_total{role="client"}'] ?? Number.NaN;
    const received = metrics.coxswain_reports_received_total ?? Number.NaN;
    const sent = [...finals.values()].reduce((a, f) => a + f.sent, 0);
    const publishErrors = [...finals.values()].reduce((a, f) => a + f.publishErrors, 0);
    for (const [i, st] of steps.entries()) {
      const next = steps.slice(i + 1).find((x) => x.service === st.service)?.at ?? Infinity;
      const first = commandsSeen
        .filter((c) => c.service === st.service && c.issuedAt >= st.at && c.issuedAt < next)
        .sort((a, b) => a.issuedAt - b.issuedAt)[0];
      if (first) st.decisionMs = first.issuedAt - st.at;
    }
    const commandBuckets = Object.entries(metrics)
      .filter(([k]) => k.startsWith('coxswain_command_round_trip_seconds_bucket'))
      .map(([k, v]) => ({ le: Number(/le="([^"]+)"/.exec(k)?.[1] ?? 'NaN'), count: v }))
      .sort((a, b) => a.le - b.le);
    return {
      leader: leaderVoter.id,
      firstLeader: leader,
      leaderChanges: voters.flatMap((v) => v.lines.filter((l) => l.includes('"elected leader"')))
        .length,
      durationS,
      samples,
      sent,
      publishErrors,
      received,
      accepted,
      // The leader receives the voters' own reports too: what they published is added to what the hosts sent.
      lost:
        sent +
        Object.values(voterMetrics).reduce(
          (a, m) => a + (m.coxswain_reports_published_total ?? 0),
          0,
        ) -
        received,
      commands: commandsSeen.length,
      commandsFailed: commandsSeen.filter((c) => !c.ok).length,
      commandMs: commandsSeen.map((c) => c.repliedAt - c.issuedAt),
      steps,
      leaderMetrics: metrics,
      voterCommands,
      progress,
      voterExits: voters.filter((v) => v.exited).map((v) => `${v.id}: ${v.exited}`),
      voterMetrics,
      commandBuckets,
    };
  } finally {
    for (const c of sims) if (c.exitCode === null) c.kill('SIGKILL');
    await nc?.close().catch(() => undefined);
    await Promise.all(voters.map(stopVoter));
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function startVoter(
  id: string,
  natsUrl: string,
  dir: string,
  nodeArgs: readonly string[] = [],
): Promise<Voter> {
  const dataDir = join(dir, id);
  mkdirSync(dataDir, { recursive: true });
  const config = {
    cluster: CLUSTER,
    nodeId: id,
    voters: VOTERS,
    nats: { servers: [natsUrl] },
    // No engine on purpose: a voter without Docker starts, retries it, and reports dockerReachable false.
    docker: { socketPath: join(dataDir, 'no-docker.sock') },
    dataDir,
    api: { host: '127.0.0.1', port: await freePort(), token: TOKEN },
    // Its ordinary capacity: placement gives no replica to a node reporting dockerReachable false
    // (control decide.ts), which the soak checks (voterCommands stays 0).
    log: { level: 'info', format: 'json' },
  };
  const file = join(dir, `${id}.yaml`);
  // JSON is YAML.
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(repo, 'packages', 'cli', 'dist', 'bin.js'), 'agent', '-c', file],
    { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const v: Voter = { id, child, lines: [] };
  let buf = '';
  const keep = (line: string): void => {
    // Only what the soak reads: elections and the API port; the rest would grow without end.
    if (line.includes('"elected leader"') || line.includes('"agent started"')) v.lines.push(line);
    if (line.includes('"level":"error"') && v.lines.length < 200) v.lines.push(line);
  };
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      keep(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  child.once('exit', (code, signal) => {
    v.exited = `exit ${code ?? signal}${err ? `: ${err.slice(-500)}` : ''}`;
  });
  (v as Voter & { port: number }).port = config.api.port;
  return v;
}

function apiPort(v: Voter): number {
  return (v as Voter & { port: number }).port;
}

async function stopVoter(v: Voter): Promise<void> {
  if (v.child.exitCode !== null || v.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => v.child.once('exit', () => r()));
  v.child.kill('SIGTERM');
  const t = setTimeout(() => v.child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

/** The Prometheus text of a voter, as name{labels} → value. */
async function scrape(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

/** utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
