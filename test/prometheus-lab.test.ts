/**
 * A real Prometheus (Debian's `prometheus`) scrapes every agent of a 3-host
 * lab: the test queries it over its HTTP API and sees the leader and the term
 * move after the leader's agent is SIGKILLed. On the same lab: every metric
 * the Grafana dashboard and the alert rules query exists on a live agent, and
 * the decisions route (read from a follower, forwarded to the leader) and
 * `coxswain explain` explain a manual scale-up by its pin.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { loadServiceSpec } from '@coxswain/lab';
import { DecisionsReply } from '@coxswain/protocol';
import { makeTempDir, pollUntil } from '@coxswain/testkit';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startSourceLab } from './fixtures/source-lab.js';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const bin = fileURLToPath(new URL('../packages/cli/src/bin.ts', import.meta.url));
const DEPLOY = fileURLToPath(new URL('../deploy/', import.meta.url));
const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const QueryReply = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(
      z.object({
        metric: z.record(z.string(), z.string()),
        value: z.tuple([z.number(), z.string()]),
      }),
    ),
  }),
});

async function query(base: string, expr: string) {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  if (!res.ok) throw new Error(`prometheus ${expr}: HTTP ${res.status} ${await res.text()}`);
  return QueryReply.parse(await res.json()).data.result;
}

/** The coxswain_ metric families the dashboard JSON and the alert rules query. */
function queriedMetrics(): string[] {
  const text =
    readFileSync(join(DEPLOY, 'grafana/coxswain.json'), 'utf8') +
    readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8');
  const names = new Set<string>();
  for (const [m] of text.matchAll(/\bcoxswain_[a-z0-9_]+/g))
    names.add(m.replace(/_(bucket|sum|count)$/, ''));
  return [...names].sort();
}

describe('Prometheus scraping a live 3-host lab', () => {
  it('sees the leader and the term move after a leader kill; every queried metric exists; explain says why', async () => {
    const stateDir = makeTempDir('cxprom-');
    const lab = await startSourceLab(stateDir);
    let prom: ChildProcess | undefined;
    try {
      const leader = (await lab.waitForLeader(90_000)).leader!.id;
      await lab.waitForAllNodes(60_000);
      await lab.api(leader).applyService(loadServiceSpec());
      await pollUntil(
        'web at its minimum',
        async () => {
          const web = (await lab.api(leader).services()).services.find((s) => s.name === 'web');
          return web && Object.values(web.running).reduce((a, b) => a + b, 0) === 2
            ? web
            : undefined;
        },
        60_000,
        250,
      );

      // --- a manual scale-up, explained from a follower ------------------------------------
      await lab.api(leader).scaleService('web', 4);
      const follower = lab.hosts.find((h) => h.name !== leader)!;
      const decisions = await pollUntil(
        'the pinned scale-up in the decision log',
        async () => {
          const r = await fetch(`${follower.apiUrl}/v1/services/web/decisions?limit=20`);
          if (!r.ok) return undefined;
          const body = DecisionsReply.parse(await r.json());
          return body.decisions.some(
            (d) => d.desiredReplicas === 4 && d.outcome.status === 'scaled',
          )
            ? body
            : undefined;
        },
        30_000,
        250,
      );
      const pinned = decisions.decisions.find((d) => d.desiredReplicas === 4)!;
      expect(decisions.meta.node).toBe(leader);
      expect(pinned.binding.rule).toBe('manual_pin');
      expect(pinned.binding.limit).toBe(4);
      expect(pinned.currentReplicas).toBe(2);
      expect(pinned.policy).toBe('manual');
      expect(pinned.leaderId).toBe(leader);
      expect(pinned.outcome.commandIds.length).toBeGreaterThan(0);
      expect(pinned.outcome.traceId).toMatch(/^[0-9a-f]{32}$/);
      const { stdout: explained } = await run(
        process.execPath,
        [
          '--conditions=@coxswain/source',
          '--import',
          tsx,
          bin,
          'explain',
          'web',
          '--api',
          follower.apiUrl,
        ],
        { encoding: 'utf8' },
      );
      expect(explained).toContain('web has 4 desired replicas');
      expect(explained).toContain('pinned at 4 by `coxswain service scale`');
      expect(explained).toMatch(/was to scale up from 2 to 4/);
      expect(explained).toContain('Outcome: done');
      const { stdout: status } = await run(
        process.execPath,
        ['--conditions=@coxswain/source', '--import', tsx, bin, 'status', '--api', follower.apiUrl],
        { encoding: 'utf8' },
      );
      expect(status).toMatch(/health: +3 of 3 voters healthy, quorum 2, failure tolerance 1/);
      for (const h of lab.hosts)
        expect(status).toMatch(new RegExp(`^${h.name} +(yes|no) +yes `, 'm'));

      // --- every metric Grafana and the alerts query exists on a live agent ----------------
      const text = await (
        await fetch(`${lab.hosts.find((h) => h.name === leader)!.apiUrl}/metrics`)
      ).text();
      const missing = queriedMetrics().filter((name) => !text.includes(`# TYPE ${name} `));
      expect(missing).toEqual([]);
      expect(text).toMatch(/^coxswain_raft_commit_latency_seconds_count [1-9]/m);
      expect(text).toMatch(/^coxswain_commands_total\{action="scale",result="done"\} [1-9]/m);
      expect(text).toMatch(/^coxswain_decisions_total\{service="web",outcome="scaled"\} [1-9]/m);

      // --- Prometheus scrapes all three ---------------------------------------------------
      const promDir = makeTempDir('cxpromdata-');
      const port = await freePort();
      const targets = lab.hosts.map((h) => ({ addr: new URL(h.apiUrl).host, node: h.name }));
      writeFileSync(
        join(promDir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          'scrape_configs:',
          '  - job_name: coxswain',
          '    scrape_timeout: 900ms',
          '    static_configs:',
          ...targets.map(
            (t) => `      - targets: ['${t.addr}']\n        labels: { node: '${t.node}' }`,
          ),
        ].join('\n'),
      );
      prom = spawn(
        'prometheus',
        [
          `--config.file=${join(promDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(promDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: 'ignore' },
      );
      const base = `http://127.0.0.1:${port}`;
      const before = await pollUntil(
        'Prometheus to see all three agents and the leader',
        async () => {
          const up = await query(base, 'up{job="coxswain"} == 1').catch(() => []);
          const leaders = await query(base, 'coxswain_raft_is_leader == 1').catch(() => []);
          const term = await query(base, 'max(coxswain_raft_term)').catch(() => []);
          return up.length === 3 && leaders.length === 1 && term.length === 1
            ? { leader: leaders[0]!.metric.node!, term: Number(term[0]!.value[1]) }
            : undefined;
        },
        60_000,
        500,
      );
      const current = (await lab.api(follower.name).cluster()).leader!.id;
      expect(before.leader).toBe(current);
      const tolerance = await query(base, 'coxswain_raft_failure_tolerance');
      expect(tolerance.map((r) => r.metric.node)).toEqual([current]);
      expect(Number(tolerance[0]!.value[1])).toBe(1);

      await lab.killAgent(current);
      const after = await pollUntil(
        'Prometheus to see a new leader in a later term',
        async () => {
          const leaders = await query(base, 'coxswain_raft_is_leader == 1 and up == 1').catch(
            () => [],
          );
          const term = await query(base, 'max(coxswain_raft_term and up == 1)').catch(() => []);
          const others = leaders.filter((l) => l.metric.node !== current);
          return others.length === 1 && term.length === 1 && Number(term[0]!.value[1]) > before.term
            ? { leader: others[0]!.metric.node!, term: Number(term[0]!.value[1]) }
            : undefined;
        },
        60_000,
        500,
      );
      expect(after.leader).not.toBe(current);
      expect(after.term).toBeGreaterThan(before.term);
      const down = await pollUntil(
        'the killed agent to be down',
        async () => {
          const r = await query(base, `up{node="${current}"} == 0`);
          return r.length === 1 ? r : undefined;
        },
        20_000,
        500,
      );
      expect(down).toHaveLength(1);
      const changes = await query(
        base,
        `coxswain_raft_leader_changes_total{node="${after.leader}"}`,
      );
      expect(Number(changes[0]!.value[1])).toBeGreaterThanOrEqual(2);
      console.log(
        `prometheus saw leader ${before.leader} (term ${before.term}) → ${after.leader} (term ${after.term})`,
      );
      rmSync(promDir, { recursive: true, force: true });
    } finally {
      prom?.kill('SIGTERM');
      await lab.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 300_000);
});
