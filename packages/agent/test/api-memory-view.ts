/**
 * An in-memory ClusterView for the API's unit tests. Its replicated state is a
 * real `ClusterState` driven by real commands, so the routes see exactly the
 * snapshots a replica produces; only Raft itself is replaced: the test says
 * who leads, and a follower "forwards" by calling the leader view directly.
 */

import { ClusterState } from '@coxswain/control';
import {
  type ApiReply,
  type ClusterCommandInput,
  type NodeReport,
  PROTOCOL_VERSION,
  type ServiceFigures,
} from '@coxswain/protocol';
import type { ApiWrite, ClusterView, RaftStatusView, ReportView } from '../src/api/cluster-view.js';
import { NoLeaderError } from '../src/api/cluster-view.js';
import { EventBus } from '../src/events.js';

export class MemoryClusterView implements ClusterView {
  readonly nodeId: string;
  readonly cluster = 'test';
  readonly state = new ClusterState();
  readonly events: EventBus;
  role: RaftStatusView['role'] = 'follower';
  term = 1;
  leaderId: string | null = null;
  commitIndex = 0;
  members: { id: string; voter: boolean }[] = [];
  /** Other views by node id: where a follower forwards writes. */
  peers = new Map<string, MemoryClusterView>();
  /** Every write this view applied as leader, in order. */
  readonly applied: ApiWrite[] = [];
  consistentReads = 0;
  /** When set, consistentRead waits this long (to test the timeout). */
  consistentReadDelayMs = 0;
  readonly #reports = new Map<string, ReportView>();
  readonly #history = new Map<string, NodeReport[]>();
  #index = 0;
  #at = 0;

  constructor(nodeId: string) {
    this.nodeId = nodeId;
    this.events = new EventBus({ nodeId, now: () => 1_700_000_000_000 + this.#index });
  }

  /** Applies a command as the next committed entry; returns its index. */
  commit(command: ClusterCommandInput): number {
    this.#index += 1;
    this.#at += 100;
    const result = this.state.apply({ ...command, at: command.at ?? this.#at }, this.#index);
    if (!result.ok) throw new Error(`${command.type} refused: ${result.message}`);
    this.commitIndex = this.#index;
    return this.#index;
  }

  snapshot() {
    return this.state.toSnapshot();
  }

  status(): RaftStatusView {
    return {
      role: this.role,
      term: this.term,
      leaderId: this.leaderId,
      commitIndex: this.commitIndex,
      appliedIndex: this.state.appliedIndex,
      members: this.members,
      sinceLastApplyMs: this.state.appliedIndex > 0 ? 12 : null,
      sinceLeaderContactMs: this.leaderId === null ? null : this.role === 'leader' ? 0 : 40,
    };
  }

  apiAddressOf(nodeId: string): string | null {
    return this.state.node(nodeId)?.address ?? null;
  }

  async consistentRead(): Promise<void> {
    if (this.leaderId === null) throw new NoLeaderError('no leader to confirm the read index');
    if (this.consistentReadDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.consistentReadDelayMs));
    }
    this.consistentReads += 1;
  }

  async submit(write: ApiWrite): Promise<ApiReply> {
    if (this.role !== 'leader') {
      const leader = this.leaderId ? this.peers.get(this.leaderId) : undefined;
      if (!leader)
        throw new NoLeaderError(
          'no leader',
          this.leaderId ? this.apiAddressOf(this.leaderId) : null,
        );
      return leader.submit(write);
    }
    this.applied.push(write);
    const fail = (code: 'COX_NO_SUCH_SERVICE' | 'COX_NO_SUCH_NODE', message: string): ApiReply => ({
      v: PROTOCOL_VERSION,
      ok: false,
      servedBy: this.nodeId,
      code,
      message,
    });
    const ok = (specVersion?: number): ApiReply => ({
      v: PROTOCOL_VERSION,
      ok: true,
      servedBy: this.nodeId,
      leaderId: this.nodeId,
      ...(specVersion !== undefined ? { specVersion } : {}),
    });
    switch (write.op) {
      case 'service.apply': {
        this.commit({ type: 'service.put', at: this.#at, spec: write.spec });
        return ok(this.state.service(write.spec.name)!.specVersion);
      }
      case 'service.delete': {
        if (!this.state.service(write.name))
          return fail('COX_NO_SUCH_SERVICE', `no service ${write.name}`);
        this.commit({ type: 'service.delete', at: this.#at, name: write.name });
        return ok();
      }
      case 'service.scale': {
        if (!this.state.service(write.name))
          return fail('COX_NO_SUCH_SERVICE', `no service ${write.name}`);
        return ok();
      }
      case 'node.declare': {
        if (!this.state.node(write.nodeId))
          return fail('COX_NO_SUCH_NODE', `no node ${write.nodeId}`);
        this.commit({
          type: 'node.declare',
          at: this.#at,
          nodeId: write.nodeId,
          state: write.state,
        });
        return ok();
      }
      case 'node.addVoter':
        // The memory view has no Raft group: the voter set is not modelled.
        return ok();
    }
  }

  addReport(report: NodeReport, ageMs = 150): void {
    this.#reports.set(report.nodeId, { report, ageMs });
    const list = this.#history.get(report.nodeId) ?? [];
    list.push(report);
    this.#history.set(report.nodeId, list);
  }

  reports(): ReadonlyMap<string, ReportView> {
    return this.#reports;
  }

  figures(service: string, windowMs: number): Record<string, ServiceFigures[]> {
    const out: Record<string, ServiceFigures[]> = {};
    let newest = 0;
    for (const list of this.#history.values())
      for (const r of list) newest = Math.max(newest, r.time);
    for (const [nodeId, list] of this.#history) {
      const series = list
        .filter((r) => r.time > newest - windowMs)
        .map((r) => r.services[service])
        .filter((f): f is ServiceFigures => f !== undefined);
      if (series.length > 0) out[nodeId] = series;
    }
    return out;
  }
}

export function report(
  nodeId: string,
  time: number,
  running: number,
  requestRate: number,
): NodeReport {
  return {
    v: PROTOCOL_VERSION,
    cluster: 'test',
    nodeId,
    address: `http://127.0.0.1:70${nodeId.slice(-1)}0`,
    role: 'voter',
    capacity: { cpus: 2, memoryBytes: 2 ** 31 },
    labels: {},
    time,
    seq: 1,
    dockerReachable: true,
    containers: Array.from({ length: running }, (_, i) => ({
      id: `${nodeId}-c${i}`,
      name: `web-${i}`,
      service: 'web',
      image: 'coxswain/busybox:latest',
      status: 'running' as const,
      health: i === 0 && running > 1 ? ('starting' as const) : ('healthy' as const),
    })),
    services: {
      web: {
        time,
        containerCount: running,
        cpuPercent: 12.5,
        requestRatePerSecond: requestRate,
        predictedRequestRatePerSecond: requestRate * 1.1,
      },
    },
  };
}

/**
 * Three views (n1 leads) with the same replicated history: three nodes, one
 * service `web` scaled under a lock, a command log, one live lock on `api`.
 */
export function threeNodeCluster(): {
  n1: MemoryClusterView;
  n2: MemoryClusterView;
  n3: MemoryClusterView;
} {
  const views = ['n1', 'n2', 'n3'].map((id) => new MemoryClusterView(id)) as [
    MemoryClusterView,
    MemoryClusterView,
    MemoryClusterView,
  ];
  const history: ClusterCommandInput[] = [];
  for (const id of ['n1', 'n2', 'n3']) {
    history.push({
      type: 'node.register',
      at: 0,
      node: {
        id,
        address: `http://127.0.0.1:70${id.slice(-1)}0`,
        capacity: { cpus: 2, memoryBytes: 2 ** 31 },
        labels: {},
        role: 'voter',
      },
    });
  }
  history.push({
    type: 'service.put',
    at: 0,
    spec: { name: 'web', image: 'coxswain/busybox:latest', maxReplicas: 6 },
  });
  history.push({
    type: 'service.put',
    at: 0,
    spec: { name: 'api', image: 'coxswain/busybox:latest' },
  });
  for (const view of views) {
    for (const command of history) view.commit(command);
    const token = view.commit({
      type: 'lock.acquire',
      at: 0,
      service: 'web',
      holder: 'n1',
      term: 1,
      leaseMs: 15_000,
    });
    view.commit({
      type: 'scale.set',
      at: 0,
      service: 'web',
      token,
      desiredReplicas: 3,
      placement: { n1: 2, n2: 1 },
      reason: 'request rate above target',
    });
    view.commit({
      type: 'command.record',
      at: 0,
      token,
      records: [
        {
          id: 'c-1',
          service: 'web',
          nodeId: 'n1',
          action: 'scale',
          replicas: 2,
          token,
          term: 1,
          leaderId: 'n1',
          status: 'issued',
          issuedAtMs: 1000,
        },
        {
          id: 'c-2',
          service: 'web',
          nodeId: 'n2',
          action: 'scale',
          replicas: 1,
          token,
          term: 1,
          leaderId: 'n1',
          status: 'issued',
          issuedAtMs: 1000,
        },
      ],
    });
    view.commit({
      type: 'command.result',
      at: 0,
      token,
      results: [
        { id: 'c-1', status: 'done', running: 2 },
        { id: 'c-2', status: 'refused', error: 'stale token' },
      ],
    });
    view.commit({ type: 'lock.release', at: 0, service: 'web', token });
    view.commit({
      type: 'lock.acquire',
      at: 0,
      service: 'api',
      holder: 'n1',
      term: 1,
      leaseMs: 15_000,
    });
    view.members = [
      { id: 'n1', voter: true },
      { id: 'n2', voter: true },
      { id: 'n3', voter: true },
    ];
    view.leaderId = 'n1';
    view.role = view.nodeId === 'n1' ? 'leader' : 'follower';
  }
  for (const a of views) for (const b of views) if (a !== b) a.peers.set(b.nodeId, b);
  for (const view of views) {
    view.addReport(report('n1', 1_700_000_000_000, 2, 40));
    view.addReport(report('n2', 1_700_000_000_000, 1, 20));
    view.addReport(report('n1', 1_700_000_001_000, 2, 44));
  }
  return { n1: views[0], n2: views[1], n3: views[2] };
}
