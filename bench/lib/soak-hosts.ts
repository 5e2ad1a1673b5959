/**
 * One OS process of the soak's simulated hosts (bench/soak.ts forks a few): each host is its own
 * NATS connection that publishes a schema-valid NodeReport on its own subject once per interval
 * and answers scale commands on its own command subject as a real agent does (fencing token
 * check, ScaleReply), with the new count in its next report. No Docker: replicas are numbers.
 *
 * argv[2]: JSON { natsUrl, cluster, prefix, hosts, intervalMs, image }. IPC in: { type: 'rates',
 * perReplica } (request rate per replica by service), { type: 'stop' }. IPC out: 'ready',
 * 'totals' (replicas by service, reports sent) each second, one 'cmd' per command answered.
 */
import {
  type ContainerState,
  decode,
  encode,
  MAX_COMMAND_BYTES,
  NodeHeartbeat,
  NodeReport,
  PROTOCOL_VERSION,
  ScaleCommand,
  ScaleReply,
  type ServiceFigures,
  subjects,
} from '@coxswain/protocol';
import { connect, type NatsConnection } from 'nats';

interface Args {
  natsUrl: string;
  cluster: string;
  prefix: string;
  hosts: number;
  intervalMs: number;
  image: string;
}

interface SimHost {
  readonly id: string;
  readonly nc: NatsConnection;
  readonly replicas: Map<string, number>;
  readonly tokens: Map<string, number>;
  readonly seenIds: Map<string, ScaleReply>;
  seq: number;
}

export interface CommandSeen {
  readonly type: 'cmd';
  readonly service: string;
  readonly node: string;
  readonly issuedAt: number;
  readonly receivedAt: number;
  readonly repliedAt: number;
  readonly replicas: number;
  readonly ok: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const s = subjects(args.cluster);
let perReplica: Record<string, number> = {};
let stopped = false;
let sent = 0;
let publishErrors = 0;
const hosts: SimHost[] = [];
const send = (m: unknown): void => {
  process.send?.(m);
};

process.on('message', (m: { type: string; perReplica?: Record<string, number> }) => {
  if (m.type === 'rates' && m.perReplica) perReplica = m.perReplica;
  if (m.type === 'stop') void stop();
});

function report(h: SimHost): NodeReport {
  const now = Date.now();
  const containers: ContainerState[] = [];
  const services: Record<string, ServiceFigures> = {};
  for (const [service, n] of h.replicas) {
    if (n === 0) continue;
    for (let i = 0; i < n; i += 1)
      containers.push({
        id: `${h.id}-${service}-${i}`,
        name: `${service}-${i}`,
        service,
        image: args.image,
        status: 'running',
        health: 'none',
        specVersion: 1,
        startedAt: now - 60_000,
        cpuPercent: 10,
        memoryBytes: 32 * 2 ** 20,
      });
    const rate = (perReplica[service] ?? 0) * n;
    services[service] = {
      time: now,
      containerCount: n,
      cpuPercent: 10,
      memoryPercent: 5,
      requestRatePerSecond: rate,
      p95LatencyMs: 20,
    };
  }
  return {
    v: PROTOCOL_VERSION,
    cluster: args.cluster,
    nodeId: h.id,
    address: `10.${Math.floor(hosts.indexOf(h) / 250)}.${hosts.indexOf(h) % 250}.1`,
    role: 'client',
    capacity: { cpus: 8, memoryBytes: 16 * 2 ** 30, maxReplicas: 100 },
    labels: { sim: args.prefix },
    time: now,
    seq: h.seq++,
    dockerReachable: true,
    containers,
    services,
  };
}

function answer(h: SimHost, data: Uint8Array): { reply: ScaleReply; cmd?: ScaleCommand } {
  const decoded = decode(ScaleCommand, data, { where: s.cmd(h.id), maxBytes: MAX_COMMAND_BYTES });
  if (!decoded.ok)
    return {
      reply: {
        v: PROTOCOL_VERSION,
        id: 'unknown',
        ok: false,
        nodeId: h.id,
        code: 'COX_INVALID_PAYLOAD',
        message: decoded.error.message,
      },
    };
  const c = decoded.value;
  const again = h.seenIds.get(c.id);
  if (again) return { reply: again, cmd: c };
  const highest = h.tokens.get(c.service) ?? 0;
  let reply: ScaleReply;
  if (c.token < highest) {
    reply = {
      v: PROTOCOL_VERSION,
      id: c.id,
      ok: false,
      nodeId: h.id,
      code: 'COX_STALE_TOKEN',
      message: `token ${c.token} is below ${highest}`,
      highestToken: highest,
    };
  } else {
    h.tokens.set(c.service, c.token);
    const before = h.replicas.get(c.service) ?? 0;
    h.replicas.set(c.service, c.replicas);
    reply = {
      v: PROTOCOL_VERSION,
      id: c.id,
      ok: true,
      nodeId: h.id,
      running: c.replicas,
      started: Math.max(0, c.replicas - before),
      stopped: Math.max(0, before - c.replicas),
      durationMs: 0,
    };
  }
  h.seenIds.set(c.id, reply);
  // Retries reuse an id; a few hundred answers are plenty to recognise one.
  if (h.seenIds.size > 256) h.seenIds.delete(h.seenIds.keys().next().value!);
  return { reply, cmd: c };
}

async function startHost(i: number): Promise<SimHost> {
  const id = `${args.prefix}-${i}`;
  const nc = await connect({ servers: args.natsUrl, name: id, maxReconnectAttempts: -1 });
  const h: SimHost = {
    id,
    nc,
    replicas: new Map(),
    tokens: new Map(),
    seenIds: new Map(),
    seq: 0,
  };
  nc.subscribe(s.cmd(id), {
    callback: (err, msg) => {
      if (err) return;
      const receivedAt = Date.now();
      const { reply, cmd } = answer(h, msg.data);
      msg.respond(encode(ScaleReply, reply));
      if (cmd)
        send({
          type: 'cmd',
          service: cmd.service,
          node: id,
          issuedAt: cmd.issuedAt,
          receivedAt,
          repliedAt: Date.now(),
          replicas: cmd.replicas,
          ok: reply.ok,
        } satisfies CommandSeen);
    },
  });
  return h;
}

function tick(h: SimHost): void {
  if (stopped) return;
  try {
    h.nc.publish(s.report(h.id), encode(NodeReport, report(h)));
    sent += 1;
  } catch {
    publishErrors += 1;
  }
}

/** The agent's liveness heartbeat (200 ms by default): without it a node reporting at 1 Hz is declared dead at the 1 s dead-after. */
const HEARTBEAT_MS = 200;
let beats = 0;
function beat(h: SimHost): void {
  if (stopped) return;
  try {
    h.nc.publish(s.heartbeat(h.id), encode(NodeHeartbeat, { n: h.id, s: beats++ }));
  } catch {
    publishErrors += 1;
  }
}

async function stop(): Promise<void> {
  stopped = true;
  for (const t of timers) clearInterval(t);
  await Promise.all(hosts.map((h) => h.nc.flush().catch(() => undefined)));
  send({ type: 'final', sent, publishErrors, totals: totals() });
  await Promise.all(hosts.map((h) => h.nc.close().catch(() => undefined)));
  process.exit(0);
}

function totals(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of hosts)
    for (const [service, n] of h.replicas) out[service] = (out[service] ?? 0) + n;
  return out;
}

const timers: NodeJS.Timeout[] = [];
for (let i = 0; i < args.hosts; i += 1) hosts.push(await startHost(i));
// Hosts start their 1 Hz ticks spread over one interval, as independent agents would.
for (const [i, h] of hosts.entries()) {
  setTimeout(
    () => {
      if (stopped) return;
      tick(h);
      beat(h);
      timers.push(setInterval(() => tick(h), args.intervalMs));
      timers.push(setInterval(() => beat(h), HEARTBEAT_MS));
    },
    Math.floor((i / hosts.length) * args.intervalMs),
  );
}
timers.push(
  setInterval(() => send({ type: 'totals', totals: totals(), sent, publishErrors }), 1000),
);
send({ type: 'ready' });
