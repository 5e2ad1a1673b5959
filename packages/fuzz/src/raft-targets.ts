import fc from 'fast-check';
import {
  type Chunk,
  decodeConfigEntry,
  decodeFrame,
  decodeMessage,
  encodeChunkFrame,
  encodeConfigEntry,
  encodeMessage,
  encodeMessagesFrame,
  type FrameRejection,
  type Message,
  RaftError,
} from 'raft-consensus-ts';
import type { HostileInput } from './bytes.js';
import type { FuzzTarget, Outcome } from './campaign.js';
import { hostileBinary } from './hostile-binary.js';
import { hostileJson } from './hostile-json.js';

const data = (text: string): Uint8Array => new TextEncoder().encode(text);

/** One message of every type, with optional parts present and absent and odd (valid UTF-8) ids. */
export const raftMessages: readonly Message[] = [
  {
    type: 'RequestVote',
    from: 'n1',
    to: 'n2',
    term: 5,
    lastLogIndex: 10,
    lastLogTerm: 4,
    preVote: true,
    transfer: false,
  },
  { type: 'RequestVoteResponse', from: 'n2', to: 'n1', term: 5, granted: true, preVote: false },
  {
    type: 'AppendEntries',
    from: 'n1',
    to: 'n2',
    term: 5,
    prevLogIndex: 9,
    prevLogTerm: 4,
    commit: 9,
    entries: [
      {
        index: 10,
        term: 5,
        type: 'normal',
        data: data('{"type":"lock.release","at":1,"service":"web","token":3}'),
      },
      { index: 11, term: 5, type: 'noop', data: new Uint8Array() },
      {
        index: 12,
        term: 5,
        type: 'config',
        data: data(
          '{"change":{"type":"addVoter","node":"n4"},"membership":{"voters":["n1","n4"],"learners":[]}}',
        ),
      },
    ],
    context: 'ctx-1',
  },
  {
    type: 'AppendEntries',
    from: 'n1',
    to: 'n2',
    term: 2 ** 40,
    prevLogIndex: 0,
    prevLogTerm: 0,
    commit: 0,
    entries: [],
  },
  {
    type: 'AppendEntriesResponse',
    from: 'n2',
    to: 'n1',
    term: 5,
    success: false,
    matchIndex: 3,
    rejectHint: { index: 4, term: 2 },
    context: 'c',
  },
  { type: 'AppendEntriesResponse', from: 'n2', to: 'n1', term: 5, success: true, matchIndex: 12 },
  {
    type: 'InstallSnapshot',
    from: 'n1',
    to: 'n3',
    term: 6,
    snapshot: {
      meta: { index: 100, term: 6, membership: { voters: ['n1', 'n2', 'n3'], learners: ['n4'] } },
      data: data('{"v":1}'),
    },
  },
  { type: 'InstallSnapshotResponse', from: 'n3', to: 'n1', term: 6, matchIndex: 100 },
  { type: 'TimeoutNow', from: 'n1', to: 'é-ü-💥', term: 7 },
  { type: 'ReadIndex', from: 'n2', to: 'n1', term: 7, requestId: 'r-1' },
  { type: 'ReadIndexResponse', from: 'n1', to: 'n2', term: 7, requestId: 'r-1', index: 99 },
];

/** Frames as the library builds them (header, body, CRC-32C). */
export function messagesFrame(messages: readonly Message[]): Uint8Array {
  return encodeMessagesFrame(messages.map(encodeMessage));
}

export function chunkFrame(
  from: string,
  term: number,
  id: string,
  seq: number,
  total: number,
  bytes: Uint8Array,
): Uint8Array {
  return encodeChunkFrame({ from, term, id, seq, total, bytes });
}

const equal = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The codec refuses with a reason from a closed set (FrameRejection): that is its stable code. */
function frameOutcome(reason: FrameRejection): Outcome {
  return { ok: false, code: `RAFT_FRAME_${reason.toUpperCase()}`, typed: true };
}

const RAFT_MAX_FRAME_BYTES = 512 * 1024;

export function raftTargets(): FuzzTarget[] {
  const frames = [
    messagesFrame(raftMessages),
    ...raftMessages.map((m) => messagesFrame([m])),
    messagesFrame([]),
    chunkFrame('n1', 7, 'n1.1.abc', 0, 3, encodeMessage(raftMessages[2]!).subarray(0, 40)),
    chunkFrame('n1', 7, 'n1.1.abc', 2, 3, new Uint8Array(0)),
  ];
  const singles = raftMessages.map(encodeMessage);
  const configEntries = [
    {
      change: { type: 'addVoter', node: 'n4' },
      membership: { voters: ['n1', 'n4'], learners: [] },
    },
    {
      change: { type: 'removeNode', node: 'n2' },
      membership: { voters: ['n1'], learners: ['n5'] },
    },
  ];
  return [
    {
      name: 'raft frame (decodeFrame)',
      inputs: hostileBinary({ samples: frames, maxBytes: RAFT_MAX_FRAME_BYTES }),
      decode: (payload) => {
        const r = decodeFrame(payload);
        return r.ok ? { ok: true, value: r.value } : frameOutcome(r.reason);
      },
      check: (value, payload) => {
        const f = value as
          | { kind: 'messages'; messages: Message[] }
          | { kind: 'chunk'; chunk: Chunk };
        const again =
          f.kind === 'messages'
            ? messagesFrame(f.messages)
            : chunkFrame(
                f.chunk.from,
                f.chunk.term,
                f.chunk.id,
                f.chunk.seq,
                f.chunk.total,
                f.chunk.bytes,
              );
        return equal(again, payload) ? undefined : 'accepted bytes that re-encode differently';
      },
    },
    {
      name: 'raft message (decodeMessage)',
      inputs: hostileBinary({ samples: singles, maxBytes: RAFT_MAX_FRAME_BYTES }),
      decode: (payload) => {
        const r = decodeMessage(payload);
        return r.ok ? { ok: true, value: r.value } : frameOutcome(r.reason);
      },
      check: (value, payload) =>
        equal(encodeMessage(value as Message), payload)
          ? undefined
          : 'accepted bytes that re-encode differently',
    },
    {
      name: 'raft config entry (decodeConfigEntry)',
      inputs: fc.oneof(
        hostileJson({ samples: configEntries, maxBytes: 64 * 1024 }),
        fc
          .constantFrom(...configEntries)
          .map(
            (e) =>
              ({ kind: 'valid', payload: encodeConfigEntry(e as never) }) satisfies HostileInput,
          ),
      ),
      decode: (payload) => {
        try {
          return { ok: true, value: decodeConfigEntry(payload, 1) };
        } catch (error) {
          // Its documented way to refuse: a typed RaftError. Anything else propagates (a crash).
          if (error instanceof RaftError) return { ok: false, code: error.code, typed: true };
          throw error;
        }
      },
      check: (value) => {
        const v = value as {
          change: { node: string };
          membership: { voters: string[]; learners: string[] };
        };
        const ids = [...v.membership.voters, ...v.membership.learners];
        if (new Set(ids).size !== ids.length) return 'accepted a membership listing a node twice';
        if (Object.keys(v).length !== 2) return 'accepted unknown top-level fields';
        if (ids.some((id) => id === '')) return 'accepted an empty node id';
        return undefined;
      },
    },
  ];
}
