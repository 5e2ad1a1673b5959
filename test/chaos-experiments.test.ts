/**
 * The shipped chaos experiments against a real 3-host lab (network
 * namespaces, a dockerd each, a 3-server NATS cluster, the agents run from
 * source), one repetition each to keep the suite short, plus the runner's own
 * promises: an impossible SLA fails naming the phase, a quorum-breaking fault is
 * refused, Ctrl-C in the middle of a cut or a freeze restores the host, the
 * journal validates, the report is written, and chaos events reach NATS.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type ChaosEnv,
  EventWatcher,
  exitCodeOf,
  type LoadedExperiment,
  loadExperiment,
  parseExperiment,
  preflight,
  prepareServices,
  probeNetem,
  renderJunit,
  renderReport,
  runExperiment,
  runProbe,
  startLabFor,
} from '@coxswain/chaos';
import type { Lab } from '@coxswain/lab';
import { type ChaosJournal, ChaosJournal as JournalSchema } from '@coxswain/protocol';
import { makeTempDir, removeDir } from '@coxswain/testkit';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const bin = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
const experimentsDir = fileURLToPath(new URL('../chaos/experiments/', import.meta.url));
const SHIPPED = (
  process.env.CHAOS_EXPERIMENTS ??
  'kill-container,kill-agent,kill-host,kill-leader-host,pause-leader,kill-nats-server,partition-leader,latency-on-leader,engine-restart,cpu-stress'
).split(',');

let lab: Lab;
let env: ChaosEnv;
let events: EventWatcher;
const dir = makeTempDir('cxchaos-');
const journals: ChaosJournal[] = [];

const base = (extra: string) => `title: runner check
steadyState:
  title: web runs its replicas under one leader
  probes:
    - { name: web-replicas, type: replicas, service: web }
    - { name: one-leader, type: leader }
${extra}`;

function describeFailure(j: ChaosJournal): string {
  return JSON.stringify({
    status: j.status,
    reps: j.coxswain.repetitions.map((r) => ({ verdict: r.verdict, reason: r.reason })),
    failed: j.run.filter((a) => a.status === 'failed').map((a) => a.exception),
    before: j.steady_states.before?.probes.map((p) => p.detail),
    after: j.steady_states.after?.probes.map((p) => p.detail),
  });
}

beforeAll(async () => {
  const loaded = SHIPPED.map((n) => loadExperiment(`${experimentsDir}${n}.yaml`));
  ({ lab, env } = await startLabFor(loaded, {
    agentCommand: [process.execPath, '--conditions=@coxswain/source', '--import', tsx, bin],
    stateDir: join(dir, 'lab'),
    log: () => {},
  }));
  events = await EventWatcher.start(env.cluster, env.natsUrls, env.natsClient);
}, 240_000);

afterAll(async () => {
  await events?.close();
  await lab?.stop();
  await removeDir(dir);
}, 120_000);

async function run(
  loaded: LoadedExperiment,
  options: { signal?: AbortSignal; progress?: (l: string) => void } = {},
): Promise<ChaosJournal> {
  await prepareServices(env, loaded);
  const j = await runExperiment(loaded, { env, events, repeat: 1, seed: 7, ...options });
  journals.push(j);
  // Where the measured figures can be read after a run (the shipped SLAs come from them).
  if (process.env.CHAOS_JOURNAL_DIR)
    writeFileSync(
      join(
        process.env.CHAOS_JOURNAL_DIR,
        `journal-${j.experiment.title.replace(/\W+/g, '-')}-${journals.length}.json`,
      ),
      JSON.stringify(j, null, 2),
    );
  return j;
}

describe('shipped chaos experiments on a 3-host lab', () => {
  for (const name of SHIPPED) {
    it(`${name} holds its SLA`, async () => {
      const j = await run(loadExperiment(`${experimentsDir}${name}.yaml`));
      expect(JournalSchema.safeParse(j).success).toBe(true);
      expect(exitCodeOf(j), describeFailure(j)).toBe(0);
      if (name === 'latency-on-leader')
        // Without sch_netem (a Firecracker guest kernel) the lab's NATS relay slows the link instead.
        expect(j.coxswain.repetitions[0]?.faults[0]).toMatch(
          (await probeNetem()).ok
            ? / via netem \(delay 100ms 20ms\)$/
            : / via relay \(delay 100ms ± 20ms/,
        );
      expect(j.steady_states.after?.steady_state_met).toBe(true);
    }, 240_000);
  }

  it('an impossible SLA (recover within 1 ms) exits 1 and the journal names the phase', async () => {
    const j = await run(
      parseExperiment(
        'impossible.yaml',
        base(`method:
  - type: fault
    fault: { kind: container-kill, service: web, count: 1 }
sla: { recover: 1ms }
recoverHold: 1s
`),
      ),
    );
    expect(exitCodeOf(j)).toBe(1);
    const rep = j.coxswain.repetitions[0]!;
    expect(rep.verdict).toBe('failed');
    expect(rep.reason).toMatch(/^SLA broken: recover /);
    expect(rep.phases.find((p) => p.phase === 'recover')?.met).toBe(false);
  }, 180_000);

  it('waits for the steady state before the fault when told to, saying what it waits for', async () => {
    const loaded = parseExperiment(
      'wait.yaml',
      base(`method:
  - type: fault
    fault: { kind: container-kill, service: web, count: 1 }
sla: { recover: 60s }
recoverHold: 1s
`),
    );
    // The shipped kill-container file declares web; the inline one declares no target.
    await prepareServices(env, loadExperiment(`${experimentsDir}kill-container.yaml`));
    const url = env.hosts[0]!.apiUrl;
    const web = (await env.api.services(url)).services.find((s) => s.name === 'web')!;
    // One more replica than runs: committed at once, running only once an agent started it.
    await env.api.scale(url, 'web', web.desiredReplicas + 1);
    const lines: string[] = [];
    try {
      const j = await runExperiment(loaded, {
        env,
        events,
        repeat: 1,
        seed: 7,
        steadyTimeoutMs: 60_000,
        progress: (l) => lines.push(l),
      });
      journals.push(j);
      expect(exitCodeOf(j), describeFailure(j)).toBe(0);
      expect(j.steady_states.before?.steady_state_met).toBe(true);
      expect(
        lines.some((l) => /waiting for the steady state: web-replicas: /.test(l)),
        lines.join('\n'),
      ).toBe(true);
    } finally {
      await env.api.scale(url, 'web', web.manualReplicas);
      const probe = loaded.experiment.steadyState.probes[0]!;
      const ctx = { env, liveHosts: () => env.hosts, baselineTerm: undefined };
      for (let i = 0; i < 120 && !(await runProbe(probe, ctx)).ok; i++) await sleep(500);
    }
  }, 180_000);

  it('refuses up front a netem loss where the kernel has no sch_netem: exit 2, nothing touched', async () => {
    const loaded = parseExperiment(
      'loss.yaml',
      base(`method:
  - type: fault
    fault: { kind: netem, host: leader, delayMs: 50, lossPercent: 5, duration: 5s }
`),
    );
    if ((await probeNetem()).ok) {
      // Real netem does loss: nothing to refuse.
      expect(await preflight(env, loaded)).toEqual([]);
      return;
    }
    const chaosEvents = () =>
      events.since(0).filter((e) => e.event.type.startsWith('chaos.')).length;
    const eventsBefore = chaosEvents();
    const j = await runExperiment(loaded, { env, events, repeat: 3, seed: 7 });
    journals.push(j);
    expect(JournalSchema.safeParse(j).success).toBe(true);
    expect(exitCodeOf(j)).toBe(2);
    expect(j.status).toBe('failed');
    expect(j.coxswain.refused).toHaveLength(1);
    expect(j.coxswain.refused[0]).toMatch(
      /^loss\.yaml: method\[0\] \(netem\): lossPercent 5 need the kernel module sch_netem, and this kernel has no sch_netem module \(tc qdisc add dev lo root netem delay 1ms: .*Specified qdisc kind is unknown/,
    );
    // Touched nothing: no steady-state check, no activity, no fault event, every link unshaped.
    expect(j.steady_states.before).toBeNull();
    expect(j.run).toEqual([]);
    expect(j.coxswain.repetitions).toEqual([]);
    expect(chaosEvents()).toBe(eventsBefore);
    expect(lab.hosts.map((h) => h.linkShape)).toEqual(
      lab.hosts.map(() => ({ delayMs: 0, jitterMs: 0 })),
    );
    const xml = renderJunit([j]);
    expect(xml).toContain('errors="1"');
    expect(xml).toContain('name="preflight"');
  }, 60_000);

  it('refuses a fault that would break quorum, and undoes the one that fired', async () => {
    const j = await run(
      parseExperiment(
        'quorum.yaml',
        base(`method:
  - type: fault
    fault: { kind: agent-kill, host: host-2 }
  - type: fault
    fault: { kind: agent-kill, host: host-3 }
blastRadius: { maxHostsDown: 2 }
`),
      ),
    );
    expect(exitCodeOf(j)).toBe(2);
    const failed = j.run.find((a) => a.status === 'failed');
    expect(failed?.exception).toMatch(
      /agent-kill host-3: 1 of 3 voters would stay live, fewer than a quorum of 2/,
    );
    expect(j.rollbacks.map((r) => [r.activity.name, r.status])).toEqual([
      ['undo agent-kill host-2', 'succeeded'],
    ]);
    expect(lab.host('host-2').agentPid).toBeDefined();
    expect(lab.host('host-3').state).toBe('up');
  }, 180_000);

  it('Ctrl-C during a cut brings the link back and exits 3', async () => {
    const api = `${lab.host('host-3').apiUrl}/healthz`;
    const reachable = () =>
      fetch(api, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
    expect(await reachable()).toBe(true);
    const ac = new AbortController();
    let cutSeen: boolean | undefined;
    const j = await run(
      parseExperiment(
        'cut.yaml',
        base(`method:
  - type: fault
    fault: { kind: host-cut, host: host-3, direction: both, duration: 5m }
  - type: pause
    duration: 5m
`),
      ),
      {
        signal: ac.signal,
        progress: () => {
          if (cutSeen !== undefined) return;
          cutSeen = false;
          void reachable().then((ok) => {
            cutSeen = !ok;
            ac.abort();
          });
        },
      },
    );
    expect(cutSeen).toBe(true);
    expect(j.status).toBe('interrupted');
    expect(exitCodeOf(j)).toBe(3);
    expect(j.rollbacks.map((r) => r.status)).toEqual(['succeeded']);
    expect(await reachable()).toBe(true);
  }, 180_000);

  it('Ctrl-C during a freeze lets the agent continue and exits 3', async () => {
    const pid = lab.host('host-3').agentPid!;
    const stateOf = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];
    const ac = new AbortController();
    let frozen: string | undefined;
    const j = await run(
      parseExperiment(
        'freeze.yaml',
        base(`method:
  - type: fault
    fault: { kind: agent-freeze, host: host-3, duration: 5m }
  - type: pause
    duration: 5m
`),
      ),
      {
        signal: ac.signal,
        progress: () => {
          if (frozen !== undefined) return;
          frozen = stateOf();
          ac.abort();
        },
      },
    );
    expect(frozen).toBe('T');
    expect(exitCodeOf(j)).toBe(3);
    expect(stateOf()).not.toBe('T');
  }, 180_000);

  it('every agent reaches NATS only through its relay, and shapeLink delays what it sends', async () => {
    // No client connection comes from a host's own address: the relays (root namespace) hold them all.
    const hostAddresses = new Set(lab.hosts.map((h) => h.address));
    for (const server of lab.natsServers) {
      const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as {
        connections?: { ip: string }[];
      };
      expect(connz.connections?.filter((c) => hostAddresses.has(c.ip)) ?? []).toEqual([]);
    }
    for (const h of lab.hosts) expect(h.natsUrls).not.toEqual(lab.natsUrls);
    // A report's lag (sent at `time`, heard here) grows by the delay on its host's link alone.
    const nc = await connect({ servers: lab.natsUrls, ...lab.natsClient });
    const lags = new Map<string, number[]>();
    nc.subscribe(`cox.${lab.cluster}.report.*`, {
      callback: (_e, msg) => {
        const r = JSON.parse(new TextDecoder().decode(msg.data)) as {
          nodeId: string;
          time: number;
        };
        lags.set(r.nodeId, [...(lags.get(r.nodeId) ?? []), Date.now() - r.time]);
      },
    });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const sample = async () => {
      lags.clear();
      await new Promise((r) => setTimeout(r, 5000));
      return {
        h1: median(lags.get('host-1') ?? [Number.NaN]),
        h2: median(lags.get('host-2') ?? [Number.NaN]),
      };
    };
    try {
      const before = await sample();
      lab.shapeLink('host-1', { delayMs: 400, jitterMs: 0 });
      const during = await sample();
      lab.shapeLink('host-1', { delayMs: 0, jitterMs: 0 });
      expect(during.h1 - before.h1).toBeGreaterThanOrEqual(350);
      expect(Math.abs(during.h2 - before.h2)).toBeLessThan(200);
    } finally {
      lab.shapeLink('host-1', { delayMs: 0, jitterMs: 0 });
      await nc.close();
    }
  }, 60_000);

  it('writes the report, every journal validates, and chaos events reached NATS', () => {
    expect(journals.length).toBeGreaterThan(0);
    for (const j of journals) JournalSchema.parse(j);
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(journals));
    expect(existsSync(file)).toBe(true);
    const html = readFileSync(file, 'utf8');
    for (const j of journals) expect(html).toContain(j.experiment.title);
    const heard = events.since(0, ['chaos.fault', 'chaos.verdict']);
    expect(
      heard.some((e) => e.event.type === 'chaos.fault' && e.event.data.phase === 'injected'),
    ).toBe(true);
    expect(heard.some((e) => e.event.type === 'chaos.verdict')).toBe(true);
  });
});
