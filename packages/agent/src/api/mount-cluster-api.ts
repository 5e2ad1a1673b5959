/**
 * One call that puts the cluster state API on an agent: the event bus (on
 * `cox.<cluster>.events`), the adapter over the cluster member, and the routes
 * with the dashboard. The agent's composition root calls it once the cluster
 * member is started, and `close()` before it closes the HTTP server.
 */

import { dashboardHtml } from '@coxswain/dashboard';
import type { AgentConfig, ClusterHealth } from '@coxswain/protocol';
import type { Logger } from '@coxswain/telemetry';
import type { NatsConnection, Subscription } from 'nats';
import type { ClusterMember } from '../cluster/cluster-member.js';
import { attachEventBusToNats, EventBus } from '../events.js';
import type { Router } from '../http-server.js';
import { type ClusterApi, type RejectionCounter, registerClusterApi } from './cluster-api.js';
import { ClusterMemberView } from './cluster-member-view.js';
import type { DecisionSource } from './insight-routes.js';

export interface MountClusterApiOptions {
  readonly router: Router;
  readonly member: ClusterMember;
  readonly nc: NatsConnection;
  readonly config: AgentConfig;
  readonly logger: Logger;
  /** Counts dropped inbound payloads (events, reports), like the agent's other subscriptions. */
  readonly onRejected?: (subject: string, reason: string) => void;
  /** Counts refused API requests by {route, code}. */
  readonly apiRejected?: RejectionCounter;
  /** The leader's decision log and Raft health (insight-routes.ts, cluster-metrics.ts). */
  readonly decisions?: DecisionSource;
  readonly health?: () => ClusterHealth | null;
  /** Events kept for `/v1/events` replay (default 1000). */
  readonly eventCapacity?: number;
}

export interface MountedClusterApi {
  readonly api: ClusterApi;
  readonly view: ClusterMemberView;
  readonly events: EventBus;
  close(): void;
}

export function mountClusterApi(o: MountClusterApiOptions): MountedClusterApi {
  const log = o.logger.child({ component: 'api' });
  const events = new EventBus({
    nodeId: o.config.nodeId,
    ...(o.eventCapacity !== undefined ? { capacity: o.eventCapacity } : {}),
    onError: (error, where) => {
      if (where === 'listener' || where === 'publish')
        log.warn('event delivery failed', { where, error });
      else o.onRejected?.(where, (error as { code?: string }).code ?? 'COX_INVALID_PAYLOAD');
    },
  });
  const subscription: Subscription = attachEventBusToNats(events, o.nc, o.config.cluster);
  const view = new ClusterMemberView({
    member: o.member,
    nc: o.nc,
    config: o.config,
    events,
    ...(o.onRejected ? { onRejected: o.onRejected } : {}),
  });
  const api = registerClusterApi(o.router, {
    view,
    token: o.config.api.token,
    dashboardHtml,
    ...(o.apiRejected ? { rejected: o.apiRejected } : {}),
    ...(o.decisions ? { decisions: o.decisions } : {}),
    ...(o.health ? { health: o.health } : {}),
  });
  return {
    api,
    view,
    events,
    close() {
      api.close();
      view.close();
      subscription.unsubscribe();
    },
  };
}
