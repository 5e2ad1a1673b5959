// bin.ts registers only the command named on the command line, and every
// command otherwise: help and "unknown command" see the whole list.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../src/commands/index.js';
import { registerCommandsFor } from '../src/commands/lazy.js';

const names = (p: Command) => p.commands.map((c) => c.name()).sort();

describe('registerCommandsFor', () => {
  it('registers the named command alone, with the same options as the full registration', async () => {
    const lazy = new Command('coxswain');
    await registerCommandsFor(lazy, ['node', 'coxswain', 'agent', '--node-id', 'n1']);
    expect(names(lazy)).toEqual(['agent']);
    const full = new Command('coxswain');
    registerCommands(full);
    const flags = (p: Command) =>
      p.commands.find((c) => c.name() === 'agent')?.options.map((o) => o.flags);
    expect(flags(lazy)).toEqual(flags(full));
  });

  it('knows every command the full registration has, each on its own', async () => {
    const full = new Command('coxswain');
    registerCommands(full);
    for (const name of names(full)) {
      const lazy = new Command('coxswain');
      await registerCommandsFor(lazy, ['node', 'coxswain', name]);
      expect(names(lazy)).toEqual([name]);
    }
  });

  it('registers all of them for no command, help, or a name it does not know', async () => {
    const full = new Command('coxswain');
    registerCommands(full);
    for (const argv of [[], ['help'], ['--help'], ['nope'], ['constructor']]) {
      const lazy = new Command('coxswain');
      await registerCommandsFor(lazy, ['node', 'coxswain', ...argv]);
      expect(names(lazy)).toEqual(names(full));
    }
  });
});
