/**
 * `coxswain commands`: the replicated command log, newest first — which
 * leader told which node to run how many replicas of what, under which
 * fencing token, and how it ended.
 */
import { CommandsReply } from '@coxswain/protocol';
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

export function renderCommands(reply: CommandsReply): string {
  if (reply.commands.length === 0) return `no commands\n${renderMeta(reply.meta)}`;
  const rows = [
    [
      'ID',
      'SERVICE',
      'NODE',
      'ACTION',
      'REPLICAS',
      'TOKEN',
      'TERM',
      'LEADER',
      'STATUS',
      'TOOK',
      'DETAIL',
    ],
  ];
  for (const c of reply.commands) {
    const took = c.finishedAtMs !== undefined ? ms(c.finishedAtMs - c.issuedAtMs) : '-';
    rows.push([
      c.id,
      c.service,
      c.nodeId,
      c.action,
      c.running !== undefined ? `${c.running}/${c.replicas}` : String(c.replicas),
      String(c.token),
      String(c.term),
      c.leaderId,
      c.status,
      took,
      (c.error ?? c.reason ?? '').slice(0, 60),
    ]);
  }
  const shown =
    reply.commands.length < reply.total
      ? `\n(${reply.commands.length} of ${reply.total} shown)`
      : '';
  return `${renderTable(rows)}${shown}\n${renderMeta(reply.meta)}`;
}

interface CommandsFlags extends ApiFlags {
  service?: string;
  status?: string;
  limit?: string;
}

export function registerCommandsCommand(program: Command): void {
  withApiOptions(
    program
      .command('commands')
      .description('list recent scale commands, newest first')
      .option('--service <name>', 'only this service')
      .option('--status <status>', 'only this status: issued, done, failed, refused, abandoned')
      .option('--limit <n>', 'at most this many (default 100, at most 1000)'),
  ).action(async (flags: CommandsFlags) => {
    try {
      const reply = await clientFrom(flags).get('/v1/commands', CommandsReply, {
        ...consistentQuery(flags),
        service: flags.service,
        status: flags.status,
        limit: flags.limit,
      });
      if (flags.json) printJson(reply);
      else process.stdout.write(`${renderCommands(reply)}\n`);
    } catch (error) {
      reportFailure('commands', error);
    }
  });
}
