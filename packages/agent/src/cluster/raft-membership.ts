/**
 * A voter's Raft node: storage (a file WAL under `<dataDir>/raft`), the NATS
 * transport, the replicated state as its state machine, and the changes of
 * the voter set an operator asks for (remove a lost voter, add a new one).
 */
import { join } from 'node:path';
import type { ClusterState } from '@coxswain/control';
import type { AgentConfig, Subjects } from '@coxswain/protocol';
import type { Logger } from '@coxswain/telemetry';
import type { NatsConnection } from 'nats';
import {
  type Entry,
  FileStorage,
  LearnerNotCaughtUpError,
  RaftNode,
  type RaftTransport,
  type Snapshot,
  type StateMachine,
} from 'raft-consensus-ts';
import { NatsTransport } from 'raft-consensus-ts/nats';

export interface RaftTuning {
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEvery?: number;
  /** Tests wrap the NATS transport (to cut links). */
  readonly wrapTransport?: (transport: RaftTransport) => RaftTransport;
}

export interface StartRaftOptions {
  readonly config: AgentConfig;
  readonly subjects: Subjects;
  readonly raftNc: NatsConnection;
  readonly state: ClusterState;
  readonly log: Logger;
  readonly tuning?: RaftTuning | undefined;
  readonly onRejected?: ((subject: string, reason: string) => void) | undefined;
}

export async function startRaftNode(o: StartRaftOptions): Promise<RaftNode> {
  const { config, subjects, state } = o;
  const sm: StateMachine = {
    apply: (entry: Entry) => state.applyEntry(entry),
    snapshot: () => state.snapshot(),
    restore: (snapshot: Snapshot) => state.restore(snapshot.data),
  };
  const natsTransport = new NatsTransport({
    connection: o.raftNc,
    nodeId: config.nodeId,
    subjectPrefix: `${subjects.prefix}.raft`,
    onDrop: (reason) => o.onRejected?.(`${subjects.prefix}.raft.${config.nodeId}`, reason),
  });
  const tuning = o.tuning;
  const transport = tuning?.wrapTransport ? tuning.wrapTransport(natsTransport) : natsTransport;
  return RaftNode.start({
    id: config.nodeId,
    storage: new FileStorage({ dir: join(config.dataDir, 'raft') }),
    transport,
    stateMachine: sm,
    // A joining node learns the membership from the leader's config entries;
    // bootstrapping it would make it a rival group of its own.
    ...(config.join ? {} : { bootstrap: { voters: [...config.voters], learners: [] } }),
    ...(tuning?.tickMs !== undefined ? { tickMs: tuning.tickMs } : {}),
    ...(tuning?.electionTicks !== undefined
      ? { config: { electionTicks: tuning.electionTicks } }
      : {}),
    ...(tuning?.snapshotEvery !== undefined ? { snapshotEvery: tuning.snapshotEvery } : {}),
    onError: (error) => o.log.error('raft failure', { error }),
  });
}

export type AddVoterResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string };

/** How long a new voter may take to catch up as a learner before promotion gives up. */
const PROMOTE_WITHIN_MS = 20_000;

export class VoterChanges {
  readonly #raft: RaftNode;
  readonly #nodeId: string;
  readonly #log: Logger;

  constructor(raft: RaftNode, nodeId: string, log: Logger) {
    this.#raft = raft;
    this.#nodeId = nodeId;
    this.#log = log;
  }

  /**
   * A voter declared removed for good leaves the Raft group too, so the quorum
   * is counted over the voters that still exist (a lost voter otherwise counts
   * against every future majority). One change at a time, as the core requires.
   */
  async drop(nodeId: string): Promise<void> {
    const membership = this.#raft.status().membership;
    if (!membership.voters.includes(nodeId) && !membership.learners.includes(nodeId)) return;
    // A leader removing itself is left to an operator asking another node.
    if (nodeId === this.#nodeId) return;
    await this.#raft.changeMembership({ type: 'removeNode', node: nodeId });
    this.#log.info('removed from the Raft group', { nodeId });
  }

  /**
   * Adds a node as a learner first so it catches up without counting toward
   * quorum, then promotes it; the core refuses promotion until the learner is
   * close to the leader's log, so promotion is retried for a bounded time.
   */
  async add(nodeId: string): Promise<AddVoterResult> {
    const raft = this.#raft;
    const membership = raft.status().membership;
    if (membership.voters.includes(nodeId)) return { ok: true };
    if (!membership.learners.includes(nodeId)) {
      await raft.changeMembership({ type: 'addLearner', node: nodeId });
    }
    const deadline = Date.now() + PROMOTE_WITHIN_MS;
    for (;;) {
      try {
        await raft.changeMembership({ type: 'promoteLearner', node: nodeId });
        this.#log.info('added to the Raft group as a voter', { nodeId });
        return { ok: true };
      } catch (error) {
        if (!(error instanceof LearnerNotCaughtUpError)) throw error;
        if (Date.now() >= deadline) {
          return {
            ok: false,
            message: `node ${nodeId} is a learner but did not catch up within 20 s; is it running with join?`,
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
