import { defaultConfig } from '../src/core/default-config.js';
import { RaftCore } from '../src/core/raft-core.js';
import type {
  Entry,
  HardState,
  Membership,
  Message,
  RaftConfig,
  Ready,
  Snapshot,
} from '../src/types.js';

/**
 * A synchronous, lossless in-memory cluster for unit tests of the core: each
 * node's Ready is "persisted" into arrays, messages queue until delivered, and
 * the test decides what gets delivered or dropped.
 */
export interface TestNode {
  core: RaftCore;
  hardState: HardState;
  log: Entry[];
  snapshot?: Snapshot;
  applied: Entry[];
  readStates: { requestId: string; index: number }[];
  events: Ready['events'][number][];
}

export class TestCluster {
  readonly nodes = new Map<string, TestNode>();
  queue: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;

  constructor(
    ids: string[],
    overrides: Partial<Omit<RaftConfig, 'id'>> = {},
    membership?: Membership,
  ) {
    const bootstrap = membership ?? { voters: ids, learners: [] };
    for (const id of ids) this.add(id, overrides, bootstrap);
  }

  add(
    id: string,
    overrides: Partial<Omit<RaftConfig, 'id'>> = {},
    bootstrap?: Membership,
  ): TestNode {
    const core = new RaftCore(
      defaultConfig(id, { preVote: false, checkQuorum: false, ...overrides }),
      {
        hardState: { term: 0, vote: null, commit: 0 },
        entries: [],
        ...(bootstrap === undefined ? {} : { bootstrap }),
      },
    );
    const node: TestNode = {
      core,
      hardState: { term: 0, vote: null, commit: 0 },
      log: [],
      applied: [],
      readStates: [],
      events: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: string): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: string): RaftCore {
    return this.node(id).core;
  }

  /** Drains every node's Ready into its arrays and the queue. */
  flush(): void {
    for (const node of this.nodes.values()) {
      while (node.core.hasReady()) {
        const rd = node.core.ready();
        if (rd.snapshot !== undefined) {
          node.snapshot = rd.snapshot;
          node.log = [];
        }
        if (rd.entries.length > 0) {
          const first = (rd.entries[0] as Entry).index;
          node.log = node.log.filter((e) => e.index < first).concat(rd.entries);
        }
        if (rd.hardState !== undefined) node.hardState = rd.hardState;
        for (const m of rd.messages) if (this.filter(m)) this.queue.push(m);
        node.applied.push(...rd.committedEntries);
        node.readStates.push(...rd.readStates);
        node.events.push(...rd.events);
        node.core.advance(rd);
      }
    }
  }

  /** Delivers queued messages (and their consequences) until the network is quiet. */
  deliverAll(limit = 10_000): void {
    this.flush();
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > limit) throw new Error('message storm');
      const m = this.queue.shift() as Message;
      const target = this.nodes.get(m.to);
      if (target !== undefined) target.core.step(m);
      this.flush();
    }
  }

  tick(id: string, times = 1): void {
    for (let i = 0; i < times; i++) this.core(id).tick();
    this.flush();
  }

  /** Ticks `id` until it starts an election, then settles the network. */
  elect(id: string): void {
    const core = this.core(id);
    for (let i = 0; i < 100 && core.status().role !== 'leader'; i++) {
      core.tick();
      this.deliverAll();
    }
    if (core.status().role !== 'leader') throw new Error(`${id} did not become leader`);
  }

  take(type: Message['type']): Message[] {
    const taken = this.queue.filter((m) => m.type === type);
    this.queue = this.queue.filter((m) => m.type !== type);
    return taken;
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
