/**
 * Server-Sent Events framing, the server's half: one frame per stored event
 * (`id` lets a client resume with `Last-Event-ID`). Clients parse the stream
 * with `SseParser` from @coxswain/client.
 */
import type { StoredEvent } from '../events.js';

export function sseFrame(stored: StoredEvent): string {
  // JSON.stringify never emits a raw newline, so one `data:` line holds the event.
  return `id: ${stored.id}\nevent: ${stored.event.type}\ndata: ${JSON.stringify(stored.event)}\n\n`;
}
