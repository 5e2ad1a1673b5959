/**
 * What the leader's coordinator reports as it works: Raft commit latency,
 * command round trips and results, decision durations and outcomes (the
 * histograms and counters of deploy/prometheus/METRICS.md), and each
 * operation's decision record into the decision log.
 */
import type { ScaleReply } from '@coxswain/protocol';
import type { Counter, Histogram, MetricsRegistry } from '@coxswain/telemetry';
import { type DecisionContext, DecisionLog } from './decision-log.js';

export type CommandResult = 'done' | 'failed' | 'refused' | 'abandoned' | 'timeout';

export function commandResultOf(reply: ScaleReply): CommandResult {
  if (reply.ok) return 'done';
  if (reply.code === 'COX_STALE_TOKEN' || reply.code === 'COX_WRONG_NODE') return 'refused';
  if (reply.code === 'COX_HEALTH_TIMEOUT') return 'timeout';
  return 'failed';
}

export class LeaderObserver {
  readonly decisions = new DecisionLog();
  readonly #commitLatency: Histogram;
  readonly #roundTrip: Histogram;
  readonly #commands: Counter;
  readonly #decisionDuration: Histogram;
  readonly #decisionsTotal: Counter;
  readonly #heal: Histogram;
  /** Services that had replicas on a node declared dead, with when it was declared (monotonic ms). */
  readonly #healing = new Map<string, number>();

  constructor(m: MetricsRegistry) {
    this.#commitLatency = m.histogram(
      'coxswain_raft_commit_latency_seconds',
      'On the leader: from proposing an entry to its commit.',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
    this.#roundTrip = m.histogram(
      'coxswain_command_round_trip_seconds',
      "On the leader: from sending a command to the agent's reply.",
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      ['action'],
    );
    this.#commands = m.counter(
      'coxswain_commands_total',
      'Commands the leader sent to agents, by how they ended.',
      ['action', 'result'],
    );
    this.#decisionDuration = m.histogram(
      'coxswain_decision_duration_seconds',
      "On the leader: one service's decision (forecast and policy), excluding the lock and commands.",
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      ['policy'],
    );
    this.#heal = m.histogram(
      'coxswain_heal_duration_seconds',
      "From a node declared dead to its replicas' replacements running and healthy (kind=node).",
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
      ['kind'],
    );
    this.#decisionsTotal = m.counter('coxswain_decisions_total', 'Decisions the leader made.', [
      'service',
      'outcome',
    ]);
  }

  /** A node was declared dead with replicas of these services on it: their replacement is timed. */
  nodeDead(services: readonly string[], nowMs: number): void {
    for (const s of services) if (!this.#healing.has(s)) this.#healing.set(s, nowMs);
  }

  committed(seconds: number): void {
    this.#commitLatency.observe(seconds);
  }

  commandEnded(seconds: number, result: CommandResult): void {
    this.#roundTrip.observe(seconds, { action: 'scale' });
    this.#commands.inc({ action: 'scale', result });
  }

  decided(policy: string, seconds: number): void {
    this.#decisionDuration.observe(seconds, { policy });
  }

  operationEnded(c: DecisionContext): void {
    const rec = this.decisions.record(c);
    this.#decisionsTotal.inc({ service: c.service, outcome: rec.outcome.status });
    const since = this.#healing.get(c.service);
    if (since !== undefined && c.outcome.status === 'done' && c.outcome.failed === 0) {
      // The agents reply once the replacements run and are healthy.
      this.#heal.observe((c.monoNowMs - since) / 1000, { kind: 'node' });
      this.#healing.delete(c.service);
    }
  }
}
