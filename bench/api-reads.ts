/**
 * What the cluster state API costs to serve, over a real socket: latency of
 * the list reads against a replica holding a realistic state (3 nodes, 50
 * services, the 1,000-entry command log at its default limit), and how long an
 * event takes to reach 100 SSE clients. The view is a real ClusterState
 * filled through its own commands; Raft is not involved (consistent reads add
 * one ReadIndex round, measured by raft-latency).
 */
import {
  type ApiWrite,
  type ClusterView,
  EventBus,
  HttpServer,
  NoLeaderError,
  type RaftStatusView,
  type ReportView,
  registerClusterApi,
} from '@coxswain/agent';
import { SseParser } from '@coxswain/client';
import { ClusterState } from '@coxswain/control';
import type { ApiReply, ServiceFigures } from '@coxswain/protocol';
import { type Figure, percentile, recordResult } from './lib/results.js';

const SERVICES = 50;
const COMMANDS = 1000;
const REQUESTS = 400;
const SSE_CLIENTS = 100;
const EVENTS = 100;

class StateView implements ClusterView {
  readonly nodeId = 'n1';
  readonly cluster = 'bench';
  readonly state = new ClusterState();
  readonly events = new EventBus({ nodeId: 'n1', capacity: 1000 });
  snapshot() {
    return this.state.toSnapshot();
  }
  status(): RaftStatusView {
    return {
      role: 'leader',
      term: 3,
      leaderId: 'n1',
      commitIndex: this.state.appliedIndex,
      appliedIndex: this.state.appliedIndex,
      members: ['n1', 'n2', 'n3'].map((id) => ({ id, voter: true })),
      sinceLastApplyMs: 5,
      sinceLeaderContactMs: 0,
    };
  }
  apiAddressOf(id: string) {
    return this.state.node(id)?.address ?? null;
  }
  async consistentRead() {}
  async submit(_w: ApiWrite): Promise<ApiReply> {
    throw new NoLeaderError('read-only benchmark view');
  }
  reports(): ReadonlyMap<string, ReportView> {
    return new Map();
  }
  figures(): Record<string, ServiceFigures[]> {
    return {};
  }
}

function fill(view: StateView): void {
  let index = 0;
  const commit = (c: Parameters<ClusterState['apply']>[0]) => {
    const r = view.state.apply(c, ++index);
    if (!r.ok) throw new Error(r.message);
  };
  view.state.apply(
    { type: 'settings.set', at: 0, settings: { commandLogLimit: COMMANDS } },
    ++index,
  );
  for (const id of ['n1', 'n2', 'n3']) {
    commit({
      type: 'node.register',
      at: 0,
      node: {
        id,
        address: `10.0.0.${id.slice(1)}`,
        capacity: { cpus: 8, memoryBytes: 2 ** 34 },
        labels: {},
        role: 'voter',
      },
    });
  }
  for (let s = 0; s < SERVICES; s++) {
    const name = `svc-${s}`;
    commit({
      type: 'service.put',
      at: s,
      spec: { name, image: 'registry.local/app:1.2.3', minReplicas: 1, maxReplicas: 30 },
    });
  }
  let n = 0;
  while (n < COMMANDS) {
    const service = `svc-${n % SERVICES}`;
    commit({ type: 'lock.acquire', at: n, service, holder: 'n1', term: 3, leaseMs: 15_000 });
    const token = index;
    commit({
      type: 'scale.set',
      at: n,
      service,
      token,
      desiredReplicas: 3,
      placement: { n1: 1, n2: 1, n3: 1 },
    });
    const records = ['n1', 'n2', 'n3'].map((nodeId) => ({
      id: `cmd-${n++}`,
      service,
      nodeId,
      action: 'scale' as const,
      replicas: 1,
      token,
      term: 3,
      leaderId: 'n1',
      status: 'issued' as const,
      issuedAtMs: n,
    }));
    commit({ type: 'command.record', at: n, token, records });
    commit({
      type: 'command.result',
      at: n,
      token,
      results: records.map((r) => ({ id: r.id, status: 'done' as const, running: 1 })),
    });
    commit({ type: 'lock.release', at: n, service, token });
  }
}

async function timeGets(url: string): Promise<{ samples: number[]; bytes: number }> {
  for (let i = 0; i < 20; i++) await (await fetch(url)).arrayBuffer(); // warm-up
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    samples.push(performance.now() - t0);
    bytes = body.byteLength;
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  }
  return { samples, bytes };
}

async function sseFanout(base: string, view: StateView): Promise<number[]> {
  const controller = new AbortController();
  const arrivals = new Map<string, number[]>();
  let connected = 0;
  const clients = Array.from({ length: SSE_CLIENTS }, async () => {
    const res = await fetch(`${base}/v1/events`, { signal: controller.signal });
    connected++;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const now = performance.now();
        for (const frame of parser.push(decoder.decode(chunk, { stream: true }))) {
          const list = arrivals.get(frame.id ?? '') ?? [];
          list.push(now);
          arrivals.set(frame.id ?? '', list);
        }
      }
    } catch {
      // aborted at the end
    }
  });
  while (connected < SSE_CLIENTS || view.events.listenerCount < SSE_CLIENTS)
    await new Promise((r) => setTimeout(r, 10));
  const sent = new Map<string, number>();
  for (let i = 0; i < EVENTS; i++) {
    const t0 = performance.now();
    const stored = view.events.emit({
      type: 'command.done',
      message: `op ${i} done`,
      data: { token: i },
    });
    sent.set(String(stored.id), t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  controller.abort();
  await Promise.allSettled(clients);
  const lastArrival: number[] = [];
  for (const [id, t0] of sent) {
    const list = arrivals.get(id) ?? [];
    if (list.length !== SSE_CLIENTS)
      throw new Error(`event ${id} reached ${list.length} of ${SSE_CLIENTS} clients`);
    lastArrival.push(Math.max(...list) - t0);
  }
  return lastArrival;
}

export async function run(): Promise<void> {
  const view = new StateView();
  fill(view);
  const server = new HttpServer({ host: '127.0.0.1', port: 0 });
  registerClusterApi(server.router, { view, maxEventStreams: SSE_CLIENTS + 10 });
  const base = `http://127.0.0.1:${await server.listen()}`;
  const figures: Figure[] = [];
  try {
    for (const [name, path] of [
      ['GET /v1/cluster', '/v1/cluster'],
      ['GET /v1/services (50 services)', '/v1/services'],
      ['GET /v1/commands (100 of 1000)', '/v1/commands'],
      ['GET /v1/commands?limit=1000', '/v1/commands?limit=1000'],
      ['GET /v1/locks', '/v1/locks'],
    ] as const) {
      const { samples, bytes } = await timeGets(`${base}${path}`);
      const p50 = percentile(samples, 50);
      figures.push({
        name: `${name}, ${Math.round(bytes / 1024)} KiB`,
        value: p50,
        unit: 'ms',
        p50,
        p99: percentile(samples, 99),
        samples: samples.length,
      });
      console.log(
        `${name}: p50 ${p50.toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms, ${bytes} bytes`,
      );
    }
    const fanout = await sseFanout(base, view);
    const p50 = percentile(fanout, 50);
    figures.push({
      name: `event emitted -> received by all ${SSE_CLIENTS} SSE clients`,
      value: p50,
      unit: 'ms',
      p50,
      p99: percentile(fanout, 99),
      samples: fanout.length,
    });
    console.log(
      `SSE fan-out to ${SSE_CLIENTS}: p50 ${p50.toFixed(2)} ms, p99 ${percentile(fanout, 99).toFixed(2)} ms`,
    );
  } finally {
    await server.close();
  }
  recordResult({
    benchmark: 'api-reads',
    figures,
    notes:
      'One agent API over a real loopback socket, sequential keep-alive requests from Node fetch in the same process (client cost included). ' +
      `State: 3 nodes, ${SERVICES} services, a ${COMMANDS}-entry command log (the default limit), built by applying real ClusterState commands. ` +
      'Reads are served from the local replica; ?consistent=true adds one ReadIndex round (see raft-latency). ' +
      'SSE fan-out: time from EventBus.emit to the last of the clients parsing the frame. No peer measured. Shared 2-core machine: noisy.',
  });
}
