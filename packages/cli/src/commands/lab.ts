/**
 * `coxswain lab`: the local lab (deploy/lab). Simulated hosts on this machine,
 * each a network namespace with its own dockerd and agent, joined by NATS; the
 * first three form the Raft group. The default scenario, `demo` (lab-demo.ts),
 * runs the sample chain under the predictive policy behind nginx, replays a
 * real trace, kills the leader's host and reports. The older scripted
 * scenarios declare a busybox service, scale it by hand, kill the leader's
 * agent and bring it back, while a live view shows the leader, the term,
 * replicas per host and the cluster's events, until Ctrl-C or --duration.
 * Stops everything it started.
 *
 * Each host runs `coxswain agent`, which brings its cluster member (Raft voter
 * or client, coordinator, executor, supervisor) and the cluster state API.
 */

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PolicyName } from '@coxswain/forecast';
import { Lab, runScenario, SCENARIOS, type ScenarioName } from '@coxswain/lab';
import { DurationMs, validate } from '@coxswain/protocol';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_DEMO_TRACE, runDemo } from './lab-demo.js';
import { DEMO_POLICIES, parseDemoPolicy } from './lab-demo-policy.js';

const LAB_SCENARIOS = ['demo', ...SCENARIOS] as const;

interface LabFlags {
  hosts: string;
  voters?: string;
  duration?: string;
  scenario: string;
  kill: string;
  pause: string;
  stateDir: string;
  natsServers: string;
  network: string;
  agents: boolean;
  insecure?: boolean;
  load: string;
  trace: string;
  traceFrom: string;
  traceLength: string;
  peak: string;
  chaosAt: string;
  chaos: boolean;
  policy?: string;
  report?: string;
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function durationFlag(name: string, text: string): number {
  const parsed = validate(DurationMs, /^\d+$/.test(text) ? `${text}s` : text, `--${name}`);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

export function registerLabCommand(program: Command): void {
  program
    .command('lab')
    .description(
      'run a local lab of simulated hosts (each a network namespace with its own dockerd and agent) joined by a NATS cluster; the first hosts form the Raft group; the default scenario (demo) runs the sample chain behind nginx under a replayed real trace, scales it by forecast, kills the leader host and prints a report; needs root',
    )
    .option('--hosts <n>', 'number of simulated hosts, 1 to 20', '3')
    .option('--voters <n>', 'Raft voters: the first N hosts, 1 to 5 (default: min(3, hosts))')
    .option(
      '--duration <duration>',
      'stop after this long, e.g. 90s or 5m (default: run until Ctrl-C)',
    )
    .option(
      '--scenario <name>',
      `what to do once the cluster has a leader: demo (the whole system: the order → storage + account chain at 0.1 CPU per replica under the predictive policy (or --policy), nginx in front kept current by the endpoints watcher, a day of a real trace replayed through it, the kill-leader-host experiment in the middle, a report at the end), full (declare the busybox service web, scale it up and down by hand, then kill the leader and show the failover and the rejoin), scale (only the service steps), failover (only the kill), none (just watch); one of ${LAB_SCENARIOS.join(', ')}`,
      'demo',
    )
    .option(
      '--load <duration>',
      'demo: how long the load runs (the trace window is compressed into it)',
      '150s',
    )
    .option('--trace <file>', 'demo: the t_seconds,requests trace replayed', DEFAULT_DEMO_TRACE)
    .option(
      '--trace-from <duration>',
      'demo: where in the trace the replayed window starts (98h: 5 July 1995 02:00 in the NASA trace)',
      '98h',
    )
    .option('--trace-length <duration>', 'demo: how much of the trace is replayed', '24h')
    .option(
      '--peak <rps>',
      "demo: the window's peak rate to order, req/s (smoothed over 5 s)",
      '20',
    )
    .option(
      '--chaos-at <duration>',
      'demo: when in the load the kill-leader-host experiment starts (default: 55 % into it, past the midday peak of the trace, when the scaling has settled)',
    )
    .option('--no-chaos', 'demo: no chaos experiment')
    .option(
      '--policy <name>',
      `demo: the scaling policy of every service, one of ${DEMO_POLICIES.join(', ')} (default: predictive, with the demo specs' settings; another policy keeps its shipped defaults but holds scale-downs back as long as those specs do, since the defaults' wall-clock windows, such as the HPA's 300 s, outlast a compressed run)`,
    )
    .option(
      '--report <file>',
      'demo: where the report goes (text; the JSON beside it, .json) (default: <state dir>/demo-report.txt)',
    )
    .option(
      '--kill <what>',
      "scripted scenarios, in the failover step: agent (SIGKILL the leader's agent alone; its containers keep running) or host (the whole host: agent, engine, containers)",
      'agent',
    )
    .option('--pause <duration>', 'scripted scenarios: how long each step stays on screen', '8s')
    .option(
      '--state-dir <dir>',
      'where agent configs, Raft data and logs go; wiped at start, kept at exit',
      '.state/lab',
    )
    .option('--nats-servers <n>', 'NATS servers in the cluster joining the hosts, 1 to 5', '3')
    .option(
      '--network <mode>',
      'netns (per-host addresses), loopback (one shared network), or auto',
      'auto',
    )
    .option('--no-agents', 'start hosts and their containers but no agents (and no scenario)')
    .option(
      '--insecure',
      'NATS without TLS, client certificates and per-subject permissions (default: all three, from a throwaway CA)',
    )
    .addHelpText(
      'after',
      `
The demo (the default scenario, about 5 minutes with the defaults on a 2-core machine):
  1. a 3-server NATS cluster and 3 hosts, each a network namespace with its own dockerd
     (its own bridge, so replicas publish ports on the host's address) and agent; the
     sample-app image is imported into every engine (no registry);
  2. the voters elect a leader; a real nginx starts on the lab bridge, one server per service;
  3. order, storage and account are declared (deploy/lab/samples/demo/*.yaml: 0.1 CPU per
     replica: order 1 to 6 replicas, storage and account 2 to 4; the predictive policy on 5-s steps,
     or --policy's); one endpoints
     watcher per service rewrites nginx's upstream and reloads it when the replicas change;
  4. the load replays --trace-length of --trace from --trace-from, compressed into --load,
     at most --peak req/s, as Poisson arrivals through nginx to order (which calls storage
     and account through nginx); the agents scrape the replicas' /metrics, the leader
     forecasts each service's rate and scales it up and down;
  5. at --chaos-at the kill-leader-host experiment (deploy/lab/samples/demo/kill-leader-host.yaml)
     kills the leader's whole host; its verdict and heal phases (detect, decide, recover) go
     to the view and the report; the host comes back afterwards;
  6. the report: per service the requests, ok %, p50/p95/p99 through nginx (its access log),
     seconds over the SLO, replica-seconds and scale decisions; the chaos verdict; printed
     and written to --report (text and JSON). Then everything is stopped and checked gone.
--duration, like Ctrl-C, ends the demo early, with a report of what ran.

Examples:
  sudo coxswain lab                                   # the demo
  sudo coxswain lab --load 90s --chaos-at 40s --report /tmp/demo.txt
  sudo coxswain lab --policy hpa --no-chaos           # the demo under the Kubernetes HPA's rule
  sudo coxswain lab --scenario full --kill host       # the scripted busybox scenario
` +
        "\nThe demo's live view (every second): where the load is in the trace, per service the request rate the agents measure, the leader's forecast, running/desired replicas and nginx's upstream; the load's figures; the chaos step; then the lab's table below.\nThe scripted scenarios' live view (every second): the Raft leader, term and commit index from any agent's API, the sample service's running/desired count, and per host its role (LEADER, voter, client), its state, its agent's report, its engine's containers and the replicas the cluster places on it; under it, the last cluster events and scenario steps.\nCtrl-C stops everything the lab started: nginx, agents, engines, containers, NATS, namespaces and the bridge.",
    )
    .action(async (flags: LabFlags) => {
      const hosts = integerFlag('hosts', flags.hosts, 1, 20);
      const voters =
        flags.voters === undefined
          ? undefined
          : integerFlag('voters', flags.voters, 1, Math.min(5, hosts));
      const natsServers = integerFlag('nats-servers', flags.natsServers, 1, 5);
      if (!['auto', 'netns', 'loopback'].includes(flags.network)) {
        throw new UsageError(
          `--network must be auto, netns or loopback, not ${JSON.stringify(flags.network)}`,
        );
      }
      if (!(LAB_SCENARIOS as readonly string[]).includes(flags.scenario)) {
        throw new UsageError(
          `--scenario must be one of ${LAB_SCENARIOS.join(', ')}, not ${JSON.stringify(flags.scenario)}`,
        );
      }
      if (flags.kill !== 'agent' && flags.kill !== 'host') {
        throw new UsageError(`--kill must be agent or host, not ${JSON.stringify(flags.kill)}`);
      }
      const durationMs =
        flags.duration === undefined ? undefined : durationFlag('duration', flags.duration);
      const pauseMs = durationFlag('pause', flags.pause);
      const policy = parseDemoPolicy(flags.policy);
      if (flags.policy !== undefined && flags.scenario !== 'demo')
        throw new UsageError('--policy applies to --scenario demo only');
      if (process.getuid?.() !== 0) {
        throw new UsageError(
          'coxswain lab needs root (network namespaces, dockerd): run it with sudo',
        );
      }

      if (flags.scenario === 'demo') {
        await demoAction(flags, hosts, natsServers, durationMs, policy);
        return;
      }

      // Ctrl-C ends the watch; the lab then stops what it started. Further
      // signals while it stops are ignored, so cleanup is not cut short.
      const stop = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        if (stop.signal.aborted) {
          console.error(`lab: ${signal}: still stopping, please wait`);
          return;
        }
        console.error(`\nlab: ${signal}: stopping`);
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const lab = await Lab.start({
          hosts,
          ...(voters !== undefined ? { voters } : {}),
          natsServers,
          stateDir: flags.stateDir,
          network: flags.network as 'auto' | 'netns' | 'loopback',
          agentBin: flags.agents ? undefined : false,
          ...(flags.insecure ? { insecure: true } : {}),
          // With agents, the cluster places the sample service itself; seed containers
          // labelled with the same service would be adopted and muddle the story.
          ...(flags.agents && (flags.scenario === 'full' || flags.scenario === 'scale')
            ? { services: [] }
            : {}),
        });
        const scenarioAbort = new AbortController();
        const scenario = flags.agents
          ? runScenario(lab, {
              scenario: flags.scenario as ScenarioName,
              kill: flags.kill,
              pauseMs,
              signal: scenarioAbort.signal,
            })
          : undefined;
        try {
          await lab.watch({ durationMs, signal: stop.signal });
        } finally {
          scenarioAbort.abort();
          // A step may be inside an API call (a scale waits up to 30 s): stop without it.
          const outcome = await Promise.race([scenario, sleep(2000).then(() => undefined)]);
          if (outcome?.failover) {
            const f = outcome.failover;
            console.error(
              `lab: failover: ${f.killed} (term ${f.oldTerm}) -> ${f.newLeader} (term ${f.newTerm}) in ${(f.afterMs / 1000).toFixed(1)} s`,
            );
          }
          if (outcome?.error) console.error(`lab: the scenario stopped early: ${outcome.error}`);
          console.error('lab: stopping agents, engines, containers, NATS and the network');
          await lab.stop();
          console.error(
            `lab: stopped; nothing left running (logs and configs kept in ${lab.stateDir})`,
          );
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

async function demoAction(
  flags: LabFlags,
  hosts: number,
  natsServers: number,
  durationMs: number | undefined,
  policy: PolicyName,
): Promise<void> {
  if (hosts < 3) throw new UsageError('--scenario demo needs at least 3 hosts (3 Raft voters)');
  if (flags.network === 'loopback')
    throw new UsageError('--scenario demo needs network namespaces (--network netns or auto)');
  if (!flags.agents) throw new UsageError('--scenario demo needs the agents (drop --no-agents)');
  const loadMs = durationFlag('load', flags.load);
  if (loadMs < 20_000) throw new UsageError(`--load must be at least 20s, not ${flags.load}`);
  const traceFromMs = durationFlag('trace-from', flags.traceFrom);
  const traceLengthMs = durationFlag('trace-length', flags.traceLength);
  const peak = Number(flags.peak);
  if (!Number.isFinite(peak) || peak <= 0 || peak > 500)
    throw new UsageError(
      `--peak must be a rate from 0 to 500 req/s, not ${JSON.stringify(flags.peak)}`,
    );
  const chaosAtMs = !flags.chaos
    ? undefined
    : flags.chaosAt === undefined
      ? loadMs * 0.55
      : durationFlag('chaos-at', flags.chaosAt);
  if (chaosAtMs !== undefined && chaosAtMs >= loadMs)
    throw new UsageError(
      `--chaos-at (${chaosAtMs / 1000}s) must fall inside --load (${loadMs / 1000}s)`,
    );

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      console.error(`lab: ${signal}: still stopping, please wait`);
      return;
    }
    console.error(`\nlab: ${signal}: stopping (the report covers what ran)`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer =
    durationMs === undefined
      ? undefined
      : setTimeout(() => {
          console.error(`\nlab: --duration ${durationMs / 1000}s reached: stopping`);
          stop.abort();
        }, durationMs);
  try {
    const report = await runDemo({
      hosts,
      natsServers,
      stateDir: flags.stateDir,
      ...(flags.insecure ? { insecure: true } : {}),
      loadSeconds: loadMs / 1000,
      tracePath: flags.trace,
      traceFromSeconds: traceFromMs / 1000,
      traceSeconds: traceLengthMs / 1000,
      peakRps: peak,
      policy,
      chaosAtSeconds: chaosAtMs === undefined ? undefined : chaosAtMs / 1000,
      reportPath: flags.report ?? join(flags.stateDir, 'demo-report.txt'),
      signal: stop.signal,
      out: process.stdout,
      log: (line) => console.error(line),
    });
    if (report.outcome.startsWith('failed') || report.cleanup.leftRunning.length > 0)
      process.exitCode = 1;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
