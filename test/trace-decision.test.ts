// One trace per decision, across processes: agents run as separate OS
// processes (a real nats-server, a real dockerd each) exporting OTLP/HTTP to a
// real receiver this test starts. A declared service scales up from 0; the
// trace of that decision holds spans from the leader's process (decide,
// lock.acquire, the command, lock.release) and from the executing agent's
// (its execution of the command, the Docker create and the health wait), under
// one trace id, parented across the NATS hop.
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  decode,
  encode,
  NodeReport,
  PROTOCOL_VERSION,
  subjects as subjectsOf,
} from '@coxswain/protocol';
import {
  API_TOKEN,
  CLUSTER,
  NatsServer,
  ProcCluster,
  serviceSpec,
  waitFor,
} from '@coxswain/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

// The part of the OTLP JSON encoding (ExportTraceServiceRequest) this test reads.
const OtlpAnyValue = z.object({
  stringValue: z.string().optional(),
  intValue: z.union([z.string(), z.number()]).optional(),
  boolValue: z.boolean().optional(),
  doubleValue: z.number().optional(),
});
const OtlpKeyValue = z.object({ key: z.string(), value: OtlpAnyValue });
const OtlpSpan = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  name: z.string(),
  attributes: z.array(OtlpKeyValue).default([]),
});
const OtlpTraceRequest = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: z.array(OtlpKeyValue) }),
      scopeSpans: z.array(z.object({ spans: z.array(OtlpSpan) })),
    }),
  ),
});
type Flat = Record<string, string | number | boolean | undefined>;

interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly attributes: Flat;
  readonly node: string | undefined;
}

function flatten(attributes: z.output<typeof OtlpKeyValue>[]): Flat {
  const out: Flat = {};
  for (const { key, value } of attributes) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue;
    out[key] = typeof v === 'string' && value.intValue !== undefined ? Number(v) : v;
  }
  return out;
}

/** A collector's OTLP/HTTP traces endpoint (JSON, as the JS exporter sends it) that keeps what it is sent. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly #server = createServer((req, res) => void this.#handle(req, res));

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const body = OtlpTraceRequest.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    for (const rs of body.resourceSpans) {
      const node = flatten(rs.resource.attributes)['coxswain.node'];
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          this.spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || undefined,
            name: s.name,
            attributes: flatten(s.attributes),
            node: typeof node === 'string' ? node : undefined,
          });
        }
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/cli/src/bin.ts');

/** An agent process's API port, from its own 'agent started' log line. */
function apiPort(cluster: ProcCluster, id: string): number {
  for (const line of cluster.hosts.get(id)!.lines) {
    if (!line.includes('"agent started"')) continue;
    return Number((JSON.parse(line) as { apiPort: number }).apiPort);
  }
  throw new Error(`no 'agent started' line from ${id}`);
}

/** The id of the first test's trace, for the CLI test after it. */
let decisionTraceId = '';

const ENV = {
  OTEL_EXPORTER_OTLP_ENDPOINT: '',
  // Export every 200 ms rather than 5 s, so the test does not wait on the batch timer.
  OTEL_BSP_SCHEDULE_DELAY: '200',
};

describe('tracing: one trace per decision across the leader and the agents', () => {
  let receiver: OtlpReceiver;
  let nats: NatsServer;
  let cluster: ProcCluster;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    ENV.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    // The agent processes inherit this environment; NodeSDK reads OTEL_* when it starts.
    for (const [k, v] of Object.entries(ENV)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    nats = await NatsServer.start();
    cluster = await ProcCluster.start(nats, ['n1', 'n2']);
    await waitFor('a leader', () => cluster.leaderId(), 30_000);
    // Both nodes registered from their reports, so the first placement can use the other one.
    await waitFor(
      'both nodes registered',
      async () => {
        const nodes = Object.values((await cluster.state()).nodes);
        return nodes.filter((n) => n.state === 'alive').length === 2 ? true : undefined;
      },
      30_000,
    );
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await nats?.stop();
    await receiver?.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }, 120_000);

  it('a scale-up is one trace with spans from the leader and the executing agent', async () => {
    const leader = cluster.leaderId()!;
    const other = [...cluster.hosts.keys()].find((id) => id !== leader)!;
    const apply = await cluster.api({
      v: PROTOCOL_VERSION,
      op: 'service.apply',
      token: API_TOKEN,
      // No policy named: the default (predictive) decides; with no load it asks for minReplicas.
      spec: serviceSpec('traced', { minReplicas: 2 }) as never,
    });
    expect(apply.ok).toBe(true);
    await waitFor(
      '2 running',
      async () => ((await cluster.total('traced')) === 2 ? true : undefined),
      60_000,
    );

    // The agent's execution span ends after its reply; wait for its export too.
    const traceId = await waitFor(
      "the other agent's execution in the receiver",
      () =>
        receiver.spans.find(
          (s) =>
            s.name === 'coxswain.execute' &&
            s.node === other &&
            s.attributes['coxswain.service'] === 'traced',
        )?.traceId,
      30_000,
    );
    const decide = await waitFor(
      'the decide span in the same trace',
      () =>
        receiver.spans.find(
          (s) => s.traceId === traceId && s.name === 'coxswain.decide' && s.node === leader,
        ),
      30_000,
    );
    await waitFor(
      'lock.release exported',
      () =>
        receiver.spans.some((s) => s.traceId === traceId && s.name === 'coxswain.lock.release')
          ? true
          : undefined,
      30_000,
    );
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    const names = (node: string): Set<string> =>
      new Set(spans.filter((s) => s.node === node).map((s) => s.name));

    // Two processes, told apart by their resource attribute, one trace id.
    expect(new Set(spans.map((s) => s.node))).toEqual(new Set([leader, other]));
    for (const name of [
      'coxswain.scale_operation',
      'coxswain.decide',
      'coxswain.lock.acquire',
      'coxswain.command',
      'coxswain.lock.release',
    ])
      expect(names(leader), name).toContain(name);
    for (const name of ['coxswain.execute', 'docker.create', 'docker.wait_healthy'])
      expect(names(other), name).toContain(name);

    // The decision's span carries the policy, its inputs and its reason.
    expect(decide.attributes['coxswain.policy']).toBe('predictive');
    expect(decide.attributes['coxswain.desired_replicas']).toBe(2);
    expect(String(decide.attributes['coxswain.policy.reason'])).toMatch(/→ 2/);
    // A new service's count starts at minReplicas; what runs (none yet) is placed by this decision.
    expect(decide.attributes['coxswain.policy.current_replicas']).toBe(2);
    expect(decide.attributes['coxswain.targets']).toBe(2);

    // The command to the other node carries the reason, and the agent's execution is its grandchild
    // across the NATS hop (command → send → execute), then Docker's calls under the execution.
    const command = spans.find(
      (s) => s.name === 'coxswain.command' && s.attributes['coxswain.target_node'] === other,
    )!;
    expect(String(command.attributes['coxswain.reason'])).toMatch(/^predictive: /);
    const send = spans.find((s) => s.parentSpanId === command.spanId)!;
    expect(send.name).toBe(`send cox.proc.cmd.${other}`);
    const execute = spans.find((s) => s.name === 'coxswain.execute' && s.node === other)!;
    expect(execute.parentSpanId).toBe(send.spanId);
    const create = spans.find((s) => s.name === 'docker.create' && s.node === other)!;
    expect(create.parentSpanId).toBe(execute.spanId);

    // Every span of the trace hangs off another of the same trace, except the one root.
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
    expect(roots.map((s) => s.name)).toEqual(['coxswain.scale_operation']);

    // Elections are spans too: the leader's campaign was won in its term.
    const won = receiver.spans.find(
      (s) =>
        s.name === 'coxswain.election' &&
        s.node === leader &&
        s.attributes['coxswain.election.outcome'] === 'won',
    );
    expect(won?.attributes['coxswain.term']).toBeGreaterThan(0);
    decisionTraceId = traceId;
  }, 180_000);

  it('`coxswain traces` over both agents shows that trace as one tree across the nodes', async () => {
    expect(decisionTraceId).not.toBe('');
    const leader = cluster.leaderId()!;
    const other = [...cluster.hosts.keys()].find((id) => id !== leader)!;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=@coxswain/source',
        '--import',
        'tsx',
        bin,
        'traces',
        '--api',
        `http://127.0.0.1:${apiPort(cluster, leader)}`,
        '--api',
        `http://127.0.0.1:${apiPort(cluster, other)}`,
        '--trace-id',
        decisionTraceId,
      ],
      { cwd: join(root, 'test'), timeout: 60_000 },
    );
    console.log(`[trace-decision] coxswain traces:\n${stdout}`);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^trace ${decisionTraceId} .* nodes: n1, n2$`));
    const indent = (name: string, node: string): number => {
      const line = lines.find(
        (l) => l.trimStart().startsWith(`${name} `) && l.includes(`[${node}]`),
      );
      expect(line, `${name} on ${node}`).toBeDefined();
      return line!.length - line!.trimStart().length;
    };
    // One root (the operation), the agent's work nested under the leader's command.
    expect(lines.filter((l) => /^ {2}\S/.test(l))).toHaveLength(1);
    expect(indent('coxswain.scale_operation', leader)).toBe(2);
    const command = indent('coxswain.command', leader);
    const execute = indent('coxswain.execute', other);
    expect(execute).toBeGreaterThan(command);
    expect(indent('docker.create', other)).toBeGreaterThan(execute);
  }, 120_000);

  it("a later change continues the trace of the report that carried the service's figures", async () => {
    const before = new Set(receiver.spans.map((s) => s.traceId));
    // Reports now carry the service (it runs): the next operation on it joins a report's trace.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const scaled = await cluster.api({
      v: PROTOCOL_VERSION,
      op: 'service.apply',
      token: API_TOKEN,
      spec: serviceSpec('traced', { minReplicas: 3 }) as never,
    });
    expect(scaled.ok).toBe(true);
    const op = await waitFor(
      'an operation raising traced to 3',
      () =>
        receiver.spans.find(
          (s) =>
            s.name === 'coxswain.decide' &&
            s.attributes['coxswain.service'] === 'traced' &&
            s.attributes['coxswain.desired_replicas'] === 3 &&
            !before.has(s.traceId),
        ),
      60_000,
    );
    const report = await waitFor(
      'the report span of that trace',
      () =>
        receiver.spans.find(
          (s) => s.traceId === op.traceId && s.name === 'agent.sample_and_report',
        ),
      30_000,
    );
    expect(report.parentSpanId).toBeUndefined();
  }, 120_000);

  it("the leader's forecast reaches the reports as the ninth figure", async () => {
    const leader = cluster.leaderId()!;
    const s = subjectsOf(CLUSTER);
    // No replica here can serve HTTP (engines run with --bridge=none), so the request rate comes
    // from a node this test plays over the real NATS: too small to take a replica (1 CPU, the
    // service wants 1.5), it reports 20 req/s for the service, as an agent scraping it would.
    {
      const r = await cluster.api({
        v: PROTOCOL_VERSION,
        op: 'service.apply',
        token: API_TOKEN,
        spec: serviceSpec('metered', {
          minReplicas: 1,
          resources: { cpus: 1.5 },
          policy: {
            name: 'predictive',
            params: { stepSeconds: 1, capacityPerReplica: 100, learnCapacity: false },
          },
        }) as never,
      });
      expect(r.ok).toBe(true);
    }
    let seq = 0;
    const publishEdge = (): void => {
      const time = Date.now();
      cluster.nc.publish(
        s.report('edge'),
        encode(NodeReport, {
          v: PROTOCOL_VERSION,
          cluster: CLUSTER,
          nodeId: 'edge',
          address: '127.0.0.1',
          role: 'client',
          capacity: { cpus: 1, memoryBytes: 2 ** 30, maxReplicas: 5 },
          labels: {},
          time,
          seq: seq++,
          dockerReachable: true,
          containers: [],
          services: { metered: { time, containerCount: 1, requestRatePerSecond: 20 } },
        }),
      );
    };
    const timer = setInterval(publishEdge, 250);
    const predicted: { node: string; rate: number }[] = [];
    const sub = cluster.nc.subscribe(s.reports, {
      callback: (_err, msg) => {
        const d = decode(NodeReport, msg.data);
        const rate = d.ok ? d.value.services.metered?.predictedRequestRatePerSecond : undefined;
        if (d.ok && rate !== undefined) predicted.push({ node: d.value.nodeId, rate });
      },
    });
    try {
      const first = await waitFor('a report with the predicted rate', () => predicted[0], 60_000);
      // Filled by the leader only, and near the 20 req/s the service has been serving.
      expect(first.node).toBe(leader);
      expect(first.rate).toBeGreaterThan(10);
      expect(first.rate).toBeLessThan(40);
      expect(new Set(predicted.map((p) => p.node))).toEqual(new Set([leader]));
    } finally {
      clearInterval(timer);
      sub.unsubscribe();
    }
  }, 120_000);
});
