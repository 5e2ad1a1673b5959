// The agent end to end against a real nats-server and a real dockerd: reports
// every interval with the right counts, reporting across a NATS restart, and
// garbage on its subjects counted and dropped while it keeps running.
import { Agent, Reporter } from '@coxswain/agent';
import { NatsLink } from '@coxswain/nats-link';
import {
  AgentConfig,
  decode,
  LABELS,
  MAX_REPORT_BYTES,
  type NodeReport,
  NodeReport as NodeReportSchema,
  PROTOCOL_VERSION,
  subjects,
} from '@coxswain/protocol';
import { MetricsRegistry } from '@coxswain/telemetry';
import {
  BUSYBOX_IMAGE,
  Dockerd,
  ensureBusyboxImage,
  freePort,
  NatsCluster,
  NatsServer,
  pollUntil,
} from '@coxswain/testkit';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLUSTER = 'e2e';
const INTERVAL_MS = 500;
const S = subjects(CLUSTER);

let ns: NatsServer;
let dockerd: Dockerd;
let agent: Agent;
let client: NatsConnection;
const received: Array<{ report: NodeReport; atMs: number }> = [];

async function labelled(service: string): Promise<string> {
  const c = await dockerd.docker.createContainer({
    Image: BUSYBOX_IMAGE,
    Cmd: ['sleep', '100000'],
    Labels: { [LABELS.service]: service },
  });
  await c.start();
  return c.id;
}

function metric(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

beforeAll(async () => {
  ns = await NatsServer.start();
  dockerd = await Dockerd.start();
  await ensureBusyboxImage(dockerd.docker);
  await labelled('web');
  await labelled('web');
  await labelled('db');
  client = await connect({ servers: ns.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
  client.subscribe(S.report('n1'), {
    callback: (_e, msg) => {
      const r = decode(NodeReportSchema, msg.data, { maxBytes: MAX_REPORT_BYTES });
      if (r.ok) received.push({ report: r.value, atMs: performance.now() });
    },
  });
  const config = AgentConfig.parse({
    cluster: CLUSTER,
    nodeId: 'n1',
    nats: { servers: [ns.url] },
    docker: { socketPath: dockerd.socketPath },
    api: { host: '127.0.0.1', port: 0 },
    sampleIntervalMs: INTERVAL_MS,
    log: { level: 'warn' },
  });
  agent = await Agent.start(config);
});

afterAll(async () => {
  await agent?.stop();
  await client?.close();
  await dockerd?.stop();
  await ns?.stop();
});

describe('agent end to end', () => {
  it('publishes a report every interval with the right container counts', async () => {
    const from = received.length;
    await new Promise((r) => setTimeout(r, 3200));
    const window = received.slice(from);
    // 3.2 s at 500 ms: 6 expected; allow for a busy machine.
    expect(window.length).toBeGreaterThanOrEqual(5);
    expect(window.length).toBeLessThanOrEqual(8);
    const gaps = window.slice(1).map((w, i) => w.atMs - window[i]!.atMs);
    const sorted = [...gaps].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThan(INTERVAL_MS * 0.6);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(INTERVAL_MS * 1.6);
    for (let i = 1; i < window.length; i++)
      expect(window[i]!.report.seq).toBe(window[i - 1]!.report.seq + 1);
    const last = window.at(-1)!.report;
    expect(last.dockerReachable).toBe(true);
    expect(last.containers).toHaveLength(3);
    expect(last.services.web?.containerCount).toBe(2);
    expect(last.services.db?.containerCount).toBe(1);
    // Two samples exist by now: rates are measured (sleeping containers: ~0 CPU).
    expect(last.services.web?.cpuPercent).toBeLessThan(5);
    expect(last.services.web?.memoryPercent).toBeGreaterThan(0);
    // No metrics endpoint: request figures are absent, not 0.
    expect(last.services.web?.requestRatePerSecond).toBeUndefined();
    expect(last.services.web?.p95LatencyMs).toBeUndefined();

    const node = await agent.http.inject('GET', '/v1/node');
    expect(node.status).toBe(200);
    expect(node.json<NodeReport>().nodeId).toBe('n1');
    const ready = await fetch(`http://127.0.0.1:${agent.http.port}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('follows container changes: a killed replica stops counting at the next report', async () => {
    const extra = await labelled('web');
    await pollUntil(
      'a report with 3 web replicas',
      () => (received.at(-1)?.report.services.web?.containerCount === 3 ? true : undefined),
      5000,
    );
    await dockerd.docker.getContainer(extra).kill();
    await pollUntil(
      'a report with 2 web replicas',
      () => (received.at(-1)?.report.services.web?.containerCount === 2 ? true : undefined),
      5000,
    );
    await dockerd.docker.getContainer(extra).remove({ force: true });
  });

  it('scrapes a replica that declares metrics: request rate /s and p95 from the histogram', async () => {
    const port = await freePort();
    // A fake app: every 0.2 s it has served 10 more requests, 9 of them within 50 ms and all within 100 ms.
    const script = [
      'busybox mkdir -p /www',
      'i=0',
      'while :; do i=$((i+10))',
      String.raw`printf "# TYPE http_requests_total counter\nhttp_requests_total %d\nhttp_request_duration_seconds_bucket{le=\"0.05\"} %d\nhttp_request_duration_seconds_bucket{le=\"0.1\"} %d\nhttp_request_duration_seconds_bucket{le=\"+Inf\"} %d\n" $i $((i*9/10)) $i $i > /www/m.tmp`,
      'busybox mv /www/m.tmp /www/metrics',
      'sleep 0.2',
      'done &',
      `exec httpd -f -p 127.0.0.1:${port} -h /www`,
    ].join('\n');
    const c = await dockerd.docker.createContainer({
      Image: BUSYBOX_IMAGE,
      Cmd: ['sh', '-c', script],
      Labels: {
        [LABELS.service]: 'metered',
        [LABELS.metricsPort]: String(port),
        [LABELS.metricsPath]: '/metrics',
      },
      HostConfig: { NetworkMode: 'host' },
    });
    await c.start();
    try {
      const figures = await pollUntil(
        'request figures for the metered service',
        () => {
          const f = agent.lastReport?.services.metered;
          return f?.requestRatePerSecond !== undefined && f.p95LatencyMs !== undefined
            ? f
            : undefined;
        },
        15_000,
        100,
      );
      // 50/s nominal, in steps of 10: a 500 ms interval sees 2 or 3 steps (40-60/s, more when a
      // late scrape shortens it), fewer when the shell loop lags on a busy machine.
      expect(figures.requestRatePerSecond).toBeGreaterThan(15);
      expect(figures.requestRatePerSecond).toBeLessThan(100);
      // Rank 95 % lies half-way through (50 ms, 100 ms].
      expect(figures.p95LatencyMs).toBeCloseTo(75, 0);
    } finally {
      await c.remove({ force: true });
    }
  });

  it('keeps reporting across a NATS server restart; reports made while disconnected are dropped and counted', async () => {
    const seqBefore = received.at(-1)!.report.seq;
    await ns.stop();
    // Stay down for several intervals so the agent has reports to drop.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 4));
    expect(agent.ready.nats).toBe(false);
    await ns.restart();
    await pollUntil(
      'reports after the restart',
      () => (received.at(-1)!.report.seq > seqBefore + 4 ? true : undefined),
      20_000,
    );
    const metrics = (await agent.http.inject('GET', '/metrics')).body;
    expect(
      metric(metrics, 'coxswain_reports_dropped_total{reason="disconnected"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(metric(metrics, 'coxswain_nats_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(agent.ready.nats).toBe(true);
  });

  it('counts and drops garbage and oversize payloads on its subjects, and keeps running', async () => {
    const evil = S.report('evil');
    client.publish(evil, 'not json at all');
    client.publish(evil, JSON.stringify({ v: PROTOCOL_VERSION, nodeId: 'evil' }));
    client.publish(evil, new Uint8Array([0xff, 0xfe, 0x00]));
    client.publish(evil, JSON.stringify({ pad: 'x'.repeat(MAX_REPORT_BYTES + 10) }));
    // A valid peer report is taken in.
    const peer: NodeReport = { ...received.at(-1)!.report, nodeId: 'n2', seq: 0 };
    client.publish(S.report('n2'), JSON.stringify(peer));
    await client.flush();
    const label = `subject="report"`;
    await pollUntil(
      'the rejects to be counted',
      async () => {
        const text = (await agent.http.inject('GET', '/metrics')).body;
        return metric(text, `coxswain_rejected_messages_total{reason="too_large",${label}}`) === 1
          ? text
          : undefined;
      },
      5000,
    ).then((text) => {
      expect(metric(text, `coxswain_rejected_messages_total{reason="malformed",${label}}`)).toBe(2);
      expect(metric(text, `coxswain_rejected_messages_total{reason="invalid",${label}}`)).toBe(1);
    });
    await pollUntil('the peer report', () => (agent.peers().has('n2') ? true : undefined), 5000);
    expect(agent.peers().has('evil')).toBe(false);
    // Still alive and reporting.
    const seq = received.at(-1)!.report.seq;
    await pollUntil(
      'another report',
      () => (received.at(-1)!.report.seq > seq ? true : undefined),
      5000,
    );
    expect((await agent.http.inject('GET', '/healthz')).status).toBe(200);
  });
});

describe('reporter', () => {
  it('sends an oversize report without its container list, counted, rather than one peers would refuse', async () => {
    const registry = new MetricsRegistry();
    const published = registry.counter('published', 'p');
    const dropped = registry.counter('dropped', 'd', ['reason']);
    const link = new NatsLink({ servers: [ns.url], name: 'trim-test' });
    expect(await link.start(5000)).toBe(true);
    const reporter = new Reporter({
      link,
      config: { cluster: 'trim', nodeId: 'big' },
      counters: { published, dropped },
    });
    const watcher = await connect({ servers: ns.url });
    try {
      const sub = watcher.subscribe(subjects('trim').report('big'), { max: 1, timeout: 5000 });
      await watcher.flush();
      const base = (await pollUntil('a report from the agent', () => received.at(-1), 5000)).report;
      const container = {
        id: 'x'.repeat(64),
        name: 'n'.repeat(100),
        service: 'web',
        image: 'i'.repeat(100),
        status: 'running' as const,
        health: 'none' as const,
      };
      const huge: NodeReport = {
        ...base,
        cluster: 'trim',
        nodeId: 'big',
        containers: Array.from({ length: 1500 }, () => container),
      };
      expect(reporter.publish(huge)).toBe('published');
      for await (const m of sub) {
        const r = decode(NodeReportSchema, m.data, { maxBytes: MAX_REPORT_BYTES });
        expect(r.ok).toBe(true);
        if (r.ok) {
          expect(r.value.containers).toEqual([]);
          expect(r.value.services).toEqual(base.services);
        }
      }
      expect(dropped.get({ reason: 'containers_trimmed' })).toBe(1);
      expect(published.total()).toBe(1);
    } finally {
      await watcher.close();
      await link.stop();
    }
  });
});

describe('agent without its dependencies (static stability)', () => {
  it('starts with NATS and Docker both down, says so in /readyz and its reports, and reports once NATS comes up', async () => {
    const natsPort = await freePort();
    const socketPath = `${dockerd.dir}/not-yet.sock`;
    const config = AgentConfig.parse({
      cluster: 'stable',
      nodeId: 'lonely',
      nats: { servers: [`nats://127.0.0.1:${natsPort}`] },
      docker: { socketPath },
      api: { host: '127.0.0.1', port: 0 },
      sampleIntervalMs: 300,
      log: { level: 'error' },
    });
    const lonely = await Agent.start(config, { waitForNatsMs: 300 });
    let late: NatsServer | undefined;
    try {
      const ready = await lonely.http.inject('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json()).toMatchObject({ ok: false, nats: false, docker: false });
      await pollUntil(
        'a report marked dockerReachable=false',
        () => (lonely.lastReport?.dockerReachable === false ? true : undefined),
        5000,
      );
      await pollUntil(
        'drops to be counted',
        async () => {
          const text = (await lonely.http.inject('GET', '/metrics')).body;
          return (metric(text, 'coxswain_reports_dropped_total{reason="disconnected"}') ?? 0) >= 2
            ? true
            : undefined;
        },
        5000,
      );
      // NATS comes up on the configured port: the agent connects on its own and reports.
      late = await NatsServer.start({ port: natsPort });
      const nc = await connect({ servers: late.url });
      try {
        const sub = nc.subscribe(subjects('stable').report('lonely'), { max: 1, timeout: 15_000 });
        for await (const m of sub) {
          const r = decode(NodeReportSchema, m.data);
          expect(r.ok && r.value.dockerReachable).toBe(false);
        }
      } finally {
        await nc.close();
      }
      expect(lonely.ready.nats).toBe(true);
    } finally {
      await lonely.stop();
      await late?.stop();
    }
  });
});

describe('agent on a NATS cluster', () => {
  it('fails over to another server when the one it uses is killed, and keeps reporting', async () => {
    const cluster = await NatsCluster.start(3);
    let roaming: Agent | undefined;
    let watcher: NatsConnection | undefined;
    try {
      await cluster.waitForRoutes();
      const config = AgentConfig.parse({
        cluster: 'multi',
        nodeId: 'roamer',
        nats: { servers: cluster.urls },
        docker: { socketPath: dockerd.socketPath },
        api: { host: '127.0.0.1', port: 0 },
        sampleIntervalMs: 300,
        log: { level: 'error' },
      });
      roaming = await Agent.start(config);
      const agentServer = roaming.link.connection!.getServer();
      const victim = cluster.servers.find((s) => agentServer.endsWith(`:${s.port}`))!;
      const other = cluster.servers.find((s) => s !== victim)!;
      watcher = await connect({ servers: other.url });
      const seqs: number[] = [];
      watcher.subscribe(subjects('multi').report('roamer'), {
        callback: (_e, m) => {
          const r = decode(NodeReportSchema, m.data, { maxBytes: MAX_REPORT_BYTES });
          if (r.ok) seqs.push(r.value.seq);
        },
      });
      await pollUntil(
        'reports through the cluster',
        () => (seqs.length >= 2 ? true : undefined),
        10_000,
      );
      await victim.kill();
      const after = seqs.at(-1)!;
      await pollUntil(
        'reports after the failover',
        () => (seqs.at(-1)! >= after + 3 ? true : undefined),
        20_000,
      );
      expect(roaming.link.connection!.getServer()).not.toBe(agentServer);
      expect(roaming.link.counters.reconnects).toBeGreaterThanOrEqual(1);
    } finally {
      await watcher?.close();
      await roaming?.stop();
      await cluster.stop();
    }
  });
});

describe('NatsLink', () => {
  it('stops cleanly while it is still trying to make its first connection', async () => {
    const port = await freePort();
    const link = new NatsLink({
      servers: [`nats://127.0.0.1:${port}`],
      name: 'never',
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
    });
    expect(await link.start(300)).toBe(false);
    const started = performance.now();
    await link.stop();
    expect(performance.now() - started).toBeLessThan(3000);
    // A server appearing afterwards is not connected to: the loop is over.
    const late = await NatsServer.start({ port });
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(link.connected).toBe(false);
      expect(link.connection).toBeUndefined();
    } finally {
      await late.stop();
    }
  });
});
