/**
 * GET /v1/services/{name}/endpoints: where a load balancer in front of the
 * cluster sends a service's traffic (what docker-gen derived by hand from each
 * host's engine). Built from the latest node reports, which carry each
 * replica's published ports, and the replicated spec, which says which
 * container port the service serves on.
 */

import { reportStaleAfterMs } from '@coxswain/control';
import {
  type ClusterStateSnapshot,
  type Endpoint,
  EndpointsQuery,
  type EndpointsReply,
  Name,
} from '@coxswain/protocol';
import type { Router } from '../http-server.js';
import { ApiError } from './api-errors.js';
import type { ReportView } from './cluster-view.js';
import { badRequest, parseParam, type RouteKit } from './route-kit.js';

/**
 * The host part of an advertised address, ready for `host:port`: the
 * address config accepts a bare host, `host:port`, an IPv6 literal (bare or
 * bracketed) or a URL, and only the host says where published ports are.
 */
export function hostOfAddress(address: string): string {
  if (/^https?:\/\//.test(address)) {
    try {
      return new URL(address).hostname;
    } catch {
      return address;
    }
  }
  const bracketed = /^(\[[^\]]+\])(:\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  if (/^[^:]+:\d+$/.test(address)) return address.slice(0, address.lastIndexOf(':'));
  // More than one colon and no brackets: a bare IPv6 literal.
  if (address.includes(':')) return `[${address}]`;
  return address;
}

/**
 * The endpoints of `service` on `containerPort`: replicas that are healthy (or
 * running, without a health check) in the latest report of a live node, and
 * whose port Docker has published. A node declared dead or whose report is
 * older than reportStaleAfterMs(nodeDeadAfter) contributes none: a load balancer should not send
 * traffic where the cluster no longer counts replicas (read-routes' countsOf
 * makes the same cut). Sorted, so equal sets render equal text.
 */
export function endpointsOf(
  service: string,
  containerPort: number,
  reports: ReadonlyMap<string, ReportView>,
  snapshot: Pick<ClusterStateSnapshot, 'nodes' | 'settings'>,
): Endpoint[] {
  const out: Endpoint[] = [];
  for (const [nodeId, view] of reports) {
    const node = snapshot.nodes[nodeId];
    if (view.ageMs > reportStaleAfterMs(snapshot.settings.nodeDeadAfterMs)) continue;
    if (node !== undefined && node.state !== 'alive') continue;
    const address = hostOfAddress(view.report.address);
    for (const c of view.report.containers) {
      if (c.service !== service) continue;
      const serving = c.health === 'healthy' || (c.health === 'none' && c.status === 'running');
      if (!serving) continue;
      const published = c.ports?.find((p) => p.containerPort === containerPort);
      if (!published) continue;
      out.push({ node: nodeId, container: c.name, address, port: published.hostPort });
    }
  }
  return out.sort(
    (a, b) => a.address.localeCompare(b.address) || a.port - b.port || a.node.localeCompare(b.node),
  );
}

export function registerEndpointRoutes(router: Router, kit: RouteKit): void {
  const { view, read } = kit;
  router.add(
    'GET',
    '/v1/services/:name/endpoints',
    read(
      '/v1/services/{name}/endpoints',
      EndpointsQuery,
      (ctx, query, snapshot, m): EndpointsReply => {
        const name = parseParam(Name, ctx, 'name');
        const record = snapshot.services[name];
        // A deleted record stays until its replicas are gone: list them while they drain.
        if (!record)
          throw new ApiError(404, 'COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(name)}`);
        const tcp = record.spec.ports.filter((p) => p.protocol === 'tcp');
        let containerPort: number | null = tcp[0]?.containerPort ?? null;
        if (query.port !== undefined) {
          const wanted = Number(query.port);
          if (!tcp.some((p) => p.containerPort === wanted)) {
            throw badRequest('query string', [
              {
                path: 'query.port',
                message: `not a TCP port of the spec (${tcp.map((p) => p.containerPort).join(', ') || 'none'})`,
              },
            ]);
          }
          containerPort = wanted;
        }
        return {
          meta: m,
          service: name,
          containerPort,
          endpoints:
            containerPort === null
              ? []
              : endpointsOf(name, containerPort, view.reports(), snapshot),
        };
      },
    ),
  );
}
