/**
 * `coxswain voter add ID` / `coxswain voter rm ID`: replace a Raft voter lost
 * for good. `rm` declares the node removed (and drops it from the Raft group);
 * `add` makes a node started with `--join` a learner, then a voter once caught up.
 */
import type { Command } from 'commander';
import { type ApiFlags, clientFrom, printJson, reportFailure, withApiOptions } from './status.js';

export function registerVoterCommand(program: Command): void {
  const voter = program
    .command('voter')
    .description('add or remove a Raft voter (replace one lost for good)');
  withApiOptions(
    voter
      .command('add')
      .argument('<id>', 'node id of an agent started with --join')
      .description('add a node to the Raft group as a learner, then promote it to voter'),
    { consistent: false },
  ).action(async (id: string, flags: ApiFlags) => {
    try {
      const reply = await clientFrom(flags).addVoter(id);
      if (flags.json) printJson(reply);
      else if (reply.accepted)
        process.stdout.write(
          `${id} accepted by ${reply.appliedBy}: joining as a learner, then voter; see coxswain status\n`,
        );
      else process.stdout.write(`${id} is a voter (applied by ${reply.appliedBy})\n`);
    } catch (error) {
      reportFailure('voter add', error);
    }
  });
  withApiOptions(
    voter
      .command('rm')
      .argument('<id>', 'node id of the voter lost for good')
      .description('declare a node removed for good and drop it from the Raft group'),
    { consistent: false },
  ).action(async (id: string, flags: ApiFlags) => {
    try {
      const reply = await clientFrom(flags).removeNode(id);
      if (flags.json) printJson(reply);
      else process.stdout.write(`${id} removed (applied by ${reply.appliedBy})\n`);
    } catch (error) {
      reportFailure('voter rm', error);
    }
  });
}
