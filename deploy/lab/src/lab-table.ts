import type { NodeReport } from '@coxswain/protocol';

/** What the lab knows of one host at one moment; the table is rendered from this alone. */
export interface LabHostView {
  readonly name: string;
  readonly address: string;
  /** Lab-side state of the processes it started for this host: up, starting, killed, agent exited (code). */
  readonly state: string;
  /** Containers the host's engine runs, as the lab sees them directly (undefined: engine not answering). */
  readonly dockerRunning: number | undefined;
  readonly dockerTotal: number | undefined;
  /** The host agent's latest report and how old it is. */
  readonly report: NodeReport | undefined;
  readonly reportAgeMs: number | undefined;
}

export interface LabView {
  readonly mode: 'netns' | 'loopback';
  readonly cluster: string;
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

/** Renders the live table as plain text lines (no colours, so it reads the same in a log). */
export function renderLabTable(view: LabView): string[] {
  const header = [
    'HOST',
    'ADDRESS',
    'STATE',
    'AGENT REPORT',
    'DOCKER',
    'CONTAINERS (agent)',
    'SERVICES (agent)',
  ];
  const rows: string[][] = [];
  for (const h of view.hosts) {
    const docker =
      h.dockerRunning === undefined ? 'down' : `${h.dockerRunning}/${h.dockerTotal ?? 0} running`;
    const reported = h.report
      ? `${h.report.containers.filter((c) => c.status === 'running').length}/${h.report.containers.length}${h.report.dockerReachable ? '' : ' (engine unreachable)'}`
      : '-';
    const services = serviceLines(h.report);
    rows.push([
      h.name,
      h.address,
      h.state,
      ageText(h.reportAgeMs),
      docker,
      reported,
      services[0] ?? '',
    ]);
    for (const more of services.slice(1)) rows.push(['', '', '', '', '', '', more]);
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
    '',
    line(header),
    ...rows.map(line),
  ];
  if (view.agentNote) out.push('', `note: ${view.agentNote}`);
  if (view.badReports > 0) {
    out.push('', `${view.badReports} invalid report(s) dropped; last: ${view.lastBadReport ?? ''}`);
  }
  return out;
}
