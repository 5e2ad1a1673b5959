import { SseParser } from '@coxswain/client';
import { ClusterEvent } from '@coxswain/protocol';
import { describe, expect, it } from 'vitest';
import { sseFrame } from '../src/api/sse.js';
import { EventBus, type StoredEvent } from '../src/events.js';

const at = () => 1_700_000_000_000;

describe('EventBus', () => {
  it('stamps, stores, delivers and publishes what this node emits', () => {
    const published: ClusterEvent[] = [];
    const bus = new EventBus({ nodeId: 'n1', now: at, publish: (e) => published.push(e) });
    const seen: StoredEvent[] = [];
    bus.subscribe((s) => seen.push(s));
    const stored = bus.emit({
      type: 'leader.elected',
      message: 'n1 elected in term 3',
      data: { term: 3, electionMs: 280 },
    });
    expect(stored.id).toBe(1);
    expect(stored.event).toEqual({
      v: 1,
      type: 'leader.elected',
      time: at(),
      nodeId: 'n1',
      message: 'n1 elected in term 3',
      data: { term: 3, electionMs: 280 },
    });
    expect(seen).toEqual([stored]);
    expect(published).toEqual([stored.event]);
    expect(bus.lastId).toBe(1);
  });

  it('ingests valid events of other nodes, skips its own echo, counts invalid ones', () => {
    const errors: string[] = [];
    const bus = new EventBus({ nodeId: 'n1', now: at, onError: (_e, where) => errors.push(where) });
    const other = { v: 1, type: 'node.dead', time: 5, nodeId: 'n2', message: 'n3 dead' };
    expect(bus.ingest(JSON.stringify(other))).toBe(true);
    // An event another part of this node published straight to NATS is taken; the bus's own echo is not.
    expect(bus.ingest(JSON.stringify({ ...other, nodeId: 'n1', message: 'from the member' }))).toBe(
      true,
    );
    let sent = '';
    bus.setPublisher((_e, payload) => {
      sent = payload;
    });
    bus.emit({ type: 'node.returned', message: 'n3 back' });
    expect(bus.ingest(sent)).toBe(false);
    expect(bus.ingest('{"v":1,"type":"made.up"}', 'cox.test.events')).toBe(false);
    expect(bus.ingest(new Uint8Array([0xff, 0xfe]))).toBe(false);
    expect(bus.invalidCount).toBe(2);
    expect(bus.ingestedCount).toBe(2);
    expect(errors).toEqual(['cox.test.events', 'events']);
    expect(bus.recent().map((s) => s.event.message)).toEqual([
      'n3 dead',
      'from the member',
      'n3 back',
    ]);
  });

  it('keeps a bounded ring and answers since/limit/types', () => {
    const bus = new EventBus({ nodeId: 'n1', now: at, capacity: 3 });
    for (let i = 0; i < 5; i++)
      bus.emit({ type: i % 2 === 0 ? 'command.issued' : 'command.done', message: `m${i}` });
    expect(bus.recent().map((s) => s.id)).toEqual([3, 4, 5]);
    expect(bus.recent({ since: 4 }).map((s) => s.id)).toEqual([5]);
    expect(bus.recent({ limit: 2 }).map((s) => s.id)).toEqual([4, 5]);
    expect(bus.recent({ types: new Set(['command.done']) }).map((s) => s.id)).toEqual([4]);
  });

  it('a throwing listener or publisher does not stop the others', () => {
    const errors: string[] = [];
    const bus = new EventBus({
      nodeId: 'n1',
      now: at,
      publish: () => {
        throw new Error('nats closed');
      },
      onError: (_e, where) => errors.push(where),
    });
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('broken client');
    });
    bus.subscribe((s) => seen.push(s.id));
    bus.emit({ type: 'node.joined', message: 'n4 joined' });
    expect(seen).toEqual([1]);
    expect(errors.sort()).toEqual(['listener', 'publish']);
  });

  it('refuses to emit an event its own schema rejects', () => {
    const bus = new EventBus({ nodeId: 'n1', now: at });
    expect(() => bus.emit({ type: 'node.joined', message: 'x'.repeat(2001) })).toThrow();
    expect(bus.recent()).toEqual([]);
  });
});

describe('SSE framing', () => {
  it('round-trips frames split across arbitrary chunks, ignoring heartbeats', () => {
    const bus = new EventBus({ nodeId: 'n1', now: at });
    const a = bus.emit({ type: 'command.issued', message: 'line one' });
    const b = bus.emit({ type: 'command.refused', message: 'stale token', data: { token: 41 } });
    const text = `retry: 2000\n: hello\n\n${sseFrame(a)}: keep-alive\n\n${sseFrame(b)}`;
    for (const size of [1, 3, 7, text.length]) {
      const parser = new SseParser();
      const frames = [];
      for (let i = 0; i < text.length; i += size)
        frames.push(...parser.push(text.slice(i, i + size)));
      expect(frames.map((f) => [f.id, f.event])).toEqual([
        ['1', 'command.issued'],
        ['2', 'command.refused'],
      ]);
      expect(ClusterEvent.parse(JSON.parse(frames[1]!.data))).toEqual(b.event);
    }
    expect(new SseParser().push('data: a\r\ndata: b\r\n\r\n')).toEqual([
      { id: undefined, event: undefined, data: 'a\nb' },
    ]);
  });
});
