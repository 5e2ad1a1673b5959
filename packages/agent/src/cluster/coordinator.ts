/**
 * The leader-only scaling loop. While this node leads, every decide interval
 * (and soon after a report arrives, when it is poked) it runs the pure
 * `decide`, commits node registrations and deaths (a pass also runs when the
 * first alive node would pass nodeDeadAfter unheard, so a death is declared on
 * time, not up to a decide interval late), and starts one locked
 * operation per service that needs one (lock-protocol.ts). Operations on
 * different services run concurrently; one service never has two.
 *
 * Background work never throws into nowhere: each pass and each operation ends
 * in an outcome that goes to `onOutcome` (logged and counted by the member).
 */

import type { ClusterState, ServiceDecisionRecord, ServiceHistory } from '@coxswain/control';
import {
  type Committed,
  type DecideInput,
  decide,
  type LockedOutcome,
  type LockProtocolDeps,
  LogicalClock,
  nextDeathAtMs,
  type ObservedNode,
  type Operation,
  planService,
  type RegisteredPolicy,
  runLockedOperation,
} from '@coxswain/control';
import type { ClusterCommandInput, ScaleCommand, ScaleReply } from '@coxswain/protocol';
import type { Logger } from '@coxswain/telemetry';
import { withSpan } from '@coxswain/telemetry';
import { type Context, context, trace } from '@opentelemetry/api';
import { traceCommand, tracePlan, traceProposal, withReportContext } from './decision-tracing.js';
import { commandResultOf, type LeaderObserver } from './leader-observer.js';
import { NotLeaderRefusal } from './refusals.js';

const tracer = trace.getTracer('coxswain-coordinator');

export interface CoordinatorOptions {
  readonly nodeId: string;
  readonly state: ClusterState;
  readonly logger: Logger;
  propose(command: ClusterCommandInput): Promise<Committed>;
  /** Resolves once the local state has applied everything committed (Raft ReadIndex). */
  readIndex(): Promise<unknown>;
  send(nodeId: string, command: ScaleCommand, timeoutMs: number): Promise<ScaleReply>;
  observed(): ReadonlyMap<string, ObservedNode>;
  readonly history: ServiceHistory;
  /** Monotonic ms when this process began hearing reports. */
  readonly observingSinceMs: number;
  /** Overrides the replicated settings (tests, benchmarks). */
  readonly decideIntervalMs?: number;
  readonly lockLeaseMs?: number;
  readonly commandTimeoutMs?: number;
  /** The clock-skew bound command expiry allows for (lock-protocol.ts; default 500 ms). */
  readonly maxClockSkewMs?: number;
  /** How long after an operation a node's report must arrive before its counts are trusted again. */
  readonly reconcileGraceMs?: number;
  /** Smallest gap between two passes when poked by reports. */
  readonly minPassGapMs?: number;
  readonly policies?: ReadonlyMap<string, RegisteredPolicy>;
  /** Trace context of the report a decision about the service acts on: the operation continues its trace. */
  traceParent?(service: string): Context | undefined;
  /** What the service's policy saw and said in its latest decision, for the decide span's attributes. */
  decisionInputs?(service: string): ServiceDecisionRecord | undefined;
  onOutcome?(service: string, outcome: LockedOutcome): void;
  onNodeChange?(nodeId: string, change: 'registered' | 'dead'): void;
  /** Metrics and the decision log (leader-observer.ts). */
  readonly observer?: LeaderObserver;
}

export class Coordinator {
  readonly #o: CoordinatorOptions;
  #term = 0;
  #leading = false;
  #clock: LogicalClock | undefined;
  #timer: NodeJS.Timeout | undefined;
  #passing: Promise<void> | undefined;
  #lastPassMono = Number.NEGATIVE_INFINITY;
  #pokeQueued = false;
  readonly #busy = new Set<string>();
  readonly #settledAtMs = new Map<string, number>();
  readonly #operations = new Set<Promise<unknown>>();
  /** Passes run and decisions made, for /metrics and the throughput benchmark. */
  readonly counters = { passes: 0, operations: 0, failedPasses: 0 };

  constructor(options: CoordinatorOptions) {
    this.#o = options;
  }

  get leading(): boolean {
    return this.#leading;
  }
  get term(): number {
    return this.#term;
  }
  busy(service: string): boolean {
    return this.#busy.has(service);
  }

  /** Begins leading in `term`: waits until the local state is current, then starts the loop. */
  async lead(term: number): Promise<void> {
    this.#term = term;
    this.#leading = true;
    // No clock until the state is confirmed: a clock left from an earlier term would let a report's
    // poke or a manual write start an operation before the readIndex, with times that run ahead of
    // this term's clock (the replicated clock loses each takeover's gap): partition-leader's
    // command log showed two operations overlapping that never did.
    this.#clock = undefined;
    try {
      await this.#o.readIndex();
    } catch (error) {
      this.#o.logger.warn('leader could not confirm its state; not leading', { term, error });
      this.#leading = false;
      return;
    }
    if (!this.#leading || this.#term !== term) return;
    this.#clock = new LogicalClock(this.#o.state.clockMs, () => performance.now());
    this.#o.logger.info('coordinator leading', { term, clockMs: this.#o.state.clockMs });
    this.#schedule(0);
  }

  /** Stops issuing new operations; running ones end at their next proposal (no longer leader). */
  stop(): void {
    this.#leading = false;
    this.#clock = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Waits for running operations and the current pass (used on shutdown and in tests). */
  async idle(): Promise<void> {
    await this.#passing;
    await Promise.allSettled([...this.#operations]);
  }

  /** A report arrived: run a pass soon, not waiting for the full interval. */
  poke(): void {
    if (!this.#leading || this.#pokeQueued || !this.#clock) return;
    const gap = this.#o.minPassGapMs ?? 50;
    const wait = Math.max(0, this.#lastPassMono + gap - performance.now());
    this.#pokeQueued = true;
    this.#schedule(wait);
  }

  #interval(): number {
    return this.#o.decideIntervalMs ?? this.#o.state.settings.decideIntervalMs;
  }

  /** The decide interval, or less when an alive node's dead-after ends sooner. */
  #nextPassDelayMs(): number {
    const alive: string[] = [];
    for (const [id, n] of this.#o.state.nodes()) if (n.state === 'alive') alive.push(id);
    const deathAt = nextDeathAtMs(
      alive,
      this.#o.observed(),
      this.#o.observingSinceMs,
      this.#o.state.settings.nodeDeadAfterMs,
    );
    const interval = this.#interval();
    if (deathAt === undefined) return interval;
    // 1 ms past the deadline (decide declares a node dead only once strictly past it); never
    // sooner than the poke gap, so a declaration that cannot commit does not spin the loop.
    const gap = this.#o.minPassGapMs ?? 50;
    return Math.min(interval, Math.max(gap, deathAt + 1 - performance.now()));
  }

  #schedule(delayMs: number): void {
    if (!this.#leading) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pokeQueued = false;
      if (this.#passing) {
        // A pass is running: run again right after it.
        void this.#passing.then(() => this.#schedule(0));
        return;
      }
      this.#passing = this.pass().finally(() => {
        this.#passing = undefined;
        if (!this.#pokeQueued) this.#schedule(this.#nextPassDelayMs());
      });
    }, delayMs);
  }

  #input(nowMs: number): DecideInput {
    return {
      state: this.#o.state,
      observed: this.#o.observed(),
      history: this.#o.history.all(),
      settledAtMs: this.#settledAtMs,
      busy: this.#busy,
      nowMs,
      logicalNowMs: this.#clock?.now() ?? this.#o.state.clockMs,
      term: this.#term,
      observingSinceMs: this.#o.observingSinceMs,
      reconcileGraceMs: this.#o.reconcileGraceMs ?? 300,
      ...(this.#o.policies ? { policies: this.#o.policies } : {}),
    };
  }

  #lockDeps(): LockProtocolDeps {
    return {
      nodeId: this.#o.nodeId,
      term: this.#term,
      state: this.#o.state,
      clock: this.#clock!,
      leaseMs: this.#o.lockLeaseMs ?? this.#o.state.settings.lockLeaseMs,
      propose: (c) => traceProposal(c, () => this.#timedPropose(c)),
      send: (n, c, t) => traceCommand(n, c, () => this.#timedSend(n, c, t)),
      commandTimeoutMs: this.#o.commandTimeoutMs ?? 10_000,
      ...(this.#o.maxClockSkewMs !== undefined ? { maxClockSkewMs: this.#o.maxClockSkewMs } : {}),
      mono: () => performance.now(),
      epochNow: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    };
  }

  async #timedPropose(command: ClusterCommandInput): Promise<Committed> {
    const started = performance.now();
    const committed = await this.#o.propose(command);
    this.#o.observer?.committed((performance.now() - started) / 1000);
    return committed;
  }

  async #timedSend(nodeId: string, command: ScaleCommand, timeoutMs: number): Promise<ScaleReply> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const reply = await this.#o.send(nodeId, command, timeoutMs);
      this.#o.observer?.commandEnded(seconds(), commandResultOf(reply));
      return reply;
    } catch (error) {
      this.#o.observer?.commandEnded(seconds(), this.#leading ? 'timeout' : 'abandoned');
      throw error;
    }
  }

  /** Plans one service under its lock, timing the decision and keeping what it decided. */
  #plan(
    service: string,
    manualReplicas: number | null | undefined,
    keep: (op: Operation | undefined) => void,
  ) {
    return tracePlan(
      service,
      () => {
        const started = performance.now();
        const op = planService(this.#input(performance.now()), service, manualReplicas);
        const policy = this.#o.state.service(service)?.spec.policy.name ?? 'unknown';
        this.#o.observer?.decided(policy, (performance.now() - started) / 1000);
        keep(op);
        return op;
      },
      this.#o.decisionInputs,
    );
  }

  #recordOutcome(
    service: string,
    manualReplicas: number | null | undefined,
    before: number,
    op: Operation | undefined,
    outcome: LockedOutcome,
    traceId: string | undefined,
  ): void {
    const observer = this.#o.observer;
    if (!observer) return;
    const record = this.#o.state.service(service);
    const spec = record?.spec;
    const pinned = manualReplicas !== undefined ? manualReplicas : (record?.manualReplicas ?? null);
    observer.operationEnded({
      service,
      term: this.#term,
      leaderId: this.#o.nodeId,
      policy: spec?.policy.name ?? 'unknown',
      currentReplicas: before,
      minReplicas: spec?.minReplicas ?? 0,
      maxReplicas: spec?.maxReplicas ?? 0,
      manualReplicas: pinned,
      record: this.#o.decisionInputs?.(service),
      operation: op,
      outcome,
      traceId,
      atEpochMs: Date.now(),
      monoNowMs: performance.now(),
    });
  }

  /** One decision pass. Never throws. */
  async pass(): Promise<void> {
    if (!this.#leading || !this.#clock) return;
    this.#lastPassMono = performance.now();
    this.counters.passes += 1;
    try {
      const decision = decide(this.#input(performance.now()));
      const at = this.#clock.now();
      const changes: Promise<unknown>[] = [];
      for (const node of decision.register) {
        changes.push(
          this.#o
            .propose({ type: 'node.register', at, node })
            .then(() => this.#o.onNodeChange?.(node.id, 'registered')),
        );
      }
      for (const nodeId of decision.dead) {
        const onIt = [...this.#o.state.services()]
          .filter(([, r]) => (r.placement[nodeId] ?? 0) > 0)
          .map(([name]) => name);
        this.#o.observer?.nodeDead(onIt, performance.now());
        changes.push(
          this.#o
            .propose({ type: 'node.declare', at, nodeId, state: 'dead' })
            .then(() => this.#o.onNodeChange?.(nodeId, 'dead')),
        );
      }
      // Nodes first: a placement may name a node registered in this pass.
      await Promise.all(changes);
      if (changes.length > 0) {
        // Re-decide on the state with those nodes in it.
        for (const op of decide(this.#input(performance.now())).operations)
          void this.#start(op.service);
      } else {
        for (const op of decision.operations) void this.#start(op.service);
      }
    } catch (error) {
      this.counters.failedPasses += 1;
      this.#o.logger.warn('decision pass failed', { error, term: this.#term });
    }
  }

  #start(service: string, manual?: ManualWrite): Promise<LockedOutcome> | undefined {
    const manualReplicas = manual?.replicas;
    if (!this.#leading || !this.#clock || this.#busy.has(service)) return undefined;
    this.#busy.add(service);
    this.counters.operations += 1;
    // A manual scale continues its API request's trace; a policy decision the latest report's.
    const parent = manualReplicas === undefined ? this.#o.traceParent?.(service) : context.active();
    const run = withReportContext(parent, () =>
      withSpan(
        tracer,
        'coxswain.scale_operation',
        { 'coxswain.service': service, 'coxswain.term': this.#term },
        async (span) => {
          const before = this.#o.state.service(service)?.desiredReplicas ?? 0;
          let op: Operation | undefined;
          const outcome = await runLockedOperation(
            this.#lockDeps(),
            service,
            () => this.#plan(service, manualReplicas, (o) => (op = o)),
            manual === undefined
              ? {}
              : {
                  manualReplicas: manual.replicas,
                  ...(manual.seq !== undefined ? { manualSeq: manual.seq } : {}),
                  ...(manual.key !== undefined ? { key: manual.key } : {}),
                  ...(manual.notAfterMono !== undefined
                    ? { notAfterMono: manual.notAfterMono }
                    : {}),
                },
          );
          const traceId = span.spanContext().traceId;
          this.#recordOutcome(service, manualReplicas, before, op, outcome, traceId);
          span.setAttribute('coxswain.outcome', outcome.status);
          if ('token' in outcome && outcome.token !== undefined)
            span.setAttribute('coxswain.token', outcome.token);
          return outcome;
        },
      ),
    ).then(
      (outcome) => {
        this.#o.onOutcome?.(service, outcome);
        return outcome;
      },
      (error: unknown): LockedOutcome => {
        const outcome: LockedOutcome = { status: 'aborted', error };
        this.#o.onOutcome?.(service, outcome);
        return outcome;
      },
    );
    const tracked = run.finally(() => {
      this.#busy.delete(service);
      this.#settledAtMs.set(service, performance.now());
      this.#operations.delete(tracked);
      // A pass that ran meanwhile skipped this service (a node may have died since): decide it now,
      // not at the next interval. A new leader's first operation often names a host just killed and
      // ends only at its death; the re-placement then waited up to a second for the next pass.
      this.poke();
    });
    this.#operations.add(tracked);
    return run;
  }

  /**
   * `coxswain service scale`: sets (or with null, clears) the manual override
   * under the service's lock, like any other change. Waits for an operation of
   * this leader on the service to finish first (a previous term's lock is taken
   * over at once), and starts nothing after `manual.notAfterMono`: its caller
   * has stopped waiting, and a write answered with a timeout must not start late.
   */
  async manualScale(service: string, manual: ManualWrite): Promise<LockedOutcome> {
    const spec = this.#o.state.service(service)?.spec;
    if (spec && manual.replicas !== null) {
      const issue = scaleLimitIssue(manual.replicas, spec.maxReplicas);
      if (issue)
        return { status: 'refused', code: 'COX_INVALID_PAYLOAD', message: `replicas ${issue}` };
    }
    const deadline = manual.notAfterMono ?? performance.now() + 30_000;
    const write = { ...manual, notAfterMono: deadline };
    for (;;) {
      if (!this.#leading || !this.#clock)
        return {
          status: 'aborted',
          error: new NotLeaderRefusal(null, 'this node stopped leading'),
        };
      if (performance.now() >= deadline) return { status: 'expired' };
      const started = this.#busy.has(service) ? undefined : this.#start(service, write);
      if (started) {
        const outcome = await started;
        if (outcome.status !== 'lock-held') return outcome;
      }
      await Promise.race([...this.#operations, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
  }
}

/**
 * Why a manual replica count is refused, or undefined when it is accepted: never
 * more than maxReplicas. Below minReplicas is allowed (an operator's override
 * holds against the policy, down to 0).
 */
export function scaleLimitIssue(replicas: number, max: number): string | undefined {
  return replicas > max ? `must be at most maxReplicas (${max}); got ${replicas}` : undefined;
}

/** A manual scale from the API: the count, and what orders and bounds the write. */
export interface ManualWrite {
  readonly replicas: number | null;
  /** The override's order (the leader's commit index when it accepted the request). */
  readonly seq?: number;
  readonly key?: string;
  /** Monotonic ms after which nothing of the write may start. */
  readonly notAfterMono?: number;
}
