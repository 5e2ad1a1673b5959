/**
 * `coxswain endpoints NAME`: where a service's healthy replicas answer
 * (`GET /v1/services/{name}/endpoints`), as JSON or as an nginx `upstream`
 * block. With --watch it polls the API and rewrites --output, then runs
 * --exec (e.g. `nginx -s reload`), only when the endpoint set changed: what
 * docker-gen did in the seed setup, for replicas on every host.
 */
import { spawn } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ApiClient, EndpointsQuery } from '@coxswain/client';
import type { EndpointsReply } from '@coxswain/protocol';
import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { renderNginxUpstream } from './nginx-upstream.js';
import {
  type ApiFlags,
  clientFrom,
  consistentQuery,
  printJson,
  reportFailure,
  withApiOptions,
} from './status.js';

export type EndpointsFormat = 'json' | 'nginx';

/**
 * The text written for one answer. JSON leaves out `meta`: the applied index
 * moves with every write to the cluster, and a file that changed with it would
 * make --exec run for nothing.
 */
export function renderEndpoints(
  reply: EndpointsReply,
  format: EndpointsFormat,
  upstream?: string,
): string {
  if (format === 'nginx')
    return renderNginxUpstream(reply.service, reply.endpoints, upstream ? { name: upstream } : {});
  const { service, containerPort, endpoints } = reply;
  return `${JSON.stringify({ service, containerPort, endpoints }, null, 2)}\n`;
}

/** "2s", "500ms", "1m" → milliseconds; at least 100 ms, so a typo cannot hammer the API. */
export function parseIntervalMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--interval must be a duration such as 2s or 500ms, not ${text}`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (n < 100) throw new UsageError(`--interval must be at least 100ms, not ${text}`);
  return n;
}

/** Writes beside the target and renames, so nginx never reads a half-written file. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, file);
}

/** Runs `command` through the shell with the caller's stdout/stderr; resolves with its exit code. */
function runShell(command: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export interface EndpointsSyncOptions {
  readonly client: ApiClient;
  readonly service: string;
  readonly query: EndpointsQuery;
  readonly format: EndpointsFormat;
  readonly upstream?: string | undefined;
  readonly output?: string | undefined;
  readonly exec?: string | undefined;
}

/**
 * One round: fetch, render, and when the text differs from what was last
 * applied (or, first round, when `applied` is undefined, from what the output
 * file holds) write it and run the command. Returns the text now applied. A
 * failed command leaves it as it was (null: nothing), so the next round tries
 * again rather than believing nginx took a config it refused.
 */
export async function syncEndpoints(
  o: EndpointsSyncOptions,
  applied: string | null | undefined,
): Promise<{ text: string; changed: boolean; applied: string | null }> {
  const reply = await o.client.endpoints(o.service, o.query);
  const text = renderEndpoints(reply, o.format, o.upstream);
  const previous =
    applied === undefined && o.output
      ? await readFile(o.output, 'utf8').catch(() => null)
      : (applied ?? null);
  if (text === previous) return { text, changed: false, applied: text };
  if (o.output) await writeAtomically(o.output, text);
  else process.stdout.write(text);
  if (o.exec) {
    const code = await runShell(o.exec);
    if (code !== 0) {
      process.stderr.write(`coxswain endpoints: --exec exited with ${code}; retrying next round\n`);
      return { text, changed: true, applied: applied ?? null };
    }
  }
  return { text, changed: true, applied: text };
}

interface EndpointsFlags extends ApiFlags {
  format: EndpointsFormat;
  watch?: boolean;
  interval: string;
  output?: string;
  exec?: string;
  port?: string;
  upstream?: string;
}

export function registerEndpointsCommand(program: Command): void {
  withApiOptions(
    program
      .command('endpoints')
      .argument('<name>', 'the service')
      .description(
        "a service's healthy replicas as host:port (each host's advertised address and the replica's published port), as JSON or an nginx upstream block",
      )
      .addOption(
        new Option('--format <format>', 'json or nginx').choices(['json', 'nginx']).default('json'),
      )
      .option(
        '--port <port>',
        "which container port of the spec (default: the spec's first TCP port)",
      )
      .option('--upstream <name>', 'the nginx upstream name (default: the service name)')
      .option('-o, --output <file>', 'write here (atomically) instead of stdout')
      .option('--exec <command>', 'run through sh after the output changed, e.g. "nginx -s reload"')
      .option('-w, --watch', 'keep polling; rewrite and run --exec only when the endpoints change')
      .option('--interval <duration>', 'poll period with --watch', '2s')
      .addHelpText(
        'after',
        `
Only replicas that are healthy (or running, without a health check) on live
nodes, and whose container port is published (spec "ports", hostPort unset
lets Docker pick one per replica), are listed. A service with none renders an
upstream with one "down" server, so nginx keeps a valid config and answers 502.
--format json prints the API answer with its meta (applied index) when run
once to stdout; files and --watch get it without meta, so they change only
with the endpoints. Under --watch an API error keeps the last output.

Examples:
  coxswain endpoints web --format nginx
  coxswain endpoints web --format nginx -o /etc/nginx/conf.d/web-upstream.conf \\
      --exec "nginx -s reload" --watch`,
      ),
  ).action(async (name: string, flags: EndpointsFlags) => {
    try {
      const format: EndpointsFormat = flags.json ? 'json' : flags.format;
      const options: EndpointsSyncOptions = {
        client: clientFrom(flags),
        service: name,
        query: { ...consistentQuery(flags), port: flags.port },
        format,
        upstream: flags.upstream,
        output: flags.output,
        exec: flags.exec,
      };
      if (!flags.watch) {
        if (format === 'json' && !flags.output && !flags.exec) {
          printJson(await options.client.endpoints(name, options.query));
          return;
        }
        await syncEndpoints(options, undefined);
        return;
      }
      await watchEndpoints(options, parseIntervalMs(flags.interval));
    } catch (error) {
      reportFailure('endpoints', error);
    }
  });
}

/** Polls until SIGINT/SIGTERM; each round's failure is printed and the next round goes on. */
async function watchEndpoints(options: EndpointsSyncOptions, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let applied: string | null | undefined;
  let failing = false;
  try {
    while (!stop.signal.aborted) {
      try {
        const round = await syncEndpoints(options, applied);
        applied = round.applied;
        if (failing) process.stderr.write('coxswain endpoints: the API answers again\n');
        failing = false;
      } catch (error) {
        // Print the first failure of a run of them, not one line per poll.
        if (!failing) reportFailure('endpoints', error);
        process.exitCode = 0;
        failing = true;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        stop.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
