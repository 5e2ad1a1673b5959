import type { Command } from 'commander';
import { registerAgentCommand } from './agent.js';
import { registerLabCommand } from './lab.js';
import { registerNodesCommand } from './nodes.js';

/** Each subcommand lives in its own file under commands/ and is registered here, one line each. */
export function registerCommands(program: Command): void {
  registerAgentCommand(program);
  registerLabCommand(program);
  registerNodesCommand(program);
}
