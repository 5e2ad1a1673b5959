/**
 * The API-reading commands against a real agent HTTP server (port 0) whose
 * cluster view is a real replicated ClusterState: what the commands print is
 * what a person would see.
 */
import {
  type ApiWrite,
  type ClusterView,
  EventBus,
  HttpServer,
  NoLeaderError,
  type RaftStatusView,
  registerClusterApi,
} from '@coxswain/agent';
import { ClusterState } from '@coxswain/control';
import {
  type ApiReply,
  type NodeReport,
  PROTOCOL_VERSION,
  type ServiceFigures,
} from '@coxswain/protocol';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCommands } from '../src/commands/index.js';

class FixedView implements ClusterView {
  readonly nodeId = 'n2';
  readonly cluster = 'lab';
  readonly state = new ClusterState();
  readonly events = new EventBus({ nodeId: 'n2' });
  leaderId: string | null = 'n1';
  snapshot() {
    return this.state.toSnapshot();
  }
  status(): RaftStatusView {
    return {
      role: 'follower',
      term: 7,
      leaderId: this.leaderId,
      commitIndex: this.state.appliedIndex,
      appliedIndex: this.state.appliedIndex,
      members: [
        { id: 'n1', voter: true },
        { id: 'n2', voter: true },
      ],
      sinceLastApplyMs: 20,
      sinceLeaderContactMs: 30,
    };
  }
  apiAddressOf(id: string) {
    return this.state.node(id)?.address ?? null;
  }
  async consistentRead() {
    if (!this.leaderId) throw new NoLeaderError('no leader');
  }
  async submit(_write: ApiWrite): Promise<ApiReply> {
    throw new NoLeaderError('read-only test view', 'http://10.0.0.1:7070');
  }
  reports() {
    const report: NodeReport = {
      v: PROTOCOL_VERSION,
      cluster: 'lab',
      nodeId: 'n1',
      address: '10.0.0.1',
      role: 'voter',
      capacity: { cpus: 2, memoryBytes: 2 ** 30 },
      labels: {},
      time: 1_700_000_000_000,
      seq: 3,
      dockerReachable: true,
      containers: [
        { id: 'a', name: 'web-1', service: 'web', image: 'img', status: 'running', health: 'none' },
      ],
      services: { web: { time: 1_700_000_000_000, containerCount: 1, requestRatePerSecond: 12 } },
    };
    return new Map([['n1', { report, ageMs: 200 }]]);
  }
  figures(service: string): Record<string, ServiceFigures[]> {
    const f = this.reports().get('n1')!.report.services[service];
    return f ? { n1: [f] } : {};
  }
}

const view = new FixedView();
const server = new HttpServer({ host: '127.0.0.1', port: 0 });
let api = '';

beforeAll(async () => {
  let i = 0;
  const commit = (c: Parameters<ClusterState['apply']>[0]) => view.state.apply(c, ++i);
  for (const id of ['n1', 'n2']) {
    commit({
      type: 'node.register',
      at: 0,
      node: {
        id,
        address: `10.0.0.${id.slice(1)}`,
        capacity: { cpus: 2, memoryBytes: 2 ** 30 },
        labels: {},
        role: 'voter',
      },
    });
  }
  commit({ type: 'service.put', at: 0, spec: { name: 'web', image: 'img' } });
  commit({ type: 'lock.acquire', at: 0, service: 'web', holder: 'n1', term: 7, leaseMs: 15_000 });
  const token = i;
  commit({
    type: 'scale.set',
    at: 0,
    service: 'web',
    token,
    desiredReplicas: 1,
    placement: { n1: 1 },
  });
  commit({
    type: 'command.record',
    at: 0,
    token,
    records: [
      {
        id: 'cmd-1',
        service: 'web',
        nodeId: 'n1',
        action: 'scale',
        replicas: 1,
        token,
        term: 7,
        leaderId: 'n1',
        status: 'issued',
        issuedAtMs: 0,
      },
    ],
  });
  commit({
    type: 'command.result',
    at: 250,
    token,
    results: [{ id: 'cmd-1', status: 'done', running: 1 }],
  });
  view.events.emit({ type: 'leader.elected', message: 'n1 leads term 7', data: { term: 7 } });
  view.events.emit({ type: 'command.done', message: 'web: operation done' });
  registerClusterApi(server.router, { view, token: 'a-long-api-token' });
  api = `http://127.0.0.1:${await server.listen()}`;
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function run(
  ...args: string[]
): Promise<{ out: string; err: string; code: number | string | undefined }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('coxswain').exitOverride();
  registerCommands(program);
  await program.parseAsync([
    'node',
    'coxswain',
    ...args,
    ...(args.includes('--api') ? [] : ['--api', api]),
  ]);
  const code = process.exitCode;
  vi.restoreAllMocks();
  return { out, err, code };
}

describe('API commands', () => {
  it('status prints leader, term, commit index, members and freshness', async () => {
    const { out, code } = await run('status');
    expect(code).toBeUndefined();
    expect(out).toContain('leader:   n1 (10.0.0.1)');
    expect(out).toContain('term:     7');
    expect(out).toMatch(/n2\s+yes\s+follower\s+10\.0\.0\.2/);
    expect(out).toContain('answered by n2 at applied index');
    const json = JSON.parse((await run('status', '--json', '--consistent')).out);
    expect(json.meta.consistent).toBe(true);
  });

  it('services lists replicas per node, and one service in detail', async () => {
    const list = await run('services');
    expect(list.out).toMatch(/web\s+v1\s+1\/1\s+n1=1\s+n1=1\s+locked/);
    const one = await run('services', 'web', '--window', '30s');
    expect(one.out).toContain('replicas: 1 running / 1 desired');
    expect(one.out).toMatch(/n1\s+1\s+1\s+-\s+-\s+-\s+-\s+12\.0/);
    expect(one.out).toMatch(/cmd-1\s+n1\s+scale\s+1\s+\d+\s+done/);
  });

  it('commands and locks', async () => {
    const cmds = await run('commands', '--service', 'web');
    expect(cmds.out).toMatch(/cmd-1\s+web\s+n1\s+scale\s+1\/1\s+\d+\s+7\s+n1\s+done\s+250ms/);
    const locks = await run('locks');
    expect(locks.out).toMatch(/web\s+n1\s+7\s+\d+\s+15\.0s\s+14\.8s/);
  });

  it('events prints what the agent kept, filtered', async () => {
    const all = await run('events');
    expect(all.out).toContain('leader.elected');
    expect(all.out).toContain('n1 leads term 7 term=7');
    const done = await run('events', '--types', 'command.done', '--json');
    expect(JSON.parse(done.out).map((e: { type: string }) => e.type)).toEqual(['command.done']);
  });

  it('events --follow streams until interrupted', async () => {
    const { ApiClient } = await import('@coxswain/client');
    const controller = new AbortController();
    const seen: string[] = [];
    const stream = (async () => {
      for await (const { event } of new ApiClient({ baseUrl: api }).events({
        replay: 0,
        signal: controller.signal,
      })) {
        seen.push(event.type);
        if (seen.length === 1) controller.abort();
      }
    })();
    await vi.waitFor(() => expect(view.events.listenerCount).toBe(1));
    view.events.emit({ type: 'node.dead', message: 'n3 dead' });
    await stream;
    expect(seen).toEqual(['node.dead']);
  });

  it('bad input and failures: the zod path, the exit code, the leader to retry at', async () => {
    const bad = await run('commands', '--limit', 'many');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('at query.limit');
    const missing = await run('services', 'nope');
    expect(missing.err).toContain('404 COX_NO_SUCH_SERVICE');
    view.leaderId = null;
    const noLeader = await run('status', '--consistent');
    view.leaderId = 'n1';
    expect(noLeader.code).toBe(1);
    expect(noLeader.err).toContain('503 COX_NO_LEADER');
    expect(noLeader.err).toContain('there is no leader yet');
    const down = await run('locks', '--api', 'http://127.0.0.1:1');
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach http://127.0.0.1:1/v1/locks');
  });
});
