import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../src/codec/bytes.js';
import {
  decodeFrame,
  encodeChunkFrame,
  encodeMessage,
  encodeMessagesFrame,
  FRAME_VERSION,
  sealFrame,
} from '../src/codec/message-codec.js';
import { setInjectedBugs } from '../src/injected-bugs.js';
import { crc32c } from '../src/storage/crc32c.js';
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

/** An InstallSnapshot from a to b at `term`, of a snapshot at `index` (term `term`). */
function snapshotFromA(term: number, index: number, voters: string[], data: Uint8Array): Message {
  return {
    type: 'InstallSnapshot',
    from: 'a',
    to: 'b',
    term,
    snapshot: { meta: { index, term, membership: { voters, learners: [] } }, data },
  };
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
    // Hand-built frames with a good checksum: the content checks behind it still refuse.
    const bad = sealFrame(new ByteWriter().u8(0x52).u8(FRAME_VERSION).u8(1).u16(1).u8(99));
    const d = decodeFrame(bad);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toContain('unknown message type 99');
    // An entry count that could not fit in the frame is refused before allocating.
    const huge = new ByteWriter()
      .u8(0x52)
      .u8(FRAME_VERSION)
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
      .u32(0xffffffff);
    expect(decodeFrame(sealFrame(huge))).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('frame checksum (NATS payloads cut or corrupted on the way)', () => {
  const frame = encodeMessagesFrame(samples.map(encodeMessage));
  const chunk = encodeChunkFrame({
    from: 'a',
    term: 1,
    id: 'c1',
    seq: 1,
    total: 3,
    bytes: bin(200),
  });

  it('refuses every single-bit flip anywhere in a frame, never decoding a different message', () => {
    for (const f of [frame, chunk])
      for (let at = 0; at < f.length; at++)
        for (let bit = 0; bit < 8; bit++) {
          const bad = f.slice();
          bad[at] = (bad[at] as number) ^ (1 << bit);
          const d = decodeFrame(bad);
          expect(d.ok, `flip at ${at}.${bit}`).toBe(false);
          if (!d.ok)
            expect(d.reason, `flip at ${at}.${bit}: ${d.error}`).toBe(
              at < 2 ? 'version' : 'checksum',
            );
        }
  });

  it('refuses every truncation as truncated or a checksum mismatch', () => {
    for (let cut = 0; cut < frame.length; cut++) {
      const d = decodeFrame(frame.subarray(0, cut));
      expect(d.ok, `cut ${cut}`).toBe(false);
      if (!d.ok) expect(['truncated', 'checksum'], `cut ${cut}`).toContain(d.reason);
    }
  });

  it('refuses a frame of the unchecked version 1 instead of reading it', () => {
    const v1 = frame.slice(0, frame.length - 4);
    v1[1] = 1;
    expect(decodeFrame(v1)).toMatchObject({ ok: false, reason: 'version' });
  });

  it('the checksum is CRC-32C of every byte before it, big-endian in the last four', () => {
    const end = frame.length - 4;
    const tail = new DataView(frame.buffer, frame.byteOffset + end, 4).getUint32(0);
    expect(tail).toBe(crc32c(frame.subarray(0, end)));
  });

  it('the receiver counts damaged frames as corrupt, apart from malformed ones', () => {
    const { r, got, drops, stats } = receiver();
    const bad = frame.slice();
    bad[20] = (bad[20] as number) ^ 4;
    r.receive(bad);
    r.receive(frame.subarray(0, frame.length - 1));
    expect(got).toEqual([]);
    expect(drops).toEqual(['corrupt', 'corrupt']);
    expect(stats.dropped.corrupt).toBe(2);
    expect(stats.dropped.malformed).toBe(0);
  });
});

describe('framing', () => {
  it('batches by destination and chunks large messages, which reassemble', () => {
    const big = snapshotFromA(1, 5, ['a'], bin(300_000, 9));
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

  it("tells of every chunk with its message's sender and term, before the message is whole", () => {
    const big = snapshotFromA(4, 5, ['a'], bin(200_000, 3));
    const frames = packFrames([big], 32 * 1024, () => 'id1').get('b') as Uint8Array[];
    const seen: string[] = [];
    const got: Message[] = [];
    const r = new FrameReceiver(
      'b',
      (m) => got.push(m),
      emptyStats(),
      () => undefined,
      {
        chunkTimeoutMs: 1000,
        maxAssemblies: 2,
        maxMessageBytes: 1 << 20,
        now: () => 0,
        onChunk: (from, term) => seen.push(`${from}@${term}`),
      },
    );
    r.receive(frames[0] as Uint8Array);
    expect(seen).toEqual(['a@4']);
    expect(got).toEqual([]);
    for (const f of frames.slice(1)) r.receive(f);
    expect(seen).toHaveLength(frames.length);
    expect(got).toEqual([big]);
  });

  it('counts and drops malformed, misaddressed and timed-out input', () => {
    const { r, got, drops, stats, advance } = receiver();
    r.receive(new Uint8Array([1, 2, 3]));
    r.receive(
      encodeMessagesFrame([encodeMessage({ type: 'TimeoutNow', from: 'a', to: 'zz', term: 1 })]),
    );
    r.receive(encodeChunkFrame({ from: 'a', term: 1, id: 'x', seq: 0, total: 2, bytes: bin(10) }));
    advance(2000);
    r.sweep();
    r.receive(encodeChunkFrame({ from: 'a', term: 1, id: 'y', seq: 5, total: 2, bytes: bin(10) }));
    expect(got).toEqual([]);
    expect(drops).toEqual(['corrupt', 'misaddressed', 'chunk-timeout', 'malformed']);
    expect(stats.dropped).toEqual({
      corrupt: 1,
      malformed: 1,
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

describe('a resent snapshot fills in what a lossy link dropped', () => {
  it('copies of one snapshot share chunk ids, so chunks from several copies reassemble it', () => {
    const big = snapshotFromA(3, 9, ['a', 'b'], bin(100_000, 5));
    let n = 0;
    const copy1 = packFrames([big], 16 * 1024, () => `id${++n}`).get('b') as Uint8Array[];
    const copy2 = packFrames([big], 16 * 1024, () => `id${++n}`).get('b') as Uint8Array[];
    expect(copy1.length).toBeGreaterThan(4);
    const got: Message[] = [];
    const r = new FrameReceiver(
      'b',
      (m) => got.push(m),
      emptyStats(),
      () => undefined,
      {
        chunkTimeoutMs: 1000,
        maxAssemblies: 2,
        maxMessageBytes: 1 << 20,
        now: () => 0,
      },
    );
    // Each copy loses a different half of its chunks: neither arrives whole.
    for (const [i, f] of copy1.entries()) if (i % 2 === 0) r.receive(f);
    expect(got).toEqual([]);
    for (const [i, f] of copy2.entries()) if (i % 2 === 1) r.receive(f);
    expect(got).toEqual([big]);
  });

  /**
   * node simulator seed 886: 8 chunks, 1 s a copy, each copy missing one or two; the third
   * copy brought the last chunk 2.2 s after the first had arrived. Here one part comes every
   * 600 ms against a 1,000 ms timeout, swept before each.
   */
  function slowAssembly(): { got: Message[]; drops: string[] } {
    const big = snapshotFromA(3, 9, ['a', 'b'], bin(60_000, 7));
    const frames = packFrames([big], 16 * 1024, () => 'unused').get('b') as Uint8Array[];
    expect(frames.length).toBeGreaterThan(3);
    const { r, got, drops, advance } = receiver();
    for (const f of frames) {
      r.sweep();
      r.receive(f);
      advance(600);
    }
    return { got, drops };
  }

  it('an assembly still gaining parts is not timed out: the timeout counts from the last new part', () => {
    const { got, drops } = slowAssembly();
    expect(drops).toEqual([]);
    expect(got).toHaveLength(1);
  });

  it('with the switch chunk-timeout-from-first-part, it is dropped before the last part', () => {
    setInjectedBugs(['chunk-timeout-from-first-part']);
    try {
      const { got, drops } = slowAssembly();
      expect(drops).toContain('chunk-timeout');
      expect(got).toEqual([]);
    } finally {
      setInjectedBugs([]);
    }
  });
});
