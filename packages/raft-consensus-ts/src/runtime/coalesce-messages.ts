import type { AppendEntries, AppendEntriesResponse, Entry, Message } from '../types.js';

/**
 * Merges the messages of one Ready before they are sent. The core emits one
 * AppendEntries per proposal per follower when proposals arrive one by one; a
 * follower would then step, persist and acknowledge each separately. Merging
 * contiguous AppendEntries to the same follower (same term, next one starting
 * where the previous ended) into one, and keeping only the newest successful
 * acknowledgement to the same leader, is invisible to Raft's rules: a merged
 * append is exactly what the leader would have sent with a larger batch, and a
 * success at a higher match implies the lower ones.
 */
export function coalesceMessages(
  messages: readonly Message[],
  maxBytesPerMessage: number,
): Message[] {
  if (messages.length < 2) return messages as Message[];
  const out: Message[] = [];
  /** Position in `out` of the open (mergeable) AppendEntries per follower, and its running size. */
  const openAppend = new Map<string, { at: number; bytes: number; entries: Entry[] | undefined }>();
  /** Position in `out` of the newest successful AppendEntriesResponse per destination. */
  const lastAck = new Map<string, number>();
  for (const m of messages) {
    if (m.type === 'AppendEntries' && m.context === undefined) {
      const open = openAppend.get(m.to);
      const prev = open ? (out[open.at] as AppendEntries) : undefined;
      const size = m.entries.reduce((n, e) => n + e.data.byteLength + 64, 0);
      if (
        prev &&
        open &&
        prev.term === m.term &&
        lastIndexOf(prev) === m.prevLogIndex &&
        open.bytes + size <= maxBytesPerMessage
      ) {
        // Copy the first message's entries once, then append in place: merging stays linear.
        if (!open.entries) {
          open.entries = [...prev.entries];
          out[open.at] = { ...prev, entries: open.entries };
        }
        for (const e of m.entries) open.entries.push(e);
        if (m.commit > prev.commit)
          out[open.at] = { ...(out[open.at] as AppendEntries), commit: m.commit };
        open.bytes += size;
        continue;
      }
      openAppend.set(m.to, { at: out.length, bytes: size, entries: undefined });
      out.push(m);
      continue;
    }
    if (m.type === 'AppendEntriesResponse' && m.success && m.context === undefined) {
      const at = lastAck.get(m.to);
      const prev = at === undefined ? undefined : (out[at] as AppendEntriesResponse);
      if (prev && prev.term === m.term) {
        if (m.matchIndex >= prev.matchIndex) out[at as number] = m;
        continue;
      }
      lastAck.set(m.to, out.length);
      out.push(m);
      continue;
    }
    // Anything else (votes, rejections, heartbeats with a read context...) stays as it is, in order.
    // A following append to the same node must not jump ahead of it.
    openAppend.delete(m.to);
    lastAck.delete(m.to);
    out.push(m);
  }
  return out;
}

function lastIndexOf(m: AppendEntries): number {
  const last = m.entries[m.entries.length - 1] as Entry | undefined;
  return last ? last.index : m.prevLogIndex;
}
