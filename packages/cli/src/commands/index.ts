import type { Command } from 'commander';

/** Each subcommand lives in its own file under commands/ and is registered here, one line each. */
export function registerCommands(program: Command): void {
  void program;
}
