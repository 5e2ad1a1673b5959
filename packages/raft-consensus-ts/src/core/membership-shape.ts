import type { Membership } from '../types.js';

/**
 * Why a decoded membership cannot be a configuration, or undefined. An empty id or a node listed
 * twice would make quorum arithmetic count a voter that cannot answer, or count one answer twice.
 */
export function membershipProblem(m: Membership): string | undefined {
  const seen = new Set<string>();
  for (const id of [...m.voters, ...m.learners]) {
    if (id.length === 0) return 'a node id is empty';
    if (seen.has(id)) return `node ${JSON.stringify(id)} is listed twice`;
    seen.add(id);
  }
  return undefined;
}
