/**
 * `coxswain lab`: the local lab (deploy/lab). Simulated hosts on this machine,
 * each a network namespace with its own dockerd and agent, joined by NATS,
 * shown as a live table until Ctrl-C or --duration. Stops everything it started.
 */
import { Lab } from '@coxswain/lab';
import { DurationMs, validate } from '@coxswain/protocol';
import type { Command } from 'commander';

interface LabFlags {
  hosts: string;
  duration?: string;
  stateDir: string;
  natsServers: string;
  network: string;
  agents: boolean;
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(
      `--${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`,
    );
  }
  return n;
}

export function registerLabCommand(program: Command): void {
  program
    .command('lab')
    .description(
      'run a local lab of simulated hosts (each a network namespace with its own dockerd and agent) joined by a NATS cluster, and show them live; needs root',
    )
    .option('--hosts <n>', 'number of simulated hosts, 1 to 20', '3')
    .option(
      '--duration <duration>',
      'stop after this long, e.g. 60s or 5m (default: run until Ctrl-C)',
    )
    .option(
      '--state-dir <dir>',
      'where agent configs, data and logs go; wiped at start, kept at exit',
      '.state/lab',
    )
    .option('--nats-servers <n>', 'NATS servers in the cluster joining the hosts, 1 to 5', '3')
    .option(
      '--network <mode>',
      'netns (per-host addresses), loopback (one shared network), or auto',
      'auto',
    )
    .option('--no-agents', 'start hosts and their containers but no agents')
    .action(async (flags: LabFlags) => {
      const hosts = integerFlag('hosts', flags.hosts, 1, 20);
      const natsServers = integerFlag('nats-servers', flags.natsServers, 1, 5);
      if (!['auto', 'netns', 'loopback'].includes(flags.network)) {
        throw new Error(
          `--network must be auto, netns or loopback, not ${JSON.stringify(flags.network)}`,
        );
      }
      let durationMs: number | undefined;
      if (flags.duration !== undefined) {
        const parsed = validate(
          DurationMs,
          /^\d+$/.test(flags.duration) ? `${flags.duration}s` : flags.duration,
          '--duration',
        );
        if (!parsed.ok) throw parsed.error;
        durationMs = parsed.value;
      }
      if (process.getuid?.() !== 0) {
        throw new Error('coxswain lab needs root (network namespaces, dockerd): run it with sudo');
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
          natsServers,
          stateDir: flags.stateDir,
          network: flags.network as 'auto' | 'netns' | 'loopback',
          agentBin: flags.agents ? undefined : false,
        });
        try {
          await lab.watch({ durationMs, signal: stop.signal });
        } finally {
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
