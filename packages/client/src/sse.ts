/**
 * An incremental parser of Server-Sent Events: clients (the CLI's
 * `events --follow`, the lab, tests) read the agent's stream with it, since a
 * frame may arrive split across any number of chunks. The agent writes the
 * frames (its `sseFrame`); `id` lets a client resume with `Last-Event-ID`.
 */
export interface SseFrame {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

/** Incremental parser of a `text/event-stream` body (the subset servers use: id, event, data, comments). */
export class SseParser {
  #buffer = '';

  /** Feeds a chunk; returns the frames it completed. Comment-only blocks (heartbeats) yield nothing. */
  push(chunk: string): SseFrame[] {
    this.#buffer += chunk.replace(/\r\n?/g, '\n');
    const frames: SseFrame[] = [];
    let end = this.#buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const frame = parseBlock(block);
      if (frame) frames.push(frame);
      end = this.#buffer.indexOf('\n\n');
    }
    return frames;
  }
}

function parseBlock(block: string): SseFrame | undefined {
  let id: string | undefined;
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  return { id, event, data: data.join('\n') };
}
