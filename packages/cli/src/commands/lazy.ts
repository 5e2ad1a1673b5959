import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each top-level command's module, loaded only when that command runs. Loading
 * all of them (index.ts) costs every process the lab, chaos, dashboard and
 * forecast code; for the agent, which runs for months, that was ~5 MB of RSS.
 * A name missing here still works: the caller falls back to registering all.
 */
const byName: Readonly<Record<string, () => Promise<Register>>> = {
  agent: async () => (await import('./agent.js')).registerAgentCommand,
  chaos: async () => (await import('./chaos.js')).registerChaosCommand,
  commands: async () => (await import('./commands.js')).registerCommandsCommand,
  endpoints: async () => (await import('./endpoints.js')).registerEndpointsCommand,
  events: async () => (await import('./events.js')).registerEventsCommand,
  explain: async () => (await import('./explain.js')).registerExplainCommand,
  forecast: async () => (await import('./forecast.js')).registerForecastCommand,
  lab: async () => (await import('./lab.js')).registerLabCommand,
  load: async () => (await import('./load.js')).registerLoadCommand,
  locks: async () => (await import('./locks.js')).registerLocksCommand,
  'nats-config': async () => (await import('./nats-config.js')).registerNatsConfigCommand,
  nodes: async () => (await import('./nodes.js')).registerNodesCommand,
  policy: async () => (await import('./policy.js')).registerPolicyCommand,
  service: async () => (await import('./service.js')).registerServiceCommand,
  services: async () => (await import('./services.js')).registerServicesCommand,
  simulate: async () => (await import('./simulate.js')).registerSimulateCommand,
  status: async () => (await import('./status.js')).registerStatusCommand,
  traces: async () => (await import('./traces.js')).registerTracesCommand,
  voter: async () => (await import('./voter.js')).registerVoterCommand,
};

/**
 * Registers only the command named first on the command line, when it is one
 * of ours; otherwise (no command, `help`, an option, a typo) registers them all,
 * so top-level help and "unknown command" read as before.
 */
export async function registerCommandsFor(
  program: Command,
  argv: readonly string[],
): Promise<void> {
  const name = argv[2];
  const load = name !== undefined && Object.hasOwn(byName, name) ? byName[name] : undefined;
  if (load) {
    (await load())(program);
    return;
  }
  const { registerCommands } = await import('./index.js');
  registerCommands(program);
}
