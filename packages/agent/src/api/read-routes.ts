/**
 * The cluster API's reads, answered from the local replica (or through the leader with `?consistent=true`).
 */

import { reportStaleAfterMs } from '@coxswain/control';
import type { AgentOperationsReply, ClusterStateSnapshot } from '@coxswain/protocol';
import {
  type ClusterInfo,
  type CommandRecord,
  CommandsQuery,
  type CommandsReply,
  type LocksReply,
  Name,
  type NodesReply,
  type RaftRole,
  ReadQuery,
  type ServiceDetail,
  ServiceQuery,
  type ServicesReply,
} from '@coxswain/protocol';
import type { z } from 'zod';
import { json, type Router } from '../http-server.js';
import { ApiError } from './api-errors.js';
import type { ExecutorView, ReportView } from './cluster-view.js';

/** The operation log and, per service, the tokens accepted (acted on, or tried) and refused. */
export function agentOperations(node: string, executor: ExecutorView): AgentOperationsReply {
  const operations = [...executor.history()];
  const tokens: AgentOperationsReply['tokens'] = {};
  for (const o of operations) {
    const t = tokens[o.service] ?? {
      accepted: [],
      refused: [],
      highest: executor.highestToken(o.service),
    };
    tokens[o.service] = t;
    const list = o.outcome === 'refused' ? t.refused : t.accepted;
    if (!list.includes(o.token)) list.push(o.token);
  }
  return { node, operations, tokens };
}

import {
  badRequest,
  DEFAULT_COMMAND_LIMIT,
  DEFAULT_WINDOW_MS,
  liveness,
  MAX_COMMAND_LIMIT,
  MAX_WINDOW_MS,
  parseDurationMs,
  parseParam,
  RECENT_COMMANDS_PER_SERVICE,
  type RouteKit,
  runningOf,
} from './route-kit.js';

/**
 * A service's replicas per node from the latest reports, split by whether the
 * report can be trusted: a node declared dead (or removed), or whose report is
 * older than reportStaleAfterMs(nodeDeadAfter), goes under `unknown`, not `running`.
 */
export function countsOf(
  service: string,
  reports: ReadonlyMap<string, ReportView>,
  snapshot: Pick<ClusterStateSnapshot, 'nodes' | 'settings'>,
): { running: Record<string, number>; unknown: Record<string, number> } {
  const running = runningOf(service, reports);
  const unknown: Record<string, number> = {};
  for (const [nodeId, n] of Object.entries(running)) {
    const node = snapshot.nodes[nodeId];
    const age = reports.get(nodeId)?.ageMs ?? Number.POSITIVE_INFINITY;
    const stale = age > reportStaleAfterMs(snapshot.settings.nodeDeadAfterMs);
    if (stale || (node !== undefined && node.state !== 'alive')) {
      unknown[nodeId] = n;
      delete running[nodeId];
    }
  }
  return { running, unknown };
}

/** GET /v1/cluster, /v1/nodes, /v1/services. */
export function registerClusterReads(router: Router, kit: RouteKit): void {
  const { view, read } = kit;

  router.add(
    'GET',
    '/v1/cluster',
    read('/v1/cluster', ReadQuery, (_ctx, _q, snapshot, m): ClusterInfo => {
      const s = view.status();
      const memberRole = (id: string, voter: boolean): RaftRole | null => {
        if (id === view.nodeId) return s.role;
        if (id === s.leaderId) return 'leader';
        if (!voter) return 'learner';
        // Membership says voter; without a leader we cannot tell follower from candidate.
        return s.leaderId ? 'follower' : null;
      };
      return {
        meta: m,
        cluster: view.cluster,
        role: s.role,
        leader: s.leaderId ? { id: s.leaderId, address: view.apiAddressOf(s.leaderId) } : null,
        term: s.term,
        commitIndex: s.commitIndex,
        appliedIndex: snapshot.appliedIndex,
        members: s.members.map((member) => ({
          id: member.id,
          voter: member.voter,
          address: snapshot.nodes[member.id]?.address ?? null,
          role: memberRole(member.id, member.voter),
        })),
        ...(kit.health ? { health: kit.health() } : {}),
      };
    }),
  );

  router.add(
    'GET',
    '/v1/nodes',
    read('/v1/nodes', ReadQuery, (_ctx, _q, snapshot, m): NodesReply => {
      const reports = view.reports();
      const ids = new Set([...Object.keys(snapshot.nodes), ...reports.keys()]);
      return {
        meta: m,
        nodes: [...ids].sort().map((id) => ({
          id,
          record: snapshot.nodes[id] ?? null,
          live: liveness(reports.get(id)),
        })),
      };
    }),
  );

  router.add(
    'GET',
    '/v1/services',
    read('/v1/services', ReadQuery, (_ctx, _q, snapshot, m): ServicesReply => {
      const reports = view.reports();
      return {
        meta: m,
        services: Object.entries(snapshot.services)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, record]) => {
            const summary: ServicesReply['services'][number] = {
              name,
              image: record.spec.image,
              specVersion: record.specVersion,
              desiredReplicas: record.desiredReplicas,
              manualReplicas: record.manualReplicas,
              placement: record.placement,
              ...countsOf(name, reports, snapshot),
              locked: snapshot.locks[name] !== undefined,
              deleted: record.deleted,
            };
            if (record.reason !== undefined) summary.reason = record.reason;
            return summary;
          }),
      };
    }),
  );
}

/** GET /v1/services/{name}, /v1/commands, /v1/locks, /v1/agent/operations. */
export function registerServiceReads(router: Router, kit: RouteKit): void {
  const { view, read } = kit;

  // This agent's own executor (never forwarded): the fencing audit's source.
  router.add('GET', '/v1/agent/operations', () => {
    const executor = view.executor;
    if (!executor) throw new ApiError(404, 'COX_NOT_FOUND', 'this node runs no executor');
    return json(agentOperations(view.nodeId, executor));
  });

  router.add(
    'GET',
    '/v1/services/:name',
    read(
      '/v1/services/{name}',
      ServiceQuery,
      (ctx, query, snapshot, m): z.output<typeof ServiceDetail> => {
        const name = parseParam(Name, ctx, 'name');
        const record = snapshot.services[name];
        if (!record)
          throw new ApiError(404, 'COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(name)}`);
        const windowMs = query.window ? parseDurationMs(query.window) : DEFAULT_WINDOW_MS;
        if (windowMs <= 0 || windowMs > MAX_WINDOW_MS) {
          throw badRequest('query string', [
            { path: 'query.window', message: 'must be between 1ms and 1h' },
          ]);
        }
        const figures = view.figures(name, windowMs);
        let forecast: z.output<typeof ServiceDetail>['forecast'] = null;
        for (const series of Object.values(figures)) {
          for (const f of series) {
            if (f.predictedRequestRatePerSecond === undefined) continue;
            if (!forecast || f.time > forecast.time) {
              forecast = {
                time: f.time,
                predictedRequestRatePerSecond: f.predictedRequestRatePerSecond,
              };
            }
          }
        }
        const recentCommands: CommandRecord[] = [];
        for (
          let i = snapshot.commands.length - 1;
          i >= 0 && recentCommands.length < RECENT_COMMANDS_PER_SERVICE;
          i--
        ) {
          const c = snapshot.commands[i]!;
          if (c.service === name) recentCommands.push(c);
        }
        return {
          meta: m,
          name,
          record,
          ...countsOf(name, view.reports(), snapshot),
          lock: snapshot.locks[name] ?? null,
          windowMs,
          figures,
          forecast,
          recentCommands,
        };
      },
    ),
  );

  router.add(
    'GET',
    '/v1/commands',
    read('/v1/commands', CommandsQuery, (_ctx, query, snapshot, m): CommandsReply => {
      const limit = query.limit === undefined ? DEFAULT_COMMAND_LIMIT : Number(query.limit);
      if (limit < 1 || limit > MAX_COMMAND_LIMIT) {
        throw badRequest('query string', [
          { path: 'query.limit', message: `must be between 1 and ${MAX_COMMAND_LIMIT}` },
        ]);
      }
      const matching = snapshot.commands.filter(
        (c) =>
          (!query.service || c.service === query.service) &&
          (!query.status || c.status === query.status),
      );
      return { meta: m, commands: matching.slice(-limit).reverse(), total: matching.length };
    }),
  );

  router.add(
    'GET',
    '/v1/locks',
    read(
      '/v1/locks',
      ReadQuery,
      (_ctx, _q, snapshot, m): LocksReply => ({
        meta: m,
        locks: Object.values(snapshot.locks)
          .sort((a, b) => a.service.localeCompare(b.service))
          .map((lock) => {
            const remainingMs = Math.max(0, lock.acquiredAtMs + lock.leaseMs - snapshot.clockMs);
            return { ...lock, remainingMs, expired: remainingMs === 0 };
          }),
      }),
    ),
  );
}
