// OTLP/HTTP export against a real receiver: a node:http server on port 0 that
// accepts POST /v1/traces as the JS exporter sends it (JSON), decodes it and
// keeps the spans, so the test can check what a collector would see.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentConfig, ServiceSpec } from '@coxswain/protocol';
import { RecentSpansResponse, startTelemetry, type Telemetry, withSpan } from '@coxswain/telemetry';
import {
  BUSYBOX_IMAGE,
  Dockerd,
  ensureBusyboxImage,
  makeTempDir,
  NatsServer,
  pollUntil,
  removeDir,
} from '@coxswain/testkit';
import { connect, type Msg } from 'nats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
  kind: z.number(),
  startTimeUnixNano: z.union([z.string(), z.number()]),
  endTimeUnixNano: z.union([z.string(), z.number()]),
  attributes: z.array(OtlpKeyValue).default([]),
  status: z.object({ code: z.number().optional(), message: z.string().optional() }).optional(),
});
const OtlpTraceRequest = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: z.array(OtlpKeyValue) }),
      scopeSpans: z.array(
        z.object({ scope: z.object({ name: z.string() }).optional(), spans: z.array(OtlpSpan) }),
      ),
    }),
  ),
});
type OtlpKeyValue = z.output<typeof OtlpKeyValue>;

interface ReceivedSpan extends z.output<typeof OtlpSpan> {
  readonly resource: Record<string, string | number | boolean | undefined>;
}

function flatten(
  attributes: OtlpKeyValue[],
): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const { key, value } of attributes) {
    out[key] = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue;
  }
  return out;
}

class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly contentTypes: string[] = [];
  /** Answer this many export requests with 400 before accepting, to exercise the failure path. */
  rejectNext = 0;
  rejected = 0;
  readonly #server = createServer((req, res) => void this.#handle(req, res));

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    if (this.rejectNext > 0) {
      this.rejectNext -= 1;
      this.rejected += 1;
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"rejected"}');
      return;
    }
    this.contentTypes.push(req.headers['content-type'] ?? '');
    const body = OtlpTraceRequest.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    for (const rs of body.resourceSpans) {
      const resource = flatten(rs.resource.attributes);
      for (const ss of rs.scopeSpans) for (const s of ss.spans) this.spans.push({ ...s, resource });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const ENV_KEYS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;
let savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
let telemetry: Telemetry | undefined;

// NodeSDK and the exporter read OTEL_* when they start: set before, restore after.
beforeEach(() => {
  savedEnv = {};
  for (const key of ENV_KEYS) {
    if (process.env[key] !== undefined) savedEnv[key] = process.env[key];
    delete process.env[key];
  }
});
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

const identity = {
  serviceName: 'coxswain-agent',
  cluster: 'otlp-test',
  nodeId: 'n7',
  host: 'host-7',
};

describe('OTLP/HTTP export', () => {
  it('delivers spans as JSON with the resource attributes and parent links', async () => {
    await using receiver = await OtlpReceiver.start();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    telemetry = await startTelemetry(identity);
    expect(telemetry.otlpEndpoint).toBe(`${receiver.url}/v1/traces`);

    await withSpan(telemetry.tracer, 'decide', { 'coxswain.service': 'web' }, async () => {
      await withSpan(telemetry!.tracer, 'forecast', { replicas: 3 }, async () => {});
    });
    await telemetry.flush();

    expect(receiver.contentTypes.every((t) => t.startsWith('application/json'))).toBe(true);
    expect(receiver.spans.map((s) => s.name).sort()).toEqual(['decide', 'forecast']);
    const decide = receiver.spans.find((s) => s.name === 'decide');
    const forecast = receiver.spans.find((s) => s.name === 'forecast');
    expect(decide?.resource).toMatchObject({
      'service.name': 'coxswain-agent',
      'service.instance.id': 'n7',
      'host.name': 'host-7',
      'coxswain.cluster': 'otlp-test',
      'coxswain.node': 'n7',
    });
    // The JSON encoding carries ids as hex, the same ids the ring shows.
    const ring = telemetry.recentSpans();
    expect(decide?.traceId).toBe(ring.find((s) => s.name === 'decide')?.traceId);
    expect(forecast?.traceId).toBe(decide?.traceId);
    expect(forecast?.parentSpanId).toBe(decide?.spanId);
    expect(flatten(forecast?.attributes ?? [])).toEqual({ replicas: 3 });
    expect(flatten(decide?.attributes ?? [])).toEqual({ 'coxswain.service': 'web' });
  });

  it('reports a rejected batch to the failure handler, counts it, and goes on exporting', async () => {
    await using receiver = await OtlpReceiver.start();
    receiver.rejectNext = 1;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    const warnings: string[] = [];
    telemetry = await startTelemetry({
      ...identity,
      log: { warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields)}`) },
    });

    telemetry.tracer.startSpan('lost').end();
    await telemetry.flush(); // must not throw
    expect(receiver.rejected).toBe(1);
    expect(telemetry.exportFailures).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /telemetry export failed.*COX_TRACE_EXPORT_FAILED.*failed to export 1 spans/,
    );

    telemetry.tracer.startSpan('delivered').end();
    await telemetry.flush();
    expect(receiver.spans.map((s) => s.name)).toEqual(['delivered']);
    expect(telemetry.exportFailures).toBe(1);
  });

  it('shuts down without throwing when the collector is gone', async () => {
    const receiver = await OtlpReceiver.start();
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${receiver.url}/v1/traces`;
    await receiver[Symbol.asyncDispose]();
    const codes: unknown[] = [];
    telemetry = await startTelemetry({
      ...identity,
      // The exporter retries a refused connection for seconds; shutdown gives up first.
      shutdownTimeoutMs: 200,
      log: {
        warn: (_message, fields) =>
          codes.push((fields?.error as { code?: unknown } | undefined)?.code),
      },
    });
    telemetry.tracer.startSpan('unsent').end();
    await telemetry.shutdown();
    expect(telemetry.exportFailures).toBeGreaterThanOrEqual(1);
    expect(codes).toContain('COX_TELEMETRY_SHUTDOWN_TIMEOUT');
    expect(telemetry.recentSpans().map((s) => s.name)).toEqual(['unsent']);
  });
});

describe('a real agent (nats-server and dockerd from the kit)', () => {
  it('exports its sample-and-report spans to the collector, and its reports carry their trace', async () => {
    await using receiver = await OtlpReceiver.start();
    await using ns = await NatsServer.start();
    await using dockerd = await Dockerd.start();
    const dataDir = makeTempDir('coxswain-otlp-agent-');
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    try {
      await ensureBusyboxImage(dockerd.docker);
      // Imported here, not at the top: agent.ts takes its tracer when the module loads,
      // and a tracer taken before the earlier tests' shutdowns stays bound to their SDK.
      const { Agent } = await import('@coxswain/agent');
      const config = AgentConfig.parse({
        cluster: 'otlp-agent',
        nodeId: 'n1',
        nats: { servers: [ns.url] },
        docker: { socketPath: dockerd.socketPath },
        dataDir,
        api: { host: '127.0.0.1', port: 0 },
        sampleIntervalMs: 200,
        log: { level: 'error' },
      });

      // A second connection listens to the agent's reports as a peer would.
      const peer = await connect({ servers: ns.url });
      const reports: Msg[] = [];
      const sub = peer.subscribe('cox.otlp-agent.report.n1');
      void (async () => {
        for await (const m of sub) reports.push(m);
      })();
      await peer.flush();

      const agent = await Agent.start(config);
      let tracesBody: unknown;
      try {
        const spec = ServiceSpec.parse({
          name: 'web',
          image: BUSYBOX_IMAGE,
          command: ['sleep', '100000'],
        });
        await agent.driver.createReplica(spec, 1);
        await pollUntil(
          'a report with the container',
          () =>
            reports.length > 0 && (agent.lastReport?.containers.length ?? 0) > 0 ? true : undefined,
          20_000,
        );
        const res = await fetch(`http://127.0.0.1:${agent.http.port}/v1/traces?limit=5`);
        expect(res.status).toBe(200);
        tracesBody = await res.json();
      } finally {
        await agent.stop(); // shuts telemetry down, which flushes to the receiver
        await peer.close();
      }

      const cycles = receiver.spans.filter((s) => s.name === 'agent.sample_and_report');
      expect(cycles.length).toBeGreaterThan(0);
      expect(cycles[0]?.resource).toMatchObject({
        'service.name': 'coxswain-agent',
        'service.instance.id': 'n1',
        'coxswain.cluster': 'otlp-agent',
        'coxswain.node': 'n1',
      });
      expect(cycles.some((s) => Number(flatten(s.attributes)['coxswain.containers']) >= 1)).toBe(
        true,
      );

      // Each report published inside a cycle carries that cycle's trace context.
      const cycleIds = new Set(cycles.map((s) => `${s.traceId}-${s.spanId}`));
      const traced = reports
        .map((m) =>
          /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(m.headers?.get('traceparent') ?? ''),
        )
        .filter((m) => m !== null);
      expect(traced.length).toBeGreaterThan(0);
      expect(traced.every((m) => cycleIds.has(`${m[1]}-${m[2]}`))).toBe(true);

      // GET /v1/traces served the same spans from the ring.
      const body = RecentSpansResponse.parse(tracesBody);
      expect(body.spans.length).toBeGreaterThan(0);
      expect(body.spans.length).toBeLessThanOrEqual(5);
      expect(body.spans.some((s) => s.name === 'agent.sample_and_report')).toBe(true);
    } finally {
      await removeDir(dataDir);
    }
  });
});
