/**
 * `coxswain service apply -f svc.yaml | rm NAME | scale NAME N|auto | ls`:
 * declares services. Requests go over NATS to `cox.<cluster>.api`, where any
 * voter answers and forwards writes to the leader; writes carry the API token
 * (`--token` or $COXSWAIN_API_TOKEN). The spec file is validated here first,
 * so a typo is reported with its path before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  ApiReply,
  ApiRequest,
  type ApiRequest as ApiRequestType,
  type ClusterStateSnapshot,
  decode,
  decodeYaml,
  encode,
  PROTOCOL_VERSION,
  ServiceSpec,
  subjects,
} from '@coxswain/protocol';
import type { Command } from 'commander';
import {
  connectNats,
  NatsConnectError,
  type NatsFlags,
  natsSecurityFlags,
} from './nats-connect.js';

/** Retries of a write that may have been lost (same idempotency key each time). */
const WRITE_RETRIES = 4;
const RETRIED_CODES = new Set(['COX_TIMEOUT', 'COX_NO_LEADER', 'COX_NOT_LEADER']);

interface ConnFlags extends NatsFlags {
  cluster: string;
  token?: string;
  timeout: string;
}

const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** Thrown to end the command with a message and an exit code (1: failed, 2: bad usage). */
export class ServiceCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** Sends one API request and returns the validated reply; throws ServiceCommandError on transport failure. */
export async function apiRequest(flags: ConnFlags, request: ApiRequestType): Promise<ApiReply> {
  let subject: string;
  try {
    subject = subjects(flags.cluster).api;
  } catch (error) {
    throw new ServiceCommandError((error as Error).message, 2);
  }
  const timeout = Number(flags.timeout) * 1000;
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw new ServiceCommandError(`--timeout must be seconds > 0, not ${flags.timeout}`, 2);
  let nc: Awaited<ReturnType<typeof connectNats>>;
  try {
    nc = await connectNats(flags, 'coxswain-service');
  } catch (error) {
    if (error instanceof NatsConnectError)
      throw new ServiceCommandError(error.message, error.exitCode);
    throw error;
  }
  // A write carries an idempotency key and the time its sender waits; one that may have been
  // lost (no answer, no leader, a timeout) is sent again with the same key: applied at most once.
  const write = request.op !== 'state.get';
  const keyed: ApiRequestType = write
    ? { ...request, key: randomUUID(), deadlineMs: Math.max(100, timeout - 500) }
    : request;
  try {
    for (let attempt = 0; ; attempt++) {
      let reply: ApiReply | undefined;
      let lost: string | undefined;
      try {
        const msg = await nc.request(subject, encode(ApiRequest, keyed), { timeout });
        const decoded = decode(ApiReply, msg.data, { where: `reply on ${subject}` });
        if (!decoded.ok) throw new ServiceCommandError(decoded.error.message, 1);
        reply = decoded.value;
        if (!reply.ok && RETRIED_CODES.has(reply.code)) lost = `${reply.code}: ${reply.message}`;
      } catch (error) {
        if (error instanceof ServiceCommandError) throw error;
        const text = (error as Error).message;
        if (!write || attempt >= WRITE_RETRIES) {
          throw new ServiceCommandError(
            /no responders/i.test(text)
              ? `no voter of cluster ${flags.cluster} answers on ${subject}`
              : `request on ${subject} failed: ${text}`,
            1,
          );
        }
        lost = text;
      }
      if (lost === undefined || !write || attempt >= WRITE_RETRIES) {
        if (reply) return reply;
        throw new ServiceCommandError(`request on ${subject} failed: ${lost}`, 1);
      }
      const key = (keyed as { key?: string }).key;
      process.stderr.write(`retrying with the same idempotency key ${key} (${lost})\n`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 250 * 2 ** attempt)));
    }
  } finally {
    await nc.close();
  }
}

/** Parses a spec file (YAML or JSON); the error names the file and the field. */
export function parseSpecFile(text: string, path: string): ServiceSpec {
  const parsed = decodeYaml(ServiceSpec, text, { where: path });
  if (!parsed.ok) throw new ServiceCommandError(parsed.error.message, 2);
  return parsed.value;
}

/** `N` or `auto` (back to the policy). */
export function parseReplicas(text: string): number | null {
  if (text === 'auto') return null;
  if (!/^\d+$/.test(text))
    throw new ServiceCommandError(
      `replicas must be a whole number or "auto", not ${JSON.stringify(text)}`,
      2,
    );
  return Number(text);
}

function tokenOf(flags: ConnFlags): string | undefined {
  return flags.token ?? process.env.COXSWAIN_API_TOKEN;
}

function check(reply: ApiReply): Extract<ApiReply, { ok: true }> {
  if (!reply.ok)
    throw new ServiceCommandError(
      `${reply.code}: ${reply.message} (answered by ${reply.servedBy})`,
      1,
    );
  return reply;
}

/** The table of `coxswain service ls` (pure). */
export function renderServices(state: ClusterStateSnapshot): string {
  const rows = [['SERVICE', 'VERSION', 'DESIRED', 'MANUAL', 'PLACEMENT', 'LOCK']];
  for (const [name, s] of Object.entries(state.services).sort(([a], [b]) => a.localeCompare(b))) {
    const placement =
      Object.entries(s.placement)
        .map(([n, c]) => `${n}:${c}`)
        .join(',') || '-';
    const lock = state.locks[name];
    rows.push([
      s.deleted ? `${name} (deleting)` : name,
      String(s.specVersion),
      String(s.desiredReplicas),
      s.manualReplicas === null ? '-' : String(s.manualReplicas),
      placement,
      lock ? `${lock.holder}#${lock.token}` : '-',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function run(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ServiceCommandError) {
      process.stderr.write(`coxswain service: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

export function registerServiceCommand(program: Command): void {
  const service = program
    .command('service')
    .description(
      'declare, scale and remove services (writes go to the leader and need the API token)',
    )
    .option(
      '--nats <url>',
      'NATS server URL; repeat or comma-separate (default: $COXSWAIN_NATS or nats://127.0.0.1:4222)',
      collect,
    )
    .option(
      '--cluster <name>',
      'cluster name (default: $COXSWAIN_CLUSTER or "default")',
      process.env.COXSWAIN_CLUSTER ?? 'default',
    )
    .option('--token <token>', 'API token for writes (default: $COXSWAIN_API_TOKEN)')
    .option('--timeout <seconds>', 'how long to wait for the answer', '60');
  natsSecurityFlags(service);

  service
    .command('apply')
    .description('create or update a service from a spec file')
    .requiredOption('-f, --file <path>', 'service spec (YAML or JSON)')
    .action((opts: { file: string }) =>
      run(async () => {
        const flags = service.opts<ConnFlags>();
        let text: string;
        try {
          text = await readFile(opts.file, 'utf8');
        } catch (error) {
          throw new ServiceCommandError(`cannot read ${opts.file}: ${(error as Error).message}`, 2);
        }
        const spec = parseSpecFile(text, opts.file);
        const token = tokenOf(flags);
        const reply = check(
          await apiRequest(flags, {
            v: PROTOCOL_VERSION,
            op: 'service.apply',
            ...(token ? { token } : {}),
            spec,
          }),
        );
        process.stdout.write(
          `service ${spec.name} applied (spec version ${reply.specVersion ?? '?'}, leader ${reply.leaderId ?? '?'})\n`,
        );
      }),
    );

  service
    .command('rm')
    .description('remove a service: its replicas are stopped everywhere, then it is forgotten')
    .argument('<name>')
    .action((name: string) =>
      run(async () => {
        const flags = service.opts<ConnFlags>();
        const token = tokenOf(flags);
        check(
          await apiRequest(flags, {
            v: PROTOCOL_VERSION,
            op: 'service.delete',
            ...(token ? { token } : {}),
            name,
          }),
        );
        process.stdout.write(`service ${name} removed\n`);
      }),
    );

  service
    .command('scale')
    .description(
      'set the replica count by hand (under the service lock), or "auto" to return it to its policy',
    )
    .argument('<name>')
    .argument('<replicas>', 'a whole number, or "auto"')
    .action((name: string, replicasText: string) =>
      run(async () => {
        const flags = service.opts<ConnFlags>();
        const replicas = parseReplicas(replicasText);
        const token = tokenOf(flags);
        check(
          await apiRequest(flags, {
            v: PROTOCOL_VERSION,
            op: 'service.scale',
            ...(token ? { token } : {}),
            name,
            replicas,
          }),
        );
        process.stdout.write(
          replicas === null
            ? `service ${name} back under its policy\n`
            : `service ${name} scaled to ${replicas}\n`,
        );
      }),
    );

  service
    .command('ls')
    .description('list services from the replicated state')
    .option('--json', 'print the services as JSON')
    .action((opts: { json?: boolean }) =>
      run(async () => {
        const flags = service.opts<ConnFlags>();
        const reply = check(await apiRequest(flags, { v: PROTOCOL_VERSION, op: 'state.get' }));
        if (!reply.state) throw new ServiceCommandError('the answer carried no state', 1);
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(reply.state.services, null, 2)}\n`
            : `${renderServices(reply.state)}\n`,
        );
      }),
    );
}
