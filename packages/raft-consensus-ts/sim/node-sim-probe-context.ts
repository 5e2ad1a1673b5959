/** What a probe (node-sim-probes.ts, node-sim-reconfig.ts) may see and do. */
import type { ConfigChange, NodeId } from '../src/types.js';
import type { Violation } from './node-sim-checks.js';
import type { SimNode } from './node-sim-state.js';
import type { SimNetwork } from './sim-network.js';
import type { Scheduler } from './sim-scheduler.js';

export interface ProbeContext {
  readonly sched: Scheduler;
  readonly net: SimNetwork;
  /** One election timeout (electionTicks × tickMs) and one heartbeat interval, in ms of a node's clock. */
  readonly electionMs: number;
  readonly heartbeatMs: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** The runtime snapshots after this many applied entries, and keeps up to 20 behind. */
  readonly snapshotEvery: number;
  /** Roughly how big the state machine's snapshot is. */
  readonly snapshotBytes: number;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  leader(): SimNode | undefined;
  fail(v: Violation): void;
  trace(line: string): void;
  /** Voters at bootstrap: the simulator removes only voters above this count. */
  readonly bootVoters: number;
  /**
   * A membership change through the simulator's own path: an added learner's
   * process is started on a fresh disk, a removed node is stopped and wiped.
   */
  changeMembership(leader: SimNode, change: ConfigChange): Promise<void>;
  /** Probes run, by name (stats). */
  readonly ran: Record<string, number>;
}

/** Sets up one situation, checks what must hold, then calls `done` (the network healed or as it found it). */
export type Probe = (c: ProbeContext, done: () => void) => void;
