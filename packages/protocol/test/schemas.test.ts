// Every wire and file schema: a valid example passes, each broken variant fails
// with the offending path named in the message, and oversize payloads are
// refused before parsing.
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AgentConfig,
  ByteSize,
  ClusterEvent,
  ContainerState,
  DurationMs,
  decode,
  decodeYaml,
  encode,
  HealthCheck,
  MAX_COMMAND_BYTES,
  MAX_REPORT_BYTES,
  MetricsEndpoint,
  Name,
  NodeId,
  NodeReport,
  PortMapping,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  ServiceFigures,
  ServiceSpec,
  subjects,
  validate,
} from '../src/index.js';

const container = {
  id: 'abc123',
  name: 'cox-web-1',
  service: 'web',
  image: 'coxswain/busybox:latest',
  status: 'running',
  health: 'healthy',
  specVersion: 2,
  cpuPercent: 12.5,
  memoryBytes: 1024,
  memoryPercent: 1.5,
  rxBytesPerSecond: 10,
  txBytesPerSecond: 20,
};
const figures = { time: 1_700_000_000_000, containerCount: 2, cpuPercent: 40, p95LatencyMs: 12 };
const report = {
  v: PROTOCOL_VERSION,
  cluster: 'lab',
  nodeId: 'n1',
  address: '10.0.0.1',
  role: 'voter',
  capacity: { cpus: 2, memoryBytes: 1024 ** 3 },
  time: 1_700_000_000_000,
  seq: 3,
  dockerReachable: true,
  containers: [container],
  services: { web: figures },
};
const spec = {
  name: 'web',
  image: 'coxswain/busybox:latest',
  command: ['httpd', '-f'],
  ports: [{ containerPort: 80 }],
  resources: { cpus: 0.5, memoryBytes: '128m' },
  healthCheck: { command: ['true'], intervalMs: '1s' },
  minReplicas: 1,
  maxReplicas: 5,
  metrics: { port: 80 },
};
const command = {
  v: PROTOCOL_VERSION,
  id: 'cmd-1',
  service: 'web',
  spec,
  specVersion: 2,
  replicas: 3,
  token: 17,
  term: 2,
  leaderId: 'n1',
  issuedAt: 1_700_000_000_000,
};

interface Case {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly valid: unknown;
  /** Broken variants and the path each must name. */
  readonly broken: ReadonlyArray<readonly [unknown, string]>;
}

const cases: Case[] = [
  {
    name: 'ContainerState',
    schema: ContainerState,
    valid: container,
    broken: [
      [{ ...container, status: 'zombie' }, 'status'],
      [{ ...container, cpuPercent: -1 }, 'cpuPercent'],
      [{ ...container, id: '' }, 'id'],
    ],
  },
  {
    name: 'ServiceFigures',
    schema: ServiceFigures,
    valid: figures,
    broken: [
      [{ ...figures, containerCount: 1.5 }, 'containerCount'],
      [{ ...figures, p95LatencyMs: -3 }, 'p95LatencyMs'],
      [{ containerCount: 1 }, 'time'],
    ],
  },
  {
    name: 'NodeReport',
    schema: NodeReport,
    valid: report,
    broken: [
      [{ ...report, v: 2 }, 'v'],
      [{ ...report, nodeId: 'a.b' }, 'nodeId'],
      [{ ...report, role: 'king' }, 'role'],
      [{ ...report, containers: [{ ...container, health: 'meh' }] }, 'containers[0].health'],
      [
        { ...report, services: { web: { ...figures, cpuPercent: 'high' } } },
        'services.web.cpuPercent',
      ],
      [{ ...report, capacity: { cpus: 0, memoryBytes: 1 } }, 'capacity.cpus'],
    ],
  },
  {
    name: 'ServiceSpec',
    schema: ServiceSpec,
    valid: spec,
    broken: [
      [{ ...spec, name: 'Web.App' }, 'name'],
      [{ ...spec, minReplicas: 6 }, 'minReplicas'],
      [{ ...spec, ports: [{ containerPort: 70000 }] }, 'ports[0].containerPort'],
      [{ ...spec, resources: { memoryBytes: 'lots' } }, 'resources.memoryBytes'],
      [{ ...spec, healthCheck: { command: [] } }, 'healthCheck.command'],
      [{ ...spec, metrics: { port: 80, path: 'metrics' } }, 'metrics.path'],
    ],
  },
  {
    name: 'PortMapping',
    schema: PortMapping,
    valid: { containerPort: 80, hostPort: 8080 },
    broken: [[{ containerPort: 80, protocol: 'sctp' }, 'protocol']],
  },
  {
    name: 'HealthCheck',
    schema: HealthCheck,
    valid: { command: ['true'] },
    broken: [[{ command: ['true'], retries: 0 }, 'retries']],
  },
  {
    name: 'MetricsEndpoint',
    schema: MetricsEndpoint,
    valid: { port: 9100 },
    broken: [[{ port: 0 }, 'port']],
  },
  {
    name: 'ScaleCommand',
    schema: ScaleCommand,
    valid: command,
    broken: [
      [{ ...command, token: 0 }, 'token'],
      [{ ...command, replicas: -1 }, 'replicas'],
      [{ ...command, spec: { ...spec, image: '' } }, 'spec.image'],
      [{ ...command, id: 'x'.repeat(200) }, 'id'],
    ],
  },
  {
    name: 'ScaleReply',
    schema: ScaleReply,
    valid: {
      v: PROTOCOL_VERSION,
      id: 'cmd-1',
      ok: true,
      nodeId: 'n1',
      running: 3,
      started: 1,
      stopped: 0,
      durationMs: 812,
    },
    broken: [
      [
        {
          v: PROTOCOL_VERSION,
          id: 'cmd-1',
          ok: false,
          nodeId: 'n1',
          code: 'COX_NOPE',
          message: 'x',
        },
        'code',
      ],
      [
        {
          v: PROTOCOL_VERSION,
          id: 'cmd-1',
          ok: true,
          nodeId: 'n1',
          running: -1,
          started: 0,
          stopped: 0,
          durationMs: 1,
        },
        'running',
      ],
    ],
  },
  {
    name: 'ClusterEvent',
    schema: ClusterEvent,
    valid: {
      v: PROTOCOL_VERSION,
      type: 'leader.elected',
      time: 1,
      nodeId: 'n1',
      message: 'n1 leads term 3',
    },
    broken: [
      [{ v: PROTOCOL_VERSION, type: 'leader.crowned', time: 1, nodeId: 'n1', message: '' }, 'type'],
      [
        { v: PROTOCOL_VERSION, type: 'leader.elected', time: -1, nodeId: 'n1', message: '' },
        'time',
      ],
    ],
  },
  {
    name: 'AgentConfig',
    schema: AgentConfig,
    valid: {
      nodeId: 'n1',
      nats: { servers: ['nats://127.0.0.1:4222', 'h2:4222'] },
      sampleIntervalMs: '500ms',
    },
    broken: [
      [{}, 'nodeId'],
      [{ nodeId: 'n1', nats: { servers: ['http://x'] } }, 'nats.servers[0]'],
      [{ nodeId: 'n1', api: { port: 70000 } }, 'api.port'],
      [{ nodeId: 'n1', voters: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'voters'],
      [{ nodeId: 'n1', sampleInterval: 5 }, '(root)'],
      [{ nodeId: 'n1', log: { level: 'loud' } }, 'log.level'],
    ],
  },
];

describe.each(cases)('$name', ({ schema, valid, broken }) => {
  it('accepts a valid example', () => {
    const r = validate(schema, valid);
    if (!r.ok) throw r.error;
    expect(r.ok).toBe(true);
  });
  it.each(broken.map(([value, path]) => ({ value, path })))(
    'rejects a bad $path, naming it',
    ({ value, path }) => {
      const r = validate(schema, value, 'test');
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('COX_INVALID_PAYLOAD');
        expect(r.error.message).toContain(`at ${path}:`);
      }
    },
  );
});

describe('defaults and units', () => {
  it('fills AgentConfig defaults and converts durations', () => {
    const c = AgentConfig.parse({ nodeId: 'n1', sampleIntervalMs: '1.5s' });
    expect(c.cluster).toBe('default');
    expect(c.sampleIntervalMs).toBe(1500);
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(c.api.port).toBe(7070);
  });
  it('parses durations and sizes', () => {
    expect(DurationMs.parse('250ms')).toBe(250);
    expect(DurationMs.parse('2m')).toBe(120_000);
    expect(DurationMs.safeParse('2 minutes').success).toBe(false);
    expect(ByteSize.parse('1g')).toBe(1024 ** 3);
    expect(ByteSize.parse('512k')).toBe(512 * 1024);
    expect(ByteSize.safeParse('-1').success).toBe(false);
  });
  it('refuses names that would break subjects or labels', () => {
    expect(Name.safeParse('web-1').success).toBe(true);
    expect(Name.safeParse('web.*').success).toBe(false);
    expect(NodeId.safeParse('node>').success).toBe(false);
    expect(() => subjects('a.b')).toThrow(/cluster name/);
    expect(subjects('lab').reports).toBe('cox.lab.report.*');
  });
});

describe('decode limits', () => {
  it('refuses an oversize report before parsing it', () => {
    const big = JSON.stringify({ ...report, labels: { pad: 'x'.repeat(MAX_REPORT_BYTES) } });
    const r = decode(NodeReport, big, { where: 'cox.lab.report.n1', maxBytes: MAX_REPORT_BYTES });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('COX_PAYLOAD_TOO_LARGE');
      expect(r.error.message).toMatch(
        /^cox\.lab\.report\.n1: payload of \d+ bytes exceeds the limit of 262144 bytes$/,
      );
    }
  });
  it('refuses an oversize command', () => {
    const r = decode(
      ScaleCommand,
      JSON.stringify({ ...command, reason: 'x'.repeat(MAX_COMMAND_BYTES) }),
      { maxBytes: MAX_COMMAND_BYTES },
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('COX_PAYLOAD_TOO_LARGE');
  });
  it('reports bad bytes and bad JSON as malformed, never throwing', () => {
    const bytes = decode(NodeReport, new Uint8Array([0xc3, 0x28]));
    expect(!bytes.ok && bytes.error.code).toBe('COX_MALFORMED_PAYLOAD');
    const text = decode(NodeReport, '{"v":');
    expect(!text.ok && text.error.message).toMatch(/not valid JSON/);
  });
  it('round-trips through encode', () => {
    const r = decode(NodeReport, encode(NodeReport, report as z.input<typeof NodeReport>));
    expect(r.ok).toBe(true);
  });
  it('names the file and the path in YAML errors', () => {
    const r = decodeYaml(AgentConfig, 'nodeId: n1\napi:\n  port: high\n', {
      where: '/etc/coxswain/agent.yaml',
    });
    expect(!r.ok && r.error.message).toMatch(/^\/etc\/coxswain\/agent\.yaml: at api\.port: /);
    const bad = decodeYaml(AgentConfig, 'nodeId: [unclosed\n', { where: 'a.yaml' });
    expect(!bad.ok && bad.error.code).toBe('COX_MALFORMED_PAYLOAD');
  });
});
