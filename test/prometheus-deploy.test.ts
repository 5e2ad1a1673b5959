/**
 * deploy/prometheus and deploy/grafana against the metric table they are
 * written to (deploy/prometheus/METRICS.md): Debian's promtool checks the
 * scrape config and the alert rules and runs the rules' unit tests; the
 * Grafana dashboard parses and queries only metrics the table defines, with
 * the suffixes their types allow. That every metric they query exists on a
 * live agent is checked in test/prometheus-lab.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROM = fileURLToPath(new URL('../deploy/prometheus/', import.meta.url));
const GRAFANA = fileURLToPath(new URL('../deploy/grafana/coxswain.json', import.meta.url));

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: PROM, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`,
    );
  }
}

/** name → type, from the spec's tables (`| \`name\` | type | labels | help |`). */
function metricTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const line of readFileSync(`${PROM}METRICS.md`, 'utf8').split('\n')) {
    const m = /^\| `(coxswain_[a-z0-9_]+)` \| (counter|gauge|histogram) \|/.exec(line);
    if (m) table.set(m[1]!, m[2]!);
  }
  return table;
}

/** The coxswain_ names an expression uses, resolved to the metric they belong to. */
function metricsIn(expr: string, table: Map<string, string>): { name: string; problem?: string }[] {
  return [...expr.matchAll(/\bcoxswain_[a-z0-9_]+/g)].map(([used]) => {
    if (table.has(used)) {
      const type = table.get(used);
      return type === 'histogram'
        ? { name: used, problem: 'a histogram queried without _bucket/_sum/_count' }
        : { name: used };
    }
    const base = used.replace(/_(bucket|sum|count)$/, '');
    if (base !== used && table.get(base) === 'histogram') return { name: base };
    return { name: used, problem: 'not in METRICS.md' };
  });
}

describe('deploy/prometheus and deploy/grafana', () => {
  const table = metricTable();

  it('the metric table follows the conventions: coxswain_ prefix, _total counters, _seconds histograms, the required series', () => {
    expect(table.size).toBeGreaterThan(30);
    for (const [name, type] of table) {
      if (type === 'counter') expect(name, name).toMatch(/_total$/);
      else expect(name, name).not.toMatch(/_total$/);
      if (type === 'histogram') expect(name, name).toMatch(/_seconds$/);
    }
    for (const [name, type] of [
      ['coxswain_raft_is_leader', 'gauge'],
      ['coxswain_raft_term', 'gauge'],
      ['coxswain_raft_has_leader', 'gauge'],
      ['coxswain_raft_leader_changes_total', 'counter'],
      ['coxswain_commands_total', 'counter'],
      ['coxswain_stale_tokens_refused_total', 'counter'],
      ['coxswain_rejected_messages_total', 'counter'],
      ['coxswain_raft_commit_latency_seconds', 'histogram'],
      ['coxswain_command_round_trip_seconds', 'histogram'],
      ['coxswain_heal_duration_seconds', 'histogram'],
      ['coxswain_decision_duration_seconds', 'histogram'],
    ] as const)
      expect(table.get(name), name).toBe(type);
  });

  it('promtool accepts the scrape config and the alert rules, and the rules fire as their tests say', () => {
    expect(promtool('check', 'config', 'prometheus.yml')).toContain(
      'is valid prometheus config file syntax',
    );
    expect(promtool('check', 'rules', 'alerts.yml')).toContain('SUCCESS: 5 rules found');
    expect(promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it('the scrape config reads the agents on their API port, and the alerts use only the table’s metrics', () => {
    const config = readFileSync(`${PROM}prometheus.yml`, 'utf8');
    expect(config).toContain('metrics_path: /metrics');
    const targets = JSON.parse(readFileSync(`${PROM}targets.json`, 'utf8')) as {
      targets: string[];
      labels: { node: string };
    }[];
    for (const t of targets) for (const addr of t.targets) expect(addr).toMatch(/:7070$/);
    const rules = readFileSync(`${PROM}alerts.yml`, 'utf8');
    const used = metricsIn(rules, table);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => u.problem)).toEqual([]);
    for (const alert of [
      'CoxswainNoLeader',
      'CoxswainNodeDead',
      'CoxswainServiceBelowDesired',
      'CoxswainStaleTokensRefused',
    ])
      expect(rules).toContain(`alert: ${alert}`);
  });

  it('the Grafana dashboard parses and queries only the table’s metrics', () => {
    const dash = JSON.parse(readFileSync(GRAFANA, 'utf8')) as {
      uid: string;
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dash.uid).toBe('coxswain-cluster');
    expect(dash.panels.length).toBeGreaterThan(10);
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const used = exprs.flatMap((e) => metricsIn(e, table));
    expect(used.filter((u) => u.problem)).toEqual([]);
    const names = new Set(used.map((u) => u.name));
    for (const required of [
      'coxswain_raft_is_leader',
      'coxswain_raft_term',
      'coxswain_raft_commit_latency_seconds',
      'coxswain_command_round_trip_seconds',
      'coxswain_heal_duration_seconds',
      'coxswain_decision_duration_seconds',
      'coxswain_service_desired_replicas',
    ])
      expect(names.has(required), required).toBe(true);
  });
});
