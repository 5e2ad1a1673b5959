import type { Command } from 'commander';
import { registerAgentCommand } from './agent.js';
import { registerChaosCommand } from './chaos.js';
import { registerCommandsCommand } from './commands.js';
import { registerEndpointsCommand } from './endpoints.js';
import { registerEventsCommand } from './events.js';
import { registerExplainCommand } from './explain.js';
import { registerForecastCommand } from './forecast.js';
import { registerLabCommand } from './lab.js';
import { registerLoadCommand } from './load.js';
import { registerLocksCommand } from './locks.js';
import { registerNatsConfigCommand } from './nats-config.js';
import { registerNodesCommand } from './nodes.js';
import { registerPolicyCommand } from './policy.js';
import { registerServiceCommand } from './service.js';
import { registerServicesCommand } from './services.js';
import { registerSimulateCommand } from './simulate.js';
import { registerStatusCommand } from './status.js';
import { registerTracesCommand } from './traces.js';
import { registerVoterCommand } from './voter.js';

/** Each subcommand lives in its own file under commands/ and is registered here, one line each. */
export function registerCommands(program: Command): void {
  registerAgentCommand(program);
  registerLabCommand(program);
  registerNodesCommand(program);
  registerServiceCommand(program);
  registerForecastCommand(program);
  registerSimulateCommand(program);
  registerPolicyCommand(program);
  registerStatusCommand(program);
  registerServicesCommand(program);
  registerCommandsCommand(program);
  registerLocksCommand(program);
  registerEndpointsCommand(program);
  registerEventsCommand(program);
  registerTracesCommand(program);
  registerExplainCommand(program);
  registerVoterCommand(program);
  registerChaosCommand(program);
  registerNatsConfigCommand(program);
  registerLoadCommand(program);
}
