/**
 * `coxswain locks`: the per-service locks in the replicated state, with
 * their fencing tokens and the lease they have left.
 */
import { LocksReply } from '@coxswain/protocol';
import type { Command } from 'commander';
import {
  type ApiFlags,
  clientFrom,
  consistentQuery,
  ms,
  printJson,
  renderMeta,
  renderTable,
  reportFailure,
  withApiOptions,
} from './status.js';

export function renderLocks(reply: LocksReply): string {
  if (reply.locks.length === 0) return `no locks held\n${renderMeta(reply.meta)}`;
  const rows = [['SERVICE', 'HOLDER', 'TERM', 'TOKEN', 'LEASE', 'LEFT']];
  for (const l of reply.locks) {
    rows.push([
      l.service,
      l.holder,
      String(l.term),
      String(l.token),
      ms(l.leaseMs),
      l.expired ? 'expired' : ms(l.remainingMs),
    ]);
  }
  return `${renderTable(rows)}\n${renderMeta(reply.meta)}`;
}

export function registerLocksCommand(program: Command): void {
  withApiOptions(
    program
      .command('locks')
      .description('list per-service locks with fencing tokens and lease left'),
  ).action(async (flags: ApiFlags) => {
    try {
      const reply = await clientFrom(flags).get('/v1/locks', LocksReply, consistentQuery(flags));
      if (flags.json) printJson(reply);
      else process.stdout.write(`${renderLocks(reply)}\n`);
    } catch (error) {
      reportFailure('locks', error);
    }
  });
}
