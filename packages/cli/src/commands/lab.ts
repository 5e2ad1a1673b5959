/**
 * `coxswain lab`: the local lab (deploy/lab). Simulated hosts on this machine,
 * each a network namespace with its own dockerd and agent, joined by NATS; the
 * first three form the Raft group. A scripted scenario declares a sample
 * service, scales it up and down, kills the leader's agent and brings it back,
 * while a live view shows the leader, the term, replicas per host and the
 * cluster's events, until Ctrl-C or --duration. Stops everything it started.
 *
 * Each host runs `coxswain agent`, which brings its cluster member (Raft voter
 * or client, coordinator, executor, supervisor) and the cluster state API.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { Lab, runScenario, SCENARIOS, type ScenarioName } from '@coxswain/lab';
import { DurationMs, validate } from '@coxswain/protocol';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

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
      'run a local lab of simulated hosts (each a network namespace with its own dockerd and agent) joined by a NATS cluster; the first hosts form the Raft group; a scripted scenario declares a sample service, scales it, kills the leader and shows the failover in a live view; needs root',
    )
    .option('--hosts <n>', 'number of simulated hosts, 1 to 20', '3')
    .option('--voters <n>', 'Raft voters: the first N hosts, 1 to 5 (default: min(3, hosts))')
    .option(
      '--duration <duration>',
      'stop after this long, e.g. 90s or 5m (default: run until Ctrl-C)',
    )
    .option(
      '--scenario <name>',
      `what to do once the cluster has a leader: full (declare the sample service web, scale it up and down, then kill the leader and show the failover and the rejoin), scale (only the service steps), failover (only the kill), none (just watch); one of ${SCENARIOS.join(', ')}`,
      'full',
    )
    .option(
      '--kill <what>',
      "in the failover step: agent (SIGKILL the leader's agent alone; its containers keep running) or host (the whole host: agent, engine, containers)",
      'agent',
    )
    .option('--pause <duration>', 'how long each scenario step stays on screen', '8s')
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
    .addHelpText(
      'after',
      "\nThe live view (every second): the Raft leader, term and commit index from any agent's API, the sample service's running/desired count, and per host its role (LEADER, voter, client), its state, its agent's report, its engine's containers and the replicas the cluster places on it; under it, the last cluster events and scenario steps.\nCtrl-C stops everything the lab started: agents, engines, containers, NATS, namespaces and the bridge.",
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
      if (!(SCENARIOS as readonly string[]).includes(flags.scenario)) {
        throw new UsageError(
          `--scenario must be one of ${SCENARIOS.join(', ')}, not ${JSON.stringify(flags.scenario)}`,
        );
      }
      if (flags.kill !== 'agent' && flags.kill !== 'host') {
        throw new UsageError(`--kill must be agent or host, not ${JSON.stringify(flags.kill)}`);
      }
      const durationMs =
        flags.duration === undefined ? undefined : durationFlag('duration', flags.duration);
      const pauseMs = durationFlag('pause', flags.pause);
      if (process.getuid?.() !== 0) {
        throw new UsageError(
          'coxswain lab needs root (network namespaces, dockerd): run it with sudo',
        );
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
