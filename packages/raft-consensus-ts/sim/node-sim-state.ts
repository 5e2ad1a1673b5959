/** The node simulator's per-node state, its state machine, and the checks over all nodes. */
import type { RaftNode } from '../src/runtime/raft-node.js';
import type {
  Entry,
  InitialState,
  Membership,
  NodeId,
  Snapshot,
  StateMachine,
} from '../src/types.js';
import type { FaultyFs } from './faulty-fs.js';
import { type Invariants, type StorageHooks, Violation } from './node-sim-checks.js';
import type { Process } from './sim-scheduler.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface SimNode {
  readonly id: NodeId;
  bootstrap: Membership | undefined;
  fs: FaultyFs;
  incarnation: number;
  proc: Process | undefined;
  node: RaftNode | undefined;
  acked: StorageHooks['acked'];
  kv: Map<string, string>;
  applied: number;
  /** A bit was flipped in its synced data: the next load must refuse, or see what the clean image holds. */
  flipOracle: Promise<InitialState | Error> | undefined;
  /** Its disk was found corrupt: it stays down (an operator would wipe and re-add it). */
  diskDead: boolean;
  /** Removed from the configuration and wiped; may be added again. */
  removed: boolean;
}

export function simStateMachine(
  n: SimNode,
  inv: Invariants,
  fail: (v: unknown) => void,
  padBytes: number,
): StateMachine {
  return {
    apply: (e: Entry) => {
      try {
        inv.apply(n.id, e, n.node?.status().term ?? n.acked.hardState.term);
      } catch (v) {
        fail(v);
      }
      // The runtime hands the state machine normal entries only (no-ops and config entries are its own).
      if (e.index <= n.applied)
        fail(new Violation(`${n.id} applied ${e.index} after ${n.applied}`));
      n.applied = e.index;
      const cmd = JSON.parse(dec.decode(e.data)) as {
        key?: string;
        value?: string;
        marker?: number;
      };
      if (cmd.key !== undefined && cmd.value !== undefined) n.kv.set(cmd.key, cmd.value);
      return undefined;
    },
    snapshot: () => enc.encode(JSON.stringify({ kv: [...n.kv], pad: 'p'.repeat(padBytes) })),
    restore: (s: Snapshot) => {
      n.kv = new Map((JSON.parse(dec.decode(s.data)) as { kv: [string, string][] }).kv);
      n.applied = s.meta.index;
    },
  };
}

export function converged(nodes: Map<NodeId, SimNode>, l: SimNode | undefined): string | undefined {
  if (l?.node === undefined) return 'no leader';
  const s = l.node.status();
  const members = [...s.membership.voters, ...s.membership.learners];
  for (const id of members) {
    const n = nodes.get(id) as SimNode;
    if (n.diskDead) continue;
    if (n.node === undefined) return `${id} is not running`;
    const applied = n.node.status().appliedIndex;
    if (applied < s.commitIndex) return `${id} applied ${applied} of ${s.commitIndex}`;
    if (JSON.stringify([...n.kv].sort()) !== JSON.stringify([...l.kv].sort()))
      return `${id} state differs from ${l.id}`;
  }
  return undefined;
}

/**
 * Raft's safety rests on every committed entry being durable on a majority
 * (acknowledgements follow fsyncs). Checked at each power loss while the
 * membership is the bootstrap one and no disk was lost to corruption.
 */
export function checkDurableMajority(nodes: Map<NodeId, SimNode>, inv: Invariants): void {
  const voters = [...nodes.values()].filter((n) => n.bootstrap !== undefined);
  const majority = Math.floor(voters.length / 2) + 1;
  for (const [index, c] of inv.committed) {
    const holders = voters.filter(
      (n) => n.acked.log.base >= index || n.acked.log.at(index) === c.term,
    ).length;
    if (holders < majority)
      throw new Violation(
        `durability: committed entry ${index} is durable on ${holders} of ${voters.length} voters`,
      );
  }
}
