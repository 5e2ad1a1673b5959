/**
 * `coxswain events [--follow]`: cluster events (leader elected, stepped down,
 * node joined/dead/returned, command issued/done/refused, ...) from an
 * agent's `/v1/events`. Without --follow it prints what the agent kept and
 * exits; with it, it streams until interrupted, resuming after a dropped
 * connection from the last event seen.
 */
import { type ClusterEvent, ClusterEventType } from '@coxswain/protocol';
import type { Command } from 'commander';
import { type ApiFlags, clientFrom, printJson, reportFailure, withApiOptions } from './status.js';

const COLOR: Partial<Record<string, string>> = {
  'leader.elected': '32',
  'leader.stepped_down': '33',
  'node.dead': '31',
  'node.returned': '32',
  'command.refused': '31',
  'command.done': '32',
};

function summarise(data: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(data);
  if (entries.length === 0) return '';
  return ` ${entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`;
}

export function renderEvent(event: ClusterEvent, color = false): string {
  const time = new Date(event.time).toISOString().replace('T', ' ').slice(0, 23);
  const code = color ? COLOR[event.type] : undefined;
  const type = event.type.padEnd(19);
  const typed = code ? `\u001b[${code}m${type}\u001b[0m` : type;
  return `${time}  ${typed}  ${event.nodeId.padEnd(10)}  ${event.message}${summarise(event.data)}`;
}

interface EventsFlags extends ApiFlags {
  follow?: boolean;
  types?: string;
  replay?: string;
}

export function registerEventsCommand(program: Command): void {
  withApiOptions(
    program
      .command('events')
      .description('print cluster events; --follow streams them as they happen')
      .option('-f, --follow', 'keep streaming new events until interrupted')
      .option(
        '--types <list>',
        `comma-separated event types (${ClusterEventType.options.join(', ')})`,
      )
      .option('--replay <n>', 'start with the last n events the agent kept (default 20)', '20'),
    { consistent: false },
  ).action(async (flags: EventsFlags) => {
    const replay = Number(flags.replay);
    if (!Number.isInteger(replay) || replay < 0) {
      process.stderr.write(
        `coxswain events: --replay must be a whole number, not ${JSON.stringify(flags.replay)}\n`,
      );
      process.exitCode = 2;
      return;
    }
    const types = flags.types
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const client = clientFrom(flags);
    const color = process.stdout.isTTY === true && !flags.json;
    const print = (event: ClusterEvent): void => {
      if (flags.json) process.stdout.write(`${JSON.stringify(event)}\n`);
      else process.stdout.write(`${renderEvent(event, color)}\n`);
    };
    try {
      if (!flags.follow) {
        const events = await client.recentEvents({ ...(types ? { types } : {}), replay });
        if (flags.json) printJson(events.map((e) => e.event));
        else if (events.length === 0) process.stdout.write('no events yet\n');
        else for (const e of events) print(e.event);
        return;
      }
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const { event } of client.events({
          ...(types ? { types } : {}),
          replay,
          signal: controller.signal,
          onReconnect: (reason) =>
            process.stderr.write(`(event stream lost: ${reason}; reconnecting)\n`),
        })) {
          print(event);
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    } catch (error) {
      reportFailure('events', error);
    }
  });
}
