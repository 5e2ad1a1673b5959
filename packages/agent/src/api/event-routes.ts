/**
 * The cluster API's `/v1/events` Server-Sent Events stream, resumable with Last-Event-ID.
 */
import { ClusterEventType, EventsQuery, type SchemaIssue } from '@coxswain/protocol';
import type { StoredEvent } from '../events.js';
import type { Router } from '../http-server.js';
import { ApiError } from './api-errors.js';
import {
  badRequest,
  headerValue,
  MAX_STREAM_BUFFER_BYTES,
  parseQuery,
  type RouteKit,
} from './route-kit.js';
import { sseFrame } from './sse.js';

/** GET /v1/events: the backlog, then (with a socket) every new event. */
export function registerEventRoutes(router: Router, kit: RouteKit): void {
  const { view, maxEventStreams, heartbeatMs, streams, meta, metaHeaders, errorReply } = kit;

  router.add('GET', '/v1/events', async (ctx) => {
    try {
      const query = parseQuery(EventsQuery, ctx);
      let types: Set<string> | undefined;
      if (query.types) {
        const list = query.types.split(',');
        const issues: SchemaIssue[] = [];
        list.forEach((t, i) => {
          if (!ClusterEventType.safeParse(t).success) {
            issues.push({
              path: `query.types[${i}]`,
              message: `unknown event type ${JSON.stringify(t)}`,
            });
          }
        });
        if (issues.length > 0) throw badRequest('query string', issues);
        types = new Set(list);
      }
      const lastEventId = headerValue(ctx.headers, 'last-event-id');
      const sinceText = lastEventId ?? query.since;
      let backlog: StoredEvent[] = [];
      if (sinceText !== undefined) {
        if (!/^\d+$/.test(sinceText)) {
          throw badRequest('request', [{ path: 'header.last-event-id', message: 'an event id' }]);
        }
        backlog = view.events.recent({ since: Number(sinceText), ...(types ? { types } : {}) });
      } else if (query.replay !== undefined) {
        backlog = view.events.recent({ limit: Number(query.replay), ...(types ? { types } : {}) });
      }
      const m = meta(false);
      const headers = {
        ...metaHeaders(m),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      };
      const raw = ctx.raw;
      if (!raw || query.follow === 'false' || ctx.method === 'HEAD') {
        // Asked not to follow, or in-process (inject, no socket to hold open): the backlog alone.
        return { status: 200, headers, body: backlog.map(sseFrame).join('') };
      }
      if (streams.size >= maxEventStreams) {
        throw new ApiError(
          503,
          'COX_TOO_MANY_STREAMS',
          `already ${streams.size} event streams open on this node`,
        );
      }
      const { res } = raw;
      res.writeHead(200, { ...headers, connection: 'keep-alive' });
      res.write(`retry: 2000\n: coxswain events from ${view.nodeId}\n\n`);
      for (const stored of backlog) res.write(sseFrame(stored));
      let closed = false;
      const unsubscribe = view.events.subscribe((stored) => {
        if (types && !types.has(stored.event.type)) return;
        if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
          end();
          return;
        }
        res.write(sseFrame(stored));
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      heartbeat.unref();
      const end = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(end);
        if (!res.writableEnded) res.end();
      };
      streams.add(end);
      // Not req 'close': since Node 16 it fires once the request body is read, not when the client leaves.
      res.on('close', end);
      res.on('error', end);
      return undefined;
    } catch (error) {
      return errorReply('/v1/events', error);
    }
  });
}
