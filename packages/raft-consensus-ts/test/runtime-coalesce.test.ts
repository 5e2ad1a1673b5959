import { describe, expect, it } from 'vitest';
import { coalesceMessages } from '../src/runtime/coalesce-messages.js';
import type { AppendEntries, Entry, Message } from '../src/types.js';

const e = (index: number, term = 2): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array([index & 0xff]),
});
const ae = (
  to: string,
  prev: number,
  entries: Entry[],
  commit = 0,
  extra: Partial<AppendEntries> = {},
): AppendEntries => ({
  type: 'AppendEntries',
  from: 'a',
  to,
  term: 2,
  prevLogIndex: prev,
  prevLogTerm: 2,
  entries,
  commit,
  ...extra,
});

describe('coalesceMessages', () => {
  it('merges contiguous appends per follower, keeping the highest commit', () => {
    const out = coalesceMessages(
      [
        ae('b', 10, [e(11)], 9),
        ae('c', 10, [e(11)], 9),
        ae('b', 11, [e(12)], 10),
        ae('b', 12, [e(13)], 10),
        ae('c', 11, [e(12)], 10),
      ],
      1 << 20,
    );
    expect(out).toHaveLength(2);
    const b = out[0] as AppendEntries;
    expect(b.to).toBe('b');
    expect(b.prevLogIndex).toBe(10);
    expect(b.entries.map((x) => x.index)).toEqual([11, 12, 13]);
    expect(b.commit).toBe(10);
    expect((out[1] as AppendEntries).entries.map((x) => x.index)).toEqual([11, 12]);
  });

  it('does not merge across a gap, a term change, a read context, an intervening message, or the size limit', () => {
    const vote: Message = {
      type: 'RequestVoteResponse',
      from: 'a',
      to: 'b',
      term: 2,
      granted: false,
      preVote: false,
    };
    expect(coalesceMessages([ae('b', 10, [e(11)]), ae('b', 12, [e(13)])], 1 << 20)).toHaveLength(2);
    expect(
      coalesceMessages([ae('b', 10, [e(11)]), { ...ae('b', 11, [e(12)]), term: 3 }], 1 << 20),
    ).toHaveLength(2);
    expect(
      coalesceMessages([ae('b', 10, [e(11)]), ae('b', 11, [], 0, { context: 'r1' })], 1 << 20),
    ).toHaveLength(2);
    expect(
      coalesceMessages([ae('b', 10, [e(11)]), vote, ae('b', 11, [e(12)])], 1 << 20),
    ).toHaveLength(3);
    expect(coalesceMessages([ae('b', 10, [e(11)]), ae('b', 11, [e(12)])], 100)).toHaveLength(2);
    // The input is not modified.
    const first = ae('b', 10, [e(11)]);
    coalesceMessages([first, ae('b', 11, [e(12)])], 1 << 20);
    expect(first.entries).toHaveLength(1);
  });

  it('keeps only the newest success per leader, but every rejection', () => {
    const ok = (m: number): Message => ({
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 2,
      success: true,
      matchIndex: m,
    });
    const no: Message = {
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 2,
      success: false,
      matchIndex: 5,
      rejectHint: { index: 4, term: 1 },
    };
    expect(coalesceMessages([ok(11), ok(12), ok(13)], 1 << 20)).toEqual([ok(13)]);
    expect(coalesceMessages([ok(11), no, ok(12)], 1 << 20)).toEqual([ok(11), no, ok(12)]);
  });
});
