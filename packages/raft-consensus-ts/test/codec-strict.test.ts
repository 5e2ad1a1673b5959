import { describe, expect, it } from 'vitest';
import {
  decodeConfigEntry,
  decodeMessage,
  encodeConfigEntry,
  encodeMessage,
  MalformedConfigEntryError,
  type Message,
} from '../src/index.js';

// The fuzz campaign of 12-02 found bytes the codec accepted that re-encode differently (unused flag
// bits) and memberships with an empty or repeated id. Each is refused now, naming what is wrong.

const vote: Message = {
  type: 'RequestVote',
  from: 'n1',
  to: 'n2',
  term: 3,
  lastLogIndex: 9,
  lastLogTerm: 2,
  preVote: true,
  transfer: false,
};

/** The message's bytes with its flags byte (the last byte of a RequestVote) or'ed with `bits`. */
function withFlagBits(m: Message, bits: number): Uint8Array {
  const bytes = encodeMessage(m).slice();
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) | bits;
  return bytes;
}

describe('the message codec refuses what it would not write', () => {
  it('accepts a message it wrote and gets the same bytes back', () => {
    const decoded = decodeMessage(encodeMessage(vote));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(encodeMessage(decoded.value)).toEqual(encodeMessage(vote));
  });

  it('refuses a flags byte with an unknown bit, as malformed', () => {
    const decoded = decodeMessage(withFlagBits(vote, 0x80));
    expect(decoded).toMatchObject({ ok: false, reason: 'malformed' });
    if (!decoded.ok) expect(decoded.error).toMatch(/flags has unknown bits set \(0x81\)/);
  });

  it('refuses a snapshot whose membership lists a node twice or an empty id', () => {
    const snap = (voters: string[]): Message => ({
      type: 'InstallSnapshot',
      from: 'n1',
      to: 'n2',
      term: 4,
      snapshot: {
        meta: { index: 10, term: 4, membership: { voters, learners: [] } },
        data: new Uint8Array(3),
      },
    });
    expect(decodeMessage(encodeMessage(snap(['n1', 'n2']))).ok).toBe(true);
    const twice = decodeMessage(encodeMessage(snap(['n1', 'n1'])));
    expect(twice).toMatchObject({ ok: false, reason: 'malformed' });
    if (!twice.ok) expect(twice.error).toMatch(/node "n1" is listed twice/);
    const empty = decodeMessage(encodeMessage(snap(['n1', ''])));
    expect(empty).toMatchObject({ ok: false, reason: 'malformed' });
    if (!empty.ok) expect(empty.error).toMatch(/a node id is empty/);
  });
});

describe('a config entry names each node once, by a non-empty id', () => {
  const entry = (voters: string[], learners: string[], node = 'n3') =>
    encodeConfigEntry({
      change: { type: 'addVoter', node },
      membership: { voters, learners },
    } as never);

  it('decodes a well-formed entry', () => {
    expect(decodeConfigEntry(entry(['n1', 'n3'], []), 7).membership.voters).toEqual(['n1', 'n3']);
  });

  it('refuses a node that is both voter and learner, naming the entry', () => {
    expect(() => decodeConfigEntry(entry(['n1', 'n3'], ['n3']), 7)).toThrow(
      MalformedConfigEntryError,
    );
    expect(() => decodeConfigEntry(entry(['n1', 'n3'], ['n3']), 7)).toThrow(
      /7.*listed twice|listed twice.*7/,
    );
  });

  it('refuses an empty id in the membership or the change', () => {
    expect(() => decodeConfigEntry(entry(['n1', ''], []), 7)).toThrow(/a node id is empty/);
    expect(() => decodeConfigEntry(entry(['n1'], [], ''), 7)).toThrow(/change.node is empty/);
  });
});
