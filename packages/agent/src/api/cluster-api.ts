/**
 * The cluster state API, mounted on the agent's router: reads served from the
 * local replica with their freshness, `?consistent=true` reads through the
 * leader (ReadIndex), authenticated writes applied through the leader, the
 * `/v1/events` Server-Sent Events stream, the generated OpenAPI document and
 * the dashboard.
 *
 * Every answer, errors included, says who answered and how fresh its replica
 * is: the `meta` field of JSON bodies and the `X-Coxswain-*` headers, so a
 * client reading from a lagging follower can tell.
 */

import { buildClusterApiDocument } from '@coxswain/client';
import type { Router } from '../http-server.js';
import { registerEndpointRoutes } from './endpoint-routes.js';
import { registerEventRoutes } from './event-routes.js';
import { registerInsightRoutes } from './insight-routes.js';
import { registerClusterReads, registerServiceReads } from './read-routes.js';
import { type ClusterApi, type ClusterApiOptions, createRouteKit } from './route-kit.js';
import { registerWriteRoutes } from './write-routes.js';

export {
  type ClusterApi,
  type ClusterApiOptions,
  type RejectionCounter,
  runningByService,
} from './route-kit.js';

export function registerClusterApi(router: Router, options: ClusterApiOptions): ClusterApi {
  const kit = createRouteKit(options);
  const { meta, metaHeaders, jsonReply, streams } = kit;
  const openapi = buildClusterApiDocument(options.version ?? '0.1.0');
  registerClusterReads(router, kit);
  registerServiceReads(router, kit);
  registerEndpointRoutes(router, kit);
  registerWriteRoutes(router, kit);
  registerEventRoutes(router, kit);
  if (options.decisions) registerInsightRoutes(router, kit, options.decisions);

  // --- documents ---------------------------------------------------------

  router.add('GET', '/v1/openapi.json', () => {
    const m = meta(false);
    return jsonReply(openapi, m);
  });

  const dashboard = options.dashboardHtml;
  if (dashboard) {
    router.add('GET', '/', () => ({
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', ...metaHeaders(meta(false)) },
      body: dashboard(),
    }));
  }

  return {
    openapi,
    get eventStreams() {
      return streams.size;
    },
    close() {
      for (const end of [...streams]) end();
    },
  };
}
