/** The node simulator's clients: writes through propose, reads through readIndex, on any live node. */
import type { Prng } from '../src/core/prng.js';
import { RaftError } from '../src/errors.js';
import type { RaftNode } from '../src/runtime/raft-node.js';
import type { Operation, RegisterInput, RegisterOutput } from './linearizability.js';
import { Violation } from './node-sim-checks.js';
import type { Process, Scheduler } from './sim-scheduler.js';

export interface ClientTarget {
  readonly id: string;
  readonly node: RaftNode | undefined;
  readonly proc: Process | undefined;
  readonly kv: Map<string, string>;
}

export interface ClientOp {
  readonly id: number;
  readonly client: number;
  readonly node: string;
  readonly proc: Process;
  readonly input: RegisterInput;
  readonly call: number;
  readonly startedAt: number;
  ret?: number;
  output?: RegisterOutput;
  settledAt?: number;
  /** 'ok', 'failed' (certainly not applied), 'unknown'. */
  outcome?: 'ok' | 'failed' | 'unknown';
}

export interface ClientDeps {
  readonly sched: Scheduler;
  readonly rng: Prng;
  readonly live: () => ClientTarget[];
  readonly fail: (v: unknown) => void;
  /** Whether clients keep issuing operations. */
  readonly keepGoing: () => boolean;
  readonly checkReadLiveness: boolean;
}

const enc = new TextEncoder();

export class Clients {
  readonly ops: ClientOp[] = [];
  operations = 0;
  private clock = 0;
  private nextValue = 1;

  constructor(private readonly deps: ClientDeps) {}

  client(c: number): void {
    const live = this.deps.live();
    const n = live[this.deps.rng.int(0, live.length)];
    if (n?.node === undefined || n.proc === undefined) {
      this.deps.sched.after(20, undefined, () => this.client(c));
      return;
    }
    const key = this.deps.rng.next() < 0.5 ? 'x' : 'y';
    const input: RegisterInput =
      this.deps.rng.next() < 0.55
        ? { key, kind: 'write', value: `v${this.nextValue++}` }
        : { key, kind: 'read' };
    const op: ClientOp = {
      id: this.ops.length + 1,
      client: c,
      node: n.id,
      proc: n.proc,
      input,
      call: ++this.clock,
      startedAt: this.deps.sched.now,
    };
    this.ops.push(op);
    this.operations++;
    const next = (): void => {
      if (this.deps.keepGoing())
        this.deps.sched.after(this.deps.rng.int(0, 30), undefined, () => this.client(c));
    };
    const settle = (outcome: ClientOp['outcome'], output?: RegisterOutput): void => {
      op.outcome = outcome;
      op.settledAt = this.deps.sched.now;
      if (outcome === 'ok') {
        op.ret = ++this.clock;
        op.output = output ?? null;
      }
      next();
    };
    const failed = (err: unknown): void => {
      if (!(err instanceof RaftError)) {
        this.deps.fail(new Violation(`untyped error from ${n.id}: ${String(err)}`));
        return;
      }
      const certain =
        err.code === 'RAFT_NOT_LEADER' ||
        err.code === 'RAFT_TRANSFER_IN_PROGRESS' ||
        (err.code === 'RAFT_PROPOSAL_DROPPED' && !err.message.includes('outcome unknown'));
      settle(input.kind === 'read' || certain ? 'failed' : 'unknown');
    };
    const node = n.node;
    if (input.kind === 'write') {
      node
        .propose(enc.encode(JSON.stringify({ key, value: input.value })))
        .then(() => settle('ok'), failed);
    } else {
      node.readIndex().then(() => settle('ok', n.kv.get(key) ?? null), failed);
    }
  }

  history(): Operation<RegisterInput, RegisterOutput>[] {
    const out: Operation<RegisterInput, RegisterOutput>[] = [];
    for (const op of this.ops) {
      if (op.outcome === 'failed') continue;
      if (op.outcome === 'ok')
        out.push({
          call: op.call,
          ret: op.ret as number,
          input: op.input,
          output: op.output,
          client: op.client,
        });
      else if (op.input.kind === 'write')
        out.push({
          call: op.call,
          ret: Number.POSITIVE_INFINITY,
          input: op.input,
          output: undefined,
          client: op.client,
        });
    }
    return out;
  }

  /** Pending operations on processes still running (a crashed process's callers saw the connection drop). */
  pendingOps(): ClientOp[] {
    const reads = this.deps.checkReadLiveness;
    return this.ops.filter(
      (o) => o.outcome === undefined && o.proc.alive && (reads || o.input.kind === 'write'),
    );
  }
}
