#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

const program = new Command('coxswain')
  .description('coxswain: a distributed scaling coordinator for Docker hosts')
  .showHelpAfterError('(run with --help for usage)');
registerCommands(program);
await program.parseAsync(process.argv);
