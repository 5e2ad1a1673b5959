import { membershipProblem } from '../core/membership-shape.js';
import { crc32c } from '../storage/crc32c.js';
import type { Entry, EntryType, Membership, Message, MessageType } from '../types.js';
import { ByteReader, ByteWriter, owned, TruncatedInputError } from './bytes.js';

/*
 * Binary encoding of Raft messages for transports. Binary rather than JSON
 * because entry data is arbitrary bytes: JSON would need base64 (a third larger
 * and a copy each way) and re-parsing every key of every entry; see the README
 * for the measured difference.
 *
 * A frame is  [magic 0x52][version 2][kind u8] ... [crc32c u32]
 *   kind 1, messages:  [count u16] then each message
 *   kind 2, chunk:     [from str][term u48][id str][seq u32][total u32][bytes blob]
 *                      (a piece of one large encoded message; sender and term let the
 *                      receiver see a leader alive while its snapshot is still arriving)
 * A message is  [type u8][from str][to str][term u48] then its type's fields.
 *
 * The CRC-32C covers every byte before it, header included. NATS payloads are
 * not end-to-end checked (TCP's 16-bit sum misses some flips, and a bug in a
 * proxy or client library can cut a payload), and most flips in a frame still
 * decode as a different valid message (a term, an index, a granted bit): the
 * node simulator measured 65% of its corrupted frames decoding before the
 * checksum. Version 1 frames had none; they are refused, not read unchecked,
 * because a flip could otherwise turn a version 2 frame into one.
 */

const MAGIC = 0x52;
export const FRAME_VERSION = 2;
/** Magic, version and kind before the body; the checksum after it. */
const HEADER_BYTES = 3;
const CHECKSUM_BYTES = 4;
export const FRAME_MESSAGES = 1;
export const FRAME_CHUNK = 2;

const TYPES: readonly MessageType[] = [
  'RequestVote',
  'RequestVoteResponse',
  'AppendEntries',
  'AppendEntriesResponse',
  'InstallSnapshot',
  'InstallSnapshotResponse',
  'TimeoutNow',
  'ReadIndex',
  'ReadIndexResponse',
];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i + 1]));
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'config', 'noop'];

/**
 * Why a frame was refused: `truncated` (shorter than a header and checksum),
 * `checksum` (corrupted or cut: the CRC-32C does not match), `version` (not
 * this format: wrong magic or version), `malformed` (checksum good, content
 * impossible: a peer's encoder bug).
 */
export type FrameRejection = 'truncated' | 'checksum' | 'version' | 'malformed';

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string; readonly reason: FrameRejection };

/** A chunk of a message too large for one frame. */
export interface Chunk {
  /** The sender and term of the whole message. */
  readonly from: string;
  readonly term: number;
  readonly id: string;
  readonly seq: number;
  readonly total: number;
  readonly bytes: Uint8Array;
}

export type Frame =
  | { readonly kind: 'messages'; readonly messages: Message[] }
  | { readonly kind: 'chunk'; readonly chunk: Chunk };

/** Appends one message's encoding to `w`. */
export function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(TYPE_CODE.get(m.type) as number)
    .str(m.from)
    .str(m.to)
    .u48(m.term);
  switch (m.type) {
    case 'RequestVote':
      w.u48(m.lastLogIndex)
        .u48(m.lastLogTerm)
        .u8((m.preVote ? 1 : 0) | (m.transfer ? 2 : 0));
      break;
    case 'RequestVoteResponse':
      w.u8((m.granted ? 1 : 0) | (m.preVote ? 2 : 0));
      break;
    case 'AppendEntries':
      w.u48(m.prevLogIndex)
        .u48(m.prevLogTerm)
        .u48(m.commit)
        .u8(m.context === undefined ? 0 : 1);
      if (m.context !== undefined) w.str(m.context);
      w.u32(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      break;
    case 'AppendEntriesResponse':
      w.u8((m.success ? 1 : 0) | (m.rejectHint ? 2 : 0) | (m.context === undefined ? 0 : 4)).u48(
        m.matchIndex,
      );
      if (m.rejectHint) w.u48(m.rejectHint.index).u48(m.rejectHint.term);
      if (m.context !== undefined) w.str(m.context);
      break;
    case 'InstallSnapshot':
      w.u48(m.snapshot.meta.index).u48(m.snapshot.meta.term);
      writeMembership(w, m.snapshot.meta.membership);
      w.blob(m.snapshot.data);
      break;
    case 'InstallSnapshotResponse':
      w.u48(m.matchIndex);
      break;
    case 'TimeoutNow':
      break;
    case 'ReadIndex':
      w.str(m.requestId);
      break;
    case 'ReadIndexResponse':
      w.str(m.requestId).u48(m.index);
      break;
  }
}

function writeEntry(w: ByteWriter, e: Entry): void {
  w.u48(e.index).u48(e.term).u8(ENTRY_TYPES.indexOf(e.type)).blob(e.data);
}

function writeMembership(w: ByteWriter, m: Membership): void {
  w.u16(m.voters.length);
  for (const v of m.voters) w.str(v);
  w.u16(m.learners.length);
  for (const l of m.learners) w.str(l);
}

/** Reads one message; throws TruncatedInputError on bad input (callers use decodeFrame, which does not throw). */
export function readMessage(r: ByteReader): Message {
  const code = r.u8('message type');
  const type = TYPES[code - 1];
  if (!type) throw new TruncatedInputError(`unknown message type ${code}`, r.offset - 1);
  const from = r.str('from');
  const to = r.str('to');
  const term = r.u48('term');
  switch (type) {
    case 'RequestVote': {
      const lastLogIndex = r.u48('lastLogIndex');
      const lastLogTerm = r.u48('lastLogTerm');
      const flags = r.flags(0b11);
      return {
        type,
        from,
        to,
        term,
        lastLogIndex,
        lastLogTerm,
        preVote: (flags & 1) !== 0,
        transfer: (flags & 2) !== 0,
      };
    }
    case 'RequestVoteResponse': {
      const flags = r.flags(0b11);
      return { type, from, to, term, granted: (flags & 1) !== 0, preVote: (flags & 2) !== 0 };
    }
    case 'AppendEntries': {
      const prevLogIndex = r.u48('prevLogIndex');
      const prevLogTerm = r.u48('prevLogTerm');
      const commit = r.u48('commit');
      const context = r.flags(0b1) & 1 ? r.str('context') : undefined;
      const count = r.u32('entry count');
      // Each entry takes at least 17 bytes: refuse a count the frame cannot hold before allocating for it.
      if (count * 17 > r.remaining)
        throw new TruncatedInputError(`entry count ${count} exceeds the frame`, r.offset - 4);
      const entries: Entry[] = new Array(count);
      for (let i = 0; i < count; i++) {
        const index = r.u48('entry index');
        const entryTerm = r.u48('entry term');
        const kind = ENTRY_TYPES[r.u8('entry type')];
        if (!kind) throw new TruncatedInputError('unknown entry type', r.offset - 1);
        entries[i] = { index, term: entryTerm, type: kind, data: r.blob('entry data') };
      }
      return context === undefined
        ? { type, from, to, term, prevLogIndex, prevLogTerm, commit, entries }
        : { type, from, to, term, prevLogIndex, prevLogTerm, commit, entries, context };
    }
    case 'AppendEntriesResponse': {
      const flags = r.flags(0b111);
      const matchIndex = r.u48('matchIndex');
      const rejectHint =
        flags & 2 ? { index: r.u48('hint index'), term: r.u48('hint term') } : undefined;
      const context = flags & 4 ? r.str('context') : undefined;
      return {
        type,
        from,
        to,
        term,
        success: (flags & 1) !== 0,
        matchIndex,
        ...(rejectHint ? { rejectHint } : {}),
        ...(context !== undefined ? { context } : {}),
      };
    }
    case 'InstallSnapshot': {
      const index = r.u48('snapshot index');
      const snapTerm = r.u48('snapshot term');
      const membership = readMembership(r);
      const data = r.blob('snapshot data');
      return {
        type,
        from,
        to,
        term,
        snapshot: { meta: { index, term: snapTerm, membership }, data },
      };
    }
    case 'InstallSnapshotResponse':
      return { type, from, to, term, matchIndex: r.u48('matchIndex') };
    case 'TimeoutNow':
      return { type, from, to, term };
    case 'ReadIndex':
      return { type, from, to, term, requestId: r.str('requestId') };
    case 'ReadIndexResponse':
      return { type, from, to, term, requestId: r.str('requestId'), index: r.u48('index') };
  }
}

function readMembership(r: ByteReader): Membership {
  const voters: string[] = [];
  const learners: string[] = [];
  const nv = r.u16('voter count');
  for (let i = 0; i < nv; i++) voters.push(r.str('voter'));
  const nl = r.u16('learner count');
  for (let i = 0; i < nl; i++) learners.push(r.str('learner'));
  const membership = { voters, learners };
  const problem = membershipProblem(membership);
  if (problem) throw new TruncatedInputError(`snapshot membership: ${problem}`, r.offset);
  return membership;
}

/** Encodes one message alone (for size checks and chunking). */
export function encodeMessage(m: Message): Uint8Array {
  const w = new ByteWriter(
    64 + (m.type === 'AppendEntries' ? m.entries.reduce((n, e) => n + 24 + e.data.length, 0) : 0),
  );
  writeMessage(w, m);
  return w.finish();
}

/** Appends the checksum of everything written so far: the frame is then complete. */
export function sealFrame(w: ByteWriter): Uint8Array {
  w.u32(crc32c(w.finish()));
  return w.finish();
}

/** Packs already-encoded messages into one frame. */
export function encodeMessagesFrame(encoded: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter(12 + encoded.reduce((n, e) => n + e.length, 0));
  w.u8(MAGIC).u8(FRAME_VERSION).u8(FRAME_MESSAGES).u16(encoded.length);
  for (const e of encoded) w.bytes(e);
  return sealFrame(w);
}

export function encodeChunkFrame(chunk: Chunk): Uint8Array {
  const w = new ByteWriter(36 + chunk.bytes.length);
  w.u8(MAGIC)
    .u8(FRAME_VERSION)
    .u8(FRAME_CHUNK)
    .str(chunk.from)
    .u48(chunk.term)
    .str(chunk.id)
    .u32(chunk.seq)
    .u32(chunk.total)
    .blob(chunk.bytes);
  return sealFrame(w);
}

function refuse(reason: FrameRejection, error: string): Decoded<never> {
  return { ok: false, reason, error };
}

/**
 * Decodes a frame from the network. Never throws: bad bytes come back as
 * `{ ok: false, reason, error }`. The checksum is verified before any field of
 * the body is read, so a damaged frame is never decoded into a message.
 */
export function decodeFrame(bytes: Uint8Array): Decoded<Frame> {
  if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES)
    return refuse(
      'truncated',
      `frame of ${bytes.length} bytes is shorter than its header and checksum`,
    );
  if (bytes[0] !== MAGIC) return refuse('version', 'not a Raft frame (bad magic byte)');
  if (bytes[1] !== FRAME_VERSION)
    return refuse(
      'version',
      `unsupported frame version ${bytes[1]} (this node reads ${FRAME_VERSION})`,
    );
  const end = bytes.length - CHECKSUM_BYTES;
  const tail = new DataView(bytes.buffer, bytes.byteOffset + end, CHECKSUM_BYTES).getUint32(0);
  const crc = crc32c(bytes, 0, 0, end);
  if (crc !== tail)
    return refuse(
      'checksum',
      `frame checksum mismatch over ${end} bytes (computed ${crc.toString(16)}, frame says ${tail.toString(16)}): corrupted or truncated`,
    );
  try {
    const r = new ByteReader(owned(bytes), HEADER_BYTES, end);
    const kind = bytes[2];
    let frame: Frame;
    if (kind === FRAME_MESSAGES) {
      const count = r.u16('message count');
      const messages: Message[] = [];
      for (let i = 0; i < count; i++) messages.push(readMessage(r));
      frame = { kind: 'messages', messages };
    } else if (kind === FRAME_CHUNK) {
      const from = r.str('chunk sender');
      const term = r.u48('chunk term');
      const id = r.str('chunk id');
      const seq = r.u32('chunk seq');
      const total = r.u32('chunk total');
      const data = r.blob('chunk bytes');
      if (total === 0 || seq >= total)
        return refuse('malformed', `chunk ${seq} of ${total} is out of range`);
      frame = { kind: 'chunk', chunk: { from, term, id, seq, total, bytes: data } };
    } else {
      return refuse('malformed', `unknown frame kind ${kind}`);
    }
    if (r.remaining !== 0)
      return refuse('malformed', `${r.remaining} trailing bytes after the frame`);
    return { ok: true, value: frame };
  } catch (err) {
    if (err instanceof TruncatedInputError)
      return refuse('malformed', `${err.message} at byte ${err.offset}`);
    return refuse('malformed', String(err));
  }
}

/** Decodes one message encoded alone (a reassembled chunked message). Never throws. */
export function decodeMessage(bytes: Uint8Array): Decoded<Message> {
  try {
    const r = new ByteReader(owned(bytes));
    const m = readMessage(r);
    if (r.remaining !== 0)
      return refuse('malformed', `${r.remaining} trailing bytes after the message`);
    return { ok: true, value: m };
  } catch (err) {
    if (err instanceof TruncatedInputError)
      return refuse('malformed', `${err.message} at byte ${err.offset}`);
    return refuse('malformed', String(err));
  }
}
