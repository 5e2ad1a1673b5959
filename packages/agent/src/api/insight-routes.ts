/**
 * GET /v1/services/{name}/decisions: the leader's last decisions about a
 * service (decision-log.ts). The log lives on the leader only, so another
 * node forwards the read to the leader's API over HTTP and passes its answer
 * on, validated; the reply's `meta.node` names the leader that answered.
 */
import { type DecisionRecord, DecisionsReply, decode, Name } from '@coxswain/protocol';
import { z } from 'zod';
import type { Router } from '../http-server.js';
import { ApiError } from './api-errors.js';
import { NoLeaderError } from './cluster-view.js';
import { parseParam, parseQuery, type RouteKit } from './route-kit.js';

export const DEFAULT_DECISION_LIMIT = 50;
export const MAX_DECISION_LIMIT = 500;
const FORWARD_TIMEOUT_MS = 5000;

const DecisionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_DECISION_LIMIT).optional(),
  consistent: z.string().optional(),
});

/** The leader's decision log, as this node reads it (only the leader's is filled). */
export type DecisionSource = (service: string, limit: number) => readonly DecisionRecord[];

export function registerInsightRoutes(
  router: Router,
  kit: RouteKit,
  decisions: DecisionSource,
): void {
  const { view, meta, jsonReply, errorReply } = kit;
  const route = '/v1/services/{name}/decisions';
  router.add('GET', '/v1/services/:name/decisions', async (ctx) => {
    try {
      const name = parseParam(Name, ctx, 'name');
      const limit = parseQuery(DecisionsQuery, ctx).limit ?? DEFAULT_DECISION_LIMIT;
      const status = view.status();
      if (status.role !== 'leader') {
        const leaderId = status.leaderId;
        const address = leaderId ? view.apiAddressOf(leaderId) : null;
        if (!leaderId || !address)
          throw new NoLeaderError('no leader known: decisions are kept by the leader', address);
        return await forward(
          kit,
          `${address}/v1/services/${encodeURIComponent(name)}/decisions?limit=${limit}`,
          address,
        );
      }
      if (!view.snapshot().services[name])
        throw new ApiError(404, 'COX_NO_SUCH_SERVICE', `no service ${JSON.stringify(name)}`);
      const m = meta(false);
      const body: DecisionsReply = {
        meta: m,
        service: name,
        decisions: [...decisions(name, limit)],
      };
      return jsonReply(body, m);
    } catch (error) {
      return errorReply(route, error);
    }
  });
}

async function forward(kit: RouteKit, url: string, leaderAddress: string) {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
  } catch (error) {
    throw new NoLeaderError(`the leader at ${leaderAddress} did not answer`, leaderAddress, {
      cause: error,
    });
  }
  const text = await res.text();
  if (res.status !== 200) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    return { status: res.status, headers, body: text };
  }
  const decoded = decode(DecisionsReply, text, { where: `GET ${url}`, maxBytes: 16 * 1024 * 1024 });
  if (!decoded.ok) throw decoded.error;
  return kit.jsonReply(decoded.value, decoded.value.meta);
}
