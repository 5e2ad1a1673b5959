/**
 * Valid messages of every protocol decoder: the seeds the hostile inputs
 * mutate. Each is plain JSON as it travels, with optional fields both present
 * and absent, so mutations reach every branch of the schema.
 */

const spec = {
  name: 'web',
  image: 'coxswain/busybox:latest',
  command: ['httpd', '-f', '-p', '8080'],
  env: { MODE: 'fuzz', É: 'ü' },
  ports: [{ containerPort: 8080, hostPort: 18080, protocol: 'tcp' }],
  labels: { team: 'a' },
  resources: { cpus: 0.5, memoryBytes: '256m' },
  healthCheck: {
    command: ['sh', '-c', 'true'],
    intervalMs: '1s',
    timeoutMs: 500,
    retries: 3,
    startPeriodMs: '2s',
  },
  minReplicas: 1,
  maxReplicas: 8,
  metrics: { port: 8080, path: '/metrics' },
  sloP95Ms: 200,
  policy: { name: 'predictive', params: { headroom: 1.2 } },
};
const minimalSpec = { name: 'w', image: 'i' };

const figures = {
  time: 1_764_000_000_000,
  containerCount: 2,
  cpuPercent: 12.5,
  memoryPercent: 40,
  ingressBytesPerSecond: 1000,
  egressBytesPerSecond: 2000,
  p95LatencyMs: 35,
  requestRatePerSecond: 120,
  predictedRequestRatePerSecond: 130,
};

export const reportSamples: readonly unknown[] = [
  {
    v: 1,
    cluster: 'lab',
    nodeId: 'n1',
    address: '10.77.0.11',
    role: 'voter',
    capacity: { cpus: 4, memoryBytes: 8_000_000_000, maxReplicas: 50 },
    labels: { zone: 'a' },
    time: 1_764_000_000_000,
    seq: 42,
    dockerReachable: true,
    containers: [
      {
        id: 'abc123',
        name: 'web-1',
        service: 'web',
        image: 'coxswain/busybox:latest',
        status: 'running',
        health: 'healthy',
        specVersion: 3,
        startedAt: 1_764_000_000_000,
        cpuPercent: 3,
        memoryBytes: 1_000_000,
        memoryPercent: 1,
        rxBytesPerSecond: 10,
        txBytesPerSecond: 20,
      },
      { id: 'def', name: 'web-2', service: 'web', image: 'x', status: 'exited', health: 'none' },
    ],
    services: { web: figures, api: { time: 1, containerCount: 0 } },
  },
  {
    v: 1,
    cluster: 'c',
    nodeId: 'n_2',
    address: 'h',
    role: 'client',
    capacity: { cpus: 1, memoryBytes: 1 },
    time: 0,
    seq: 0,
    dockerReachable: false,
    containers: [],
    services: {},
  },
];

const command = {
  v: 1,
  id: 'cmd-1',
  service: 'web',
  spec,
  specVersion: 3,
  replicas: 2,
  token: 17,
  term: 4,
  leaderId: 'n1',
  issuedAt: 1_764_000_000_000,
  reason: 'forecast 130 req/s',
};

export const commandSamples: readonly unknown[] = [
  command,
  { ...command, spec: minimalSpec, service: 'w', reason: undefined, replicas: 0 },
  { ...command, signature: { keyId: 'n1', sig: 'A'.repeat(86) } },
];

export const replySamples: readonly unknown[] = [
  {
    v: 1,
    id: 'cmd-1',
    ok: true,
    nodeId: 'n2',
    running: 2,
    started: 1,
    stopped: 0,
    durationMs: 812.5,
  },
  {
    v: 1,
    id: 'cmd-1',
    ok: false,
    nodeId: 'n2',
    code: 'COX_STALE_TOKEN',
    message: 'token 3 < 17',
    highestToken: 17,
  },
];

export const eventSamples: readonly unknown[] = [
  {
    v: 1,
    type: 'leader.elected',
    time: 1_764_000_000_000,
    nodeId: 'n1',
    message: 'n1 leads term 4',
    data: { term: 4, nested: { a: [1, 2, { b: null }] } },
  },
  { v: 1, type: 'chaos.verdict', time: 0, nodeId: 'x', message: '' },
];

export const apiRequestSamples: readonly unknown[] = [
  { v: 1, op: 'service.apply', token: 'secret-token', spec },
  { v: 1, op: 'service.delete', name: 'web' },
  { v: 1, op: 'service.scale', token: 't', name: 'web', replicas: null },
  { v: 1, op: 'service.scale', name: 'web', replicas: 4 },
  { v: 1, op: 'node.declare', nodeId: 'n3', state: 'dead' },
  { v: 1, op: 'node.addVoter', token: 't', nodeId: 'n4' },
  { v: 1, op: 'state.get' },
];

const lock = { service: 'web', holder: 'n1', term: 4, token: 17, acquiredAtMs: 10, leaseMs: 15000 };
const commandRecord = {
  id: 'cmd-1',
  service: 'web',
  nodeId: 'n2',
  action: 'scale',
  replicas: 2,
  token: 17,
  term: 4,
  leaderId: 'n1',
  status: 'done',
  issuedAtMs: 10,
  finishedAtMs: 20,
  issuedAtEpochMs: 1,
  finishedAtEpochMs: 2,
  running: 2,
  reason: 'r',
};
const node = {
  id: 'n2',
  address: '10.0.0.2',
  capacity: { cpus: 2, memoryBytes: 1000 },
  labels: {},
  role: 'client',
  state: 'alive',
  changedAtMs: 5,
};

export const snapshotSamples: readonly unknown[] = [
  {
    v: 1,
    clockMs: 100,
    appliedIndex: 20,
    services: {
      web: {
        spec,
        specVersion: 3,
        desiredReplicas: 2,
        manualReplicas: null,
        placement: { n1: 1, n2: 1 },
        placementToken: 17,
        deleted: false,
        updatedAtMs: 50,
      },
    },
    locks: { web: lock },
    commands: [commandRecord],
    nodes: { n2: node },
    settings: {
      decideIntervalMs: 1000,
      nodeDeadAfterMs: 3000,
      lockLeaseMs: 15000,
      commandLogLimit: 1000,
    },
  },
];

export const apiReplySamples: readonly unknown[] = [
  { v: 1, ok: true, servedBy: 'n1', leaderId: 'n1', specVersion: 2 },
  { v: 1, ok: true, servedBy: 'n1', leaderId: null, state: snapshotSamples[0] },
  { v: 1, ok: false, servedBy: 'n2', code: 'COX_NOT_LEADER', message: 'ask n1' },
];

export const clusterCommandSamples: readonly unknown[] = [
  { type: 'service.put', at: 1, spec },
  { type: 'service.delete', at: 1, name: 'web' },
  { type: 'service.purge', at: 1, name: 'web', token: 3 },
  { type: 'lock.acquire', at: 1, service: 'web', holder: 'n1', term: 4, leaseMs: 15000 },
  { type: 'lock.release', at: 1, service: 'web', token: 17 },
  {
    type: 'scale.set',
    at: 1,
    service: 'web',
    token: 17,
    desiredReplicas: 3,
    placement: { n1: 2, n2: 1 },
    manualReplicas: null,
    reason: 'r',
  },
  { type: 'command.record', at: 1, token: 17, records: [commandRecord] },
  {
    type: 'command.result',
    at: 1,
    token: 17,
    results: [{ id: 'cmd-1', status: 'failed', error: 'boom', finishedAtEpochMs: 3 }],
  },
  {
    type: 'node.register',
    at: 1,
    node: {
      id: 'n2',
      address: 'a',
      capacity: { cpus: 1, memoryBytes: 1 },
      labels: {},
      role: 'voter',
    },
  },
  { type: 'node.declare', at: 1, nodeId: 'n2', state: 'removed' },
  { type: 'settings.set', at: 1, settings: { lockLeaseMs: 5000 } },
];

export const serviceSpecSamples: readonly unknown[] = [spec, minimalSpec];
export const scaleBodySamples: readonly unknown[] = [{ replicas: 3 }, { replicas: null }];

/** Query strings as the API sees them, in object form (one value per key). */
export const querySamples: readonly unknown[] = [
  { consistent: 'true' },
  { consistent: '0', window: '5m' },
  { service: 'web', status: 'done', limit: '20', consistent: 'false' },
  { types: 'leader.elected,node.dead', since: '12', replay: '5', follow: 'false' },
];

export const agentConfigSamples: readonly unknown[] = [
  {
    cluster: 'lab',
    nodeId: 'n1',
    address: '10.77.0.11',
    voters: ['n1', 'n2', 'n3'],
    nats: { servers: ['nats://127.0.0.1:4222', 'tls://h:4443'], user: 'u', pass: 'p' },
    docker: { socketPath: '/run/d.sock' },
    dataDir: '/var/lib/coxswain',
    api: { host: '0.0.0.0', port: 7070, token: 'a-long-token' },
    sampleIntervalMs: '1s',
    decideIntervalMs: 500,
    nodeDeadAfterMs: '3s',
    capacity: { cpus: 4, memoryBytes: '8g', maxReplicas: 40 },
    labels: { zone: 'a' },
    join: false,
    log: { level: 'debug', format: 'json' },
  },
  { nodeId: 'n9' },
];

/** The same first config as a person writes it, for mutations of YAML text itself. */
export const agentConfigYaml = `# coxswain agent
cluster: lab
nodeId: n1
address: 10.77.0.11
voters: [n1, n2, n3]
nats:
  servers:
    - nats://127.0.0.1:4222
  user: u
  pass: "p"
api: { host: 0.0.0.0, port: 7070, token: a-long-token }
sampleIntervalMs: 1s
capacity:
  cpus: 4
  memoryBytes: 8g
labels:
  zone: a
log:
  level: debug
`;

/** YAML that attacks the parser rather than the schema: alias bombs, tags, anchors of anchors. */
export const yamlAttacks: readonly string[] = [
  `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nnodeId: n1\n`,
  'nodeId: !!binary aGVsbG8=\n',
  'nodeId: !!js/function "function(){}"\n',
  'nodeId: n1\nlabels: !!set {a, b}\n',
  'nodeId: &x n1\ncluster: *x\nvoters: [*x, *y]\n',
  '<<: {nodeId: n1}\n',
  '%YAML 1.1\n---\nnodeId: n1\njoin: yes\n',
  '--- n1\n--- n2\n',
  `nodeId: n1\n${'  '.repeat(5000)}x: 1\n`,
  `nodeId: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
];
