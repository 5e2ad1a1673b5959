/**
 * `coxswain nodes`: listens to the cluster's node reports for a moment and
 * prints each node with its services (replicas counted, CPU %, memory %), or
 * the reports themselves as JSON.
 */
import {
  DurationMs,
  decode,
  MAX_REPORT_BYTES,
  type NodeReport,
  NodeReport as NodeReportSchema,
  subjects,
  validate,
} from '@coxswain/protocol';
import type { Command } from 'commander';
import {
  connectNats,
  NatsConnectError,
  type NatsFlags,
  natsSecurityFlags,
} from './nats-connect.js';

const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

const fmt = (n: number | undefined, digits = 1): string =>
  n === undefined ? '-' : n.toFixed(digits);

/** Renders the table (pure, for tests and for the command). */
export function renderNodesTable(reports: readonly NodeReport[], nowMs: number): string {
  const rows: string[][] = [
    [
      'NODE',
      'ROLE',
      'ADDRESS',
      'DOCKER',
      'AGE',
      'SERVICE',
      'REPLICAS',
      'CPU%',
      'MEM%',
      'REQ/S',
      'P95MS',
    ],
  ];
  for (const r of [...reports].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    const age = `${Math.max(0, (nowMs - r.time) / 1000).toFixed(1)}s`;
    const services = Object.entries(r.services).sort(([a], [b]) => a.localeCompare(b));
    const head = [r.nodeId, r.role, r.address, r.dockerReachable ? 'ok' : 'DOWN', age];
    if (services.length === 0) rows.push([...head, '-', '0', '-', '-', '-', '-']);
    services.forEach(([name, f], i) => {
      const containers = r.containers.filter((c) => c.service === name).length;
      rows.push([
        ...(i === 0 ? head : ['', '', '', '', '']),
        name,
        `${f.containerCount}/${containers}`,
        fmt(f.cpuPercent),
        fmt(f.memoryPercent),
        fmt(f.requestRatePerSecond),
        fmt(f.p95LatencyMs),
      ]);
    });
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

interface NodesFlags extends NatsFlags {
  cluster: string;
  wait: string;
  json?: boolean;
}

export function registerNodesCommand(program: Command): void {
  natsSecurityFlags(program.command('nodes'))
    .description(
      'list the nodes that report, with their services (replicas healthy/total, CPU %, memory %)',
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
    .option('--wait <duration>', 'how long to listen for reports, e.g. 2s (default: 2s)', '2s')
    .option('--json', 'print the latest report of each node as JSON')
    .action(async (flags: NodesFlags) => {
      const wait = validate(
        DurationMs,
        /^\d+$/.test(flags.wait) ? Number(flags.wait) : flags.wait,
        '--wait',
      );
      if (!wait.ok) {
        process.stderr.write(`coxswain nodes: ${wait.error.message}\n`);
        process.exit(2);
      }
      let subject: string;
      try {
        subject = subjects(flags.cluster).reports;
      } catch (error) {
        process.stderr.write(`coxswain nodes: ${(error as Error).message}\n`);
        process.exit(2);
      }
      let nc: Awaited<ReturnType<typeof connectNats>>;
      try {
        nc = await connectNats(flags, 'coxswain-nodes');
      } catch (error) {
        process.stderr.write(`coxswain nodes: ${(error as Error).message}\n`);
        process.exit(error instanceof NatsConnectError ? error.exitCode : 1);
      }
      const latest = new Map<string, NodeReport>();
      let invalid = 0;
      const sub = nc.subscribe(subject, {
        callback: (_err, msg) => {
          const r = decode(NodeReportSchema, msg.data, {
            where: msg.subject,
            maxBytes: MAX_REPORT_BYTES,
          });
          if (!r.ok) {
            invalid++;
            return;
          }
          const prev = latest.get(r.value.nodeId);
          if (!prev || prev.time <= r.value.time) latest.set(r.value.nodeId, r.value);
        },
      });
      await new Promise((resolve) => setTimeout(resolve, wait.value));
      sub.unsubscribe();
      await nc.close();
      const reports = [...latest.values()];
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
      } else if (reports.length === 0) {
        process.stdout.write(`no node reported on ${subject} within ${flags.wait}\n`);
      } else {
        process.stdout.write(`${renderNodesTable(reports, Date.now())}\n`);
      }
      if (invalid > 0)
        process.stderr.write(`(${invalid} invalid report${invalid === 1 ? '' : 's'} ignored)\n`);
      if (reports.length === 0 && !flags.json) process.exitCode = 1;
    });
}
