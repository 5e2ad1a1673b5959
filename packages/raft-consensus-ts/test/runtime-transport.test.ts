import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../src/codec/bytes.js';
import {
  decodeFrame,
  encodeChunkFrame,
  encodeMessage,
  encodeMessagesFrame,
} from '../src/codec/message-codec.js';
import { emptyStats, FrameReceiver, packFrames } from '../src/transport/framing.js';
import { LocalNetwork } from '../src/transport/local-transport.js';
import type { Message } from '../src/types.js';

const bin = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff);

const samples: Message[] = [
  {
    type: 'RequestVote',
    from: 'a',
    to: 'b',
    term: 7,
    lastLogIndex: 2 ** 40 + 3,
    lastLogTerm: 6,
    preVote: true,
    transfer: false,
  },
  {
    type: 'RequestVote',
    from: 'a',
    to: 'b',
    term: 7,
    lastLogIndex: 0,
    lastLogTerm: 0,
    preVote: false,
    transfer: true,
  },
  { type: 'RequestVoteResponse', from: 'b', to: 'a', term: 7, granted: true, preVote: false },
  {
    type: 'AppendEntries',
    from: 'a',
    to: 'b',
    term: 7,
    prevLogIndex: 10,
    prevLogTerm: 6,
    commit: 9,
    entries: [
      { index: 11, term: 7, type: 'noop', data: new Uint8Array(0) },
      { index: 12, term: 7, type: 'normal', data: bin(1000) },
      { index: 13, term: 7, type: 'config', data: new TextEncoder().encode('{"x":1}') },
    ],
  },
  {
    type: 'AppendEntries',
    from: 'a',
    to: 'b',
    term: 7,
    prevLogIndex: 13,
    prevLogTerm: 7,
    commit: 13,
    entries: [],
    context: 'read-1',
  },
  { type: 'AppendEntriesResponse', from: 'b', to: 'a', term: 7, success: true, matchIndex: 13 },
  {
    type: 'AppendEntriesResponse',
    from: 'b',
    to: 'a',
    term: 7,
    success: false,
    matchIndex: 0,
    rejectHint: { index: 5, term: 3 },
    context: 'ctx',
  },
  {
    type: 'InstallSnapshot',
    from: 'a',
    to: 'b',
    term: 7,
    snapshot: {
      meta: { index: 100, term: 6, membership: { voters: ['a', 'b', 'c'], learners: ['d'] } },
      data: bin(5000),
    },
  },
  { type: 'InstallSnapshotResponse', from: 'b', to: 'a', term: 7, matchIndex: 100 },
  { type: 'TimeoutNow', from: 'a', to: 'b', term: 7 },
  { type: 'ReadIndex', from: 'b', to: 'a', term: 7, requestId: 'b/1' },
  { type: 'ReadIndexResponse', from: 'a', to: 'b', term: 7, requestId: 'b/1', index: 13 },
];

function receiver(id = 'b') {
  const got: Message[] = [];
  const drops: string[] = [];
  const stats = emptyStats();
  let now = 0;
  const r = new FrameReceiver(
    id,
    (m) => got.push(m),
    stats,
    (reason) => drops.push(reason),
    {
      chunkTimeoutMs: 1000,
      maxAssemblies: 2,
      maxMessageBytes: 1 << 20,
      now: () => now,
    },
  );
  return { r, got, drops, stats, advance: (ms: number) => (now += ms) };
}

describe('message codec', () => {
  it('round-trips every message type, with byte data intact', () => {
    const frame = encodeMessagesFrame(samples.map(encodeMessage));
    const d = decodeFrame(frame);
    expect(d.ok).toBe(true);
    if (!d.ok || d.value.kind !== 'messages') throw new Error('not messages');
    expect(d.value.messages).toEqual(samples);
    const ae = d.value.messages[3] as Extract<Message, { type: 'AppendEntries' }>;
    expect(ae.entries[1]?.data).toBeInstanceOf(Uint8Array);
  });

  it('returns an error, never throws, for every truncation and for garbage', () => {
    const frame = encodeMessagesFrame(samples.map(encodeMessage));
    for (let cut = 0; cut < frame.length; cut += 7) {
      const d = decodeFrame(frame.subarray(0, cut));
      expect(d.ok, `cut ${cut}`).toBe(false);
    }
    expect(decodeFrame(new TextEncoder().encode('{"type":"RequestVote"}'))).toMatchObject({
      ok: false,
    });
    const bad = new ByteWriter().u8(0x52).u8(1).u8(1).u16(1).u8(99).finish();
    const d = decodeFrame(bad);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toContain('unknown message type 99');
    // An entry count that could not fit in the frame is refused before allocating.
    const huge = new ByteWriter()
      .u8(0x52)
      .u8(1)
      .u8(1)
      .u16(1)
      .u8(3)
      .str('a')
      .str('b')
      .u48(1)
      .u48(0)
      .u48(0)
      .u48(0)
      .u8(0)
      .u32(0xffffffff)
      .finish();
    expect(decodeFrame(huge).ok).toBe(false);
  });
});

describe('framing', () => {
  it('batches by destination and chunks large messages, which reassemble', () => {
    const big: Message = {
      type: 'InstallSnapshot',
      from: 'a',
      to: 'b',
      term: 1,
      snapshot: {
        meta: { index: 5, term: 1, membership: { voters: ['a'], learners: [] } },
        data: bin(300_000, 9),
      },
    };
    const small = samples.filter((m) => m.to === 'b' && m.type !== 'InstallSnapshot');
    const toC: Message = { type: 'TimeoutNow', from: 'a', to: 'c', term: 1 };
    let n = 0;
    const frames = packFrames([...small, big, toC], 64 * 1024, () => `id${++n}`);
    expect(frames.get('c')).toHaveLength(1);
    const forB = frames.get('b') as Uint8Array[];
    expect(forB.length).toBeGreaterThan(4);
    for (const f of forB) expect(f.length).toBeLessThanOrEqual(64 * 1024);
    const { r, got, drops } = receiver();
    // Deliver chunks in reverse order, one twice: reassembly must not care.
    for (const f of [...forB].reverse()) r.receive(f);
    r.receive(forB[2] as Uint8Array);
    expect(drops).toEqual([]);
    expect(got).toHaveLength(small.length + 1);
    expect(got.find((m) => m.type === 'InstallSnapshot')).toEqual(big);
  });

  it('counts and drops malformed, misaddressed and timed-out input', () => {
    const { r, got, drops, stats, advance } = receiver();
    r.receive(new Uint8Array([1, 2, 3]));
    r.receive(
      encodeMessagesFrame([encodeMessage({ type: 'TimeoutNow', from: 'a', to: 'zz', term: 1 })]),
    );
    r.receive(encodeChunkFrame({ id: 'x', seq: 0, total: 2, bytes: bin(10) }));
    advance(2000);
    r.sweep();
    r.receive(encodeChunkFrame({ id: 'y', seq: 5, total: 2, bytes: bin(10) }));
    expect(got).toEqual([]);
    expect(drops).toEqual(['malformed', 'misaddressed', 'chunk-timeout', 'malformed']);
    expect(stats.dropped).toEqual({
      malformed: 2,
      misaddressed: 1,
      'chunk-timeout': 1,
      'chunk-overflow': 0,
    });
    expect(r.pendingAssemblies).toBe(0);
  });

  it('LocalNetwork delivers through the codec and honours isolation', async () => {
    const net = new LocalNetwork();
    const a = net.transport('a');
    const b = net.transport('b');
    const got: Message[] = [];
    b.onMessage((m) => got.push(m));
    const m: Message = { type: 'TimeoutNow', from: 'a', to: 'b', term: 3 };
    a.send([m]);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([m]);
    expect(got[0]).not.toBe(m);
    net.isolate('b');
    a.send([m]);
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(1);
    net.reconnect('b');
    a.send([m]);
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(2);
  });
});
