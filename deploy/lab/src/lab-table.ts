import type { NodeReport } from '@coxswain/protocol';

/** What the lab knows of one host at one moment; the table is rendered from this alone. */
export interface LabHostView {
  readonly name: string;
  readonly address: string;
  /** LEADER, voter or client (with a follower's Raft role when not plain), when the cluster answered. */
  readonly role?: string;
  /** Replicas the replicated state places on this host, per service. */
  readonly placed?: Readonly<Record<string, number>> | undefined;
  /** Lab-side state of the processes it started for this host: up, starting, killed, agent exited (code). */
  readonly state: string;
  /** Containers the host's engine runs, as the lab sees them directly (undefined: engine not answering). */
  readonly dockerRunning: number | undefined;
  readonly dockerTotal: number | undefined;
  /** The host agent's latest report and how old it is. */
  readonly report: NodeReport | undefined;
  readonly reportAgeMs: number | undefined;
}

/** The cluster as one agent's API described it (`GET /v1/cluster`, `GET /v1/services`). */
export interface LabClusterView {
  readonly leader: string | null;
  readonly term: number | undefined;
  readonly commitIndex: number | undefined;
  readonly voters: readonly string[];
  /** The host whose agent answered, and how long ago. */
  readonly fromHost: string | undefined;
  readonly ageMs: number | undefined;
  /** Why no agent answered this time (the figures above are then the last known). */
  readonly error: string | undefined;
  readonly services: readonly {
    readonly name: string;
    readonly desired: number;
    /** The manual override's count, null when the policy decides. */
    readonly manual: number | null;
    /** Healthy replicas counted from the latest reports. */
    readonly running: number;
    readonly locked: boolean;
  }[];
}

/** A cluster event or a lab note, with when it happened since the view's start. */
export interface LabEventView {
  readonly elapsedMs: number;
  readonly source: string;
  readonly type: string;
  readonly message: string;
}

export interface LabView {
  readonly mode: 'netns' | 'loopback';
  readonly cluster: string;
  /** Present when the hosts run as a cluster (voters configured, agents running). */
  readonly clusterState?: LabClusterView | undefined;
  /** The last few cluster events and lab notes, oldest first. */
  readonly events?: readonly LabEventView[];
  /** Event payloads on `cox.<cluster>.events` that failed validation. */
  readonly badEvents?: number;
  readonly natsUrls: readonly string[];
  readonly elapsedMs: number;
  readonly durationMs: number | undefined;
  readonly hosts: readonly LabHostView[];
  /** Report payloads that failed validation, with the last error. */
  readonly badReports: number;
  readonly lastBadReport: string | undefined;
  /** Why agents are not running, when they are not (e.g. the agent command is not built). */
  readonly agentNote: string | undefined;
}

const pct = (n: number | undefined) => (n === undefined ? '-' : `${n.toFixed(1)}%`);

function ageText(ms: number | undefined): string {
  if (ms === undefined) return 'no report';
  return ms < 1000 ? `${Math.round(ms)}ms ago` : `${(ms / 1000).toFixed(1)}s ago`;
}

/** Services of a report as `web×2 cpu 0.3% mem 1.2%`, one per line. */
function serviceLines(report: NodeReport | undefined): string[] {
  if (!report) return ['-'];
  const names = Object.keys(report.services).sort();
  if (names.length === 0) return ['(none)'];
  return names.map((name) => {
    const f = report.services[name]!;
    return `${name}×${f.containerCount} cpu ${pct(f.cpuPercent)} mem ${pct(f.memoryPercent)}`;
  });
}

/** The cluster's header lines: leader, term, commit index, and each service's counts. */
function clusterLines(c: LabClusterView): string[] {
  const seen =
    c.fromHost === undefined
      ? 'no agent has answered yet'
      : `as ${c.fromHost} saw it ${ageText(c.ageMs)}`;
  const out = [
    `raft: leader ${c.leader ?? '(none)'}, term ${c.term ?? '-'}, commit index ${c.commitIndex ?? '-'}, voters ${c.voters.join(' ')} (${seen})`,
  ];
  // Before any agent answered, refusals are just agents starting: not worth a line.
  if (c.error && c.fromHost !== undefined) out.push(`      last query failed: ${c.error}`);
  for (const svc of c.services) {
    out.push(
      `service ${svc.name}: ${svc.running}/${svc.desired} running, ${svc.manual === null ? 'policy decides' : `pinned to ${svc.manual} (manual)`}${svc.locked ? ', operation in progress (locked)' : ''}`,
    );
  }
  if (c.services.length === 0 && c.fromHost !== undefined) out.push('services: none declared yet');
  return out;
}

/** Renders the live table as plain text lines (no colours, so it reads the same in a log). */
export function renderLabTable(view: LabView): string[] {
  const clustered = view.clusterState !== undefined;
  const header = [
    'HOST',
    'ADDRESS',
    ...(clustered ? ['ROLE'] : []),
    'STATE',
    'AGENT REPORT',
    'DOCKER',
    'CONTAINERS (agent)',
    'SERVICES (agent)',
    ...(clustered ? ['PLACED (cluster)'] : []),
  ];
  const rows: string[][] = [];
  for (const h of view.hosts) {
    const docker =
      h.dockerRunning === undefined ? 'down' : `${h.dockerRunning}/${h.dockerTotal ?? 0} running`;
    const reported = h.report
      ? `${h.report.containers.filter((c) => c.status === 'running').length}/${h.report.containers.length}${h.report.dockerReachable ? '' : ' (engine unreachable)'}`
      : '-';
    const services = serviceLines(h.report);
    const placed = h.placed
      ? Object.entries(h.placed)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, n]) => `${name} ${n}`)
      : [];
    const lines = Math.max(services.length, placed.length, 1);
    for (let i = 0; i < lines; i++) {
      const first = i === 0;
      rows.push([
        first ? h.name : '',
        first ? h.address : '',
        ...(clustered ? [first ? (h.role ?? '-') : ''] : []),
        first ? h.state : '',
        first ? ageText(h.reportAgeMs) : '',
        first ? docker : '',
        first ? reported : '',
        services[i] ?? '',
        ...(clustered ? [placed[i] ?? (first && !h.placed ? '-' : '')] : []),
      ]);
    }
  }
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();

  const elapsed = `${Math.floor(view.elapsedMs / 1000)}s`;
  const of =
    view.durationMs === undefined
      ? ' (Ctrl-C to stop)'
      : ` of ${Math.round(view.durationMs / 1000)}s`;
  const out = [
    `coxswain lab: cluster "${view.cluster}", ${view.hosts.length} hosts (${view.mode === 'netns' ? 'network namespaces' : 'loopback only'}), NATS ${view.natsUrls.join(', ')}, ${elapsed}${of}`,
  ];
  if (view.clusterState) out.push(...clusterLines(view.clusterState));
  out.push('', line(header), ...rows.map(line));
  if (view.events && view.events.length > 0) {
    out.push('', 'recent events:');
    for (const e of view.events) {
      const at = `+${(Math.max(0, e.elapsedMs) / 1000).toFixed(1)}s`.padStart(7);
      out.push(
        `  ${at}  ${e.type.padEnd(19)} ${e.source === 'lab' ? '' : `${e.source}: `}${e.message}`,
      );
    }
  }
  if (view.badEvents) out.push('', `${view.badEvents} invalid event(s) dropped`);
  if (view.agentNote) out.push('', `note: ${view.agentNote}`);
  if (view.badReports > 0) {
    out.push('', `${view.badReports} invalid report(s) dropped; last: ${view.lastBadReport ?? ''}`);
  }
  return out;
}
