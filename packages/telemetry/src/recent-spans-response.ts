import { validate } from '@coxswain/protocol';
import { RecentSpansQuery, type RecentSpansResponse } from './span-record.js';
import type { Telemetry } from './start-telemetry.js';

export type RecentSpansHttpResult =
  | { readonly status: 200; readonly body: RecentSpansResponse }
  | {
      readonly status: 400 | 503;
      readonly body: { readonly error: { readonly code: string; readonly message: string } };
    };

/**
 * `GET /v1/traces?traceId=&limit=` without the HTTP server: validates the query
 * and reads the ring, so the route in the agent is one call. A bad query is a 400
 * naming the parameter; no telemetry running is a 503.
 */
export function recentSpansResponse(
  telemetry: Telemetry | undefined,
  query: URLSearchParams,
): RecentSpansHttpResult {
  const checked = validate(RecentSpansQuery, Object.fromEntries(query), 'query');
  if (!checked.ok) {
    return {
      status: 400,
      body: { error: { code: checked.error.code, message: checked.error.message } },
    };
  }
  if (telemetry === undefined) {
    return {
      status: 503,
      body: { error: { code: 'COX_TELEMETRY_OFF', message: 'telemetry is not running' } },
    };
  }
  return { status: 200, body: { spans: telemetry.recentSpans(checked.value) } };
}
