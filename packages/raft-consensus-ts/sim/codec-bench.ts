/**
 * What the frame codec costs per frame: encode (packFrames) and decode
 * (decodeFrame) of a heartbeat and of AppendEntries batches, best of several
 * runs. `pnpm exec tsx sim/codec-bench.ts` from the package; prints one JSON line.
 */
import { decodeFrame } from '../src/codec/message-codec.js';
import { packFrames } from '../src/transport/framing.js';
import type { Entry, Message } from '../src/types.js';

function appendEntries(entries: number, bytes: number): Message {
  const list: Entry[] = Array.from({ length: entries }, (_, i) => ({
    term: 7,
    index: 1_000 + i,
    type: 'normal',
    data: new Uint8Array(bytes).fill(i & 0xff),
  }));
  return {
    type: 'AppendEntries',
    from: 'node-a',
    to: 'node-b',
    term: 7,
    prevLogIndex: 999,
    prevLogTerm: 7,
    commit: 990,
    entries: list,
  };
}

const CASES: { name: string; message: Message }[] = [
  { name: 'heartbeat', message: appendEntries(0, 0) },
  { name: 'append 16 x 128 B', message: appendEntries(16, 128) },
  { name: 'append 256 x 1 KiB', message: appendEntries(256, 1024) },
];

function best(runs: number, iterations: number, fn: () => void): number {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    min = Math.min(min, (performance.now() - t0) / iterations);
  }
  return min * 1e6; // ns per op
}

const out: Record<string, unknown>[] = [];
for (const c of CASES) {
  const frame = (
    packFrames([c.message], 1 << 30, () => 'x').get('node-b') as Uint8Array[]
  )[0] as Uint8Array;
  const iterations = Math.max(200, Math.floor(4_000_000 / (frame.length + 200)));
  const encNs = best(7, iterations, () => packFrames([c.message], 1 << 30, () => 'x'));
  const decNs = best(7, iterations, () => {
    if (!decodeFrame(frame).ok) throw new Error('decode failed');
  });
  out.push({
    case: c.name,
    frameBytes: frame.length,
    encodeNs: Math.round(encNs),
    decodeNs: Math.round(decNs),
    encodeMBps: Math.round((frame.length / encNs) * 1e3),
    decodeMBps: Math.round((frame.length / decNs) * 1e3),
  });
}
console.log(JSON.stringify(out));
