/**
 * `coxswain status`: the cluster as one agent's API sees it — leader, term,
 * commit index, members and their roles, and how fresh the answer is.
 *
 * This file also holds what the API-reading commands (status, services,
 * commands, locks, events) share: the `--api/--token/--json/--consistent`
 * options, the client, the table renderer and the error printer.
 */
import { ApiClient, ApiRequestError, ApiUnreachableError } from '@coxswain/client';
import { type ApiMeta, ClusterHealth, ClusterInfo, CoxswainError } from '@coxswain/protocol';
import type { Command } from 'commander';

export const DEFAULT_API = 'http://127.0.0.1:7070';

export interface ApiFlags {
  api?: string;
  token?: string;
  json?: boolean;
  consistent?: boolean;
}

/** Adds the options every API command takes. */
export function withApiOptions(command: Command, options: { consistent?: boolean } = {}): Command {
  command
    .option('--api <url>', `an agent's API (default: $COXSWAIN_API or ${DEFAULT_API})`)
    .option('--token <token>', 'API token for writes (default: $COXSWAIN_API_TOKEN)')
    .option('--json', 'print the API answer as JSON');
  if (options.consistent !== false) {
    command.option(
      '--consistent',
      'read through the leader (ReadIndex) instead of the local replica',
    );
  }
  return command;
}

export function clientFrom(flags: ApiFlags): ApiClient {
  return new ApiClient({
    baseUrl: flags.api ?? process.env.COXSWAIN_API ?? DEFAULT_API,
    token: flags.token ?? process.env.COXSWAIN_API_TOKEN,
  });
}

export function consistentQuery(flags: ApiFlags): Record<string, string | undefined> {
  return { consistent: flags.consistent ? 'true' : undefined };
}

/** Left-aligned columns, two spaces apart; the first row is the header. */
export function renderTable(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (value < 1000) return `${Math.round(value)}ms`;
  if (value < 120_000) return `${(value / 1000).toFixed(1)}s`;
  return `${Math.round(value / 60_000)}m`;
}

/** One line saying who answered and how fresh it was. */
export function renderMeta(meta: ApiMeta): string {
  const parts = [`answered by ${meta.node} at applied index ${meta.appliedIndex}`];
  parts.push(meta.consistent ? 'consistent read' : 'local replica');
  if (meta.sinceLastApplyMs !== null) parts.push(`last apply ${ms(meta.sinceLastApplyMs)} ago`);
  if (meta.sinceLeaderContactMs !== null && meta.leader !== meta.node) {
    parts.push(`leader heard ${ms(meta.sinceLeaderContactMs)} ago`);
  }
  return `(${parts.join(', ')})`;
}

/** `/v1/cluster` with its Raft health (present on the leader's answer). */
export const ClusterInfoWithHealth = ClusterInfo.extend({ health: ClusterHealth.nullish() });

/** Raft health as `nomad operator autopilot health` prints it: a summary, then a row per voter. */
export function renderHealth(health: ClusterHealth | null | undefined): string {
  if (!health) return 'health:   unknown (only the leader can tell; no leader answered)';
  const head = [
    `health:   ${health.healthyVoters} of ${health.voters.length} voters healthy, quorum ${health.quorum}, failure tolerance ${health.failureTolerance}`,
    `nats:     ${health.nats.connectedServer ?? 'disconnected'} (${health.nats.knownServers.length} server${health.nats.knownServers.length === 1 ? '' : 's'} known)`,
  ];
  const rows = [['VOTER', 'LEADER', 'HEALTHY', 'LAST CONTACT', 'MATCH INDEX', 'LAG']];
  for (const v of health.voters)
    rows.push([
      v.id,
      v.leader ? 'yes' : 'no',
      v.healthy ? 'yes' : 'no',
      ms(v.lastContactMs),
      v.matchIndex === null ? '-' : String(v.matchIndex),
      v.lag === null ? '-' : String(v.lag),
    ]);
  return `${head.join('\n')}\n\n${renderTable(rows)}`;
}

export function renderStatus(info: ClusterInfo): string {
  const leader = info.leader
    ? `${info.leader.id}${info.leader.address ? ` (${info.leader.address})` : ''}`
    : 'none';
  const head = [
    `cluster:  ${info.cluster}`,
    `leader:   ${leader}`,
    `term:     ${info.term}`,
    `commit:   ${info.commitIndex} (applied ${info.appliedIndex})`,
    `this node: ${info.meta.node} (${info.role})`,
  ];
  const rows = [['MEMBER', 'VOTER', 'ROLE', 'ADDRESS']];
  for (const m of info.members)
    rows.push([m.id, m.voter ? 'yes' : 'no', m.role ?? '?', m.address ?? '-']);
  return `${head.join('\n')}\n\n${renderTable(rows)}\n${renderMeta(info.meta)}`;
}

/** Prints an API failure the way a person can act on it, and sets the exit code. */
export function reportFailure(command: string, error: unknown): void {
  let message: string;
  if (error instanceof ApiRequestError) {
    message = error.message;
    for (const issue of error.issues) message += `\n  at ${issue.path}: ${issue.message}`;
    if (error.status === 503) {
      message += error.leader
        ? `\n  the leader is ${error.leader}: retry there`
        : '\n  there is no leader yet: retry shortly';
    }
    if (error.status === 401) message += '\n  pass --token or set COXSWAIN_API_TOKEN';
  } else if (error instanceof ApiUnreachableError || error instanceof CoxswainError) {
    message = error.message;
  } else {
    message = error instanceof Error ? error.message : String(error);
  }
  process.stderr.write(`coxswain ${command}: ${message}\n`);
  process.exitCode = error instanceof ApiRequestError && error.status < 500 ? 2 : 1;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function registerStatusCommand(program: Command): void {
  withApiOptions(
    program
      .command('status')
      .description('show the cluster: leader, term, commit index, members and their roles'),
  ).action(async (flags: ApiFlags) => {
    try {
      const client = clientFrom(flags);
      const info = await client.get('/v1/cluster', ClusterInfoWithHealth, consistentQuery(flags));
      let health = info.health ?? null;
      // Only the leader knows its followers' progress: ask it when another node answered.
      if (!health && info.leader?.address && info.leader.id !== info.meta.node) {
        const leader = clientFrom({ ...flags, api: info.leader.address });
        health = await leader.clusterHealth().catch(() => null);
      }
      if (flags.json) printJson({ ...info, health });
      else process.stdout.write(`${renderStatus(info)}\n\n${renderHealth(health)}\n`);
    } catch (error) {
      reportFailure('status', error);
    }
  });
}
