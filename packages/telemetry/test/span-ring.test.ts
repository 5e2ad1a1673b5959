import { describe, expect, it } from 'vitest';
import { type SpanRecord, SpanRecord as SpanRecordSchema } from '../src/span-record.js';
import { SpanRing } from '../src/span-ring.js';

const TRACE_A = 'a'.repeat(32);
const TRACE_B = 'b'.repeat(32);

function span(n: number, traceId = TRACE_A): SpanRecord {
  return {
    traceId,
    spanId: n.toString(16).padStart(16, '0'),
    name: `span-${n}`,
    kind: 'internal',
    startMs: 1_000 + n,
    endMs: 1_001 + n,
    durationMs: 1,
    attributes: { n },
    status: { code: 'unset' },
    events: [],
    resource: { service: 'test', node: 'n1' },
  };
}

const names = (spans: SpanRecord[]): string[] => spans.map((s) => s.name);

describe('SpanRing', () => {
  it('returns spans oldest first, in the order they were pushed', () => {
    const ring = new SpanRing(10);
    for (const n of [1, 2, 3]) ring.push(span(n));
    expect(names(ring.recent())).toEqual(['span-1', 'span-2', 'span-3']);
    expect(ring.size).toBe(3);
  });

  it('evicts the oldest once full and keeps order across the wrap', () => {
    const ring = new SpanRing(3);
    for (let n = 1; n <= 7; n++) ring.push(span(n));
    expect(names(ring.recent())).toEqual(['span-5', 'span-6', 'span-7']);
    expect(ring.size).toBe(3);
    expect(ring.evicted).toBe(4);
  });

  it('with a limit, returns the newest spans, still oldest first', () => {
    const ring = new SpanRing(5);
    for (let n = 1; n <= 8; n++) ring.push(span(n));
    expect(names(ring.recent({ limit: 2 }))).toEqual(['span-7', 'span-8']);
    expect(names(ring.recent({ limit: 50 }))).toEqual([
      'span-4',
      'span-5',
      'span-6',
      'span-7',
      'span-8',
    ]);
  });

  it('filters by trace id, and the limit counts matching spans only', () => {
    const ring = new SpanRing(10);
    ring.push(span(1, TRACE_A));
    ring.push(span(2, TRACE_B));
    ring.push(span(3, TRACE_A));
    ring.push(span(4, TRACE_B));
    ring.push(span(5, TRACE_B));
    expect(names(ring.recent({ traceId: TRACE_A }))).toEqual(['span-1', 'span-3']);
    expect(names(ring.recent({ traceId: TRACE_B, limit: 2 }))).toEqual(['span-4', 'span-5']);
    expect(ring.recent({ traceId: 'c'.repeat(32) })).toEqual([]);
  });

  it('forgets a trace whose spans were all evicted', () => {
    const ring = new SpanRing(2);
    ring.push(span(1, TRACE_A));
    ring.push(span(2, TRACE_B));
    ring.push(span(3, TRACE_B));
    expect(ring.recent({ traceId: TRACE_A })).toEqual([]);
  });

  it('is empty after clear, and refuses a capacity that is not a positive integer', () => {
    const ring = new SpanRing(2);
    ring.push(span(1));
    ring.clear();
    expect(ring.recent()).toEqual([]);
    expect(ring.size).toBe(0);
    expect(() => new SpanRing(0)).toThrow(RangeError);
    expect(() => new SpanRing(1.5)).toThrow(RangeError);
  });

  it('holds records the SpanRecord schema accepts', () => {
    const ring = new SpanRing(1);
    ring.push(span(9));
    const [only] = ring.recent();
    expect(SpanRecordSchema.safeParse(only).success).toBe(true);
  });
});
