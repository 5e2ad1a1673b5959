/**
 * The adapter between the coordinator's policy registry (`RegisteredPolicy`:
 * stateless `(history, state, rawParams) → decision`) and @coxswain/forecast's
 * stateful runners (predictive, hpa, threshold, score).
 *
 * One runner per service, kept across decisions: the predictive policy's
 * forecaster learns from every report and must not start cold each pass. A
 * runner is dropped when its service is deleted or gone, or when the service's
 * policy (name or params) changes. The history is the leader's own per-service
 * samples (node-liveness.ts), in the leader's monotonic milliseconds.
 *
 * The predictive policy provisions for a lead time: where the service's replicas
 * were seen to start (the executors' `durationMs` of commands that started
 * replicas: create, start and health wait), that measured time is the lead
 * time, unless the spec sets `leadTimeSeconds` itself; before the first
 * measurement the policy's own default (60 s) applies. The samples come from
 * the replicated state (`ServiceRecord.startDurationsMs`, committed with each
 * command's result), so a new leader uses what its predecessors measured;
 * replies this adapter saw itself fill in only where the state has none.
 *
 * Bad params never stop the leader: the service keeps its current count, the
 * reason says why, and the error is counted and reported once per spec.
 */
import {
  createPolicyRunner,
  isPolicyName,
  POLICY_NAMES,
  type PolicyObservation,
  type PolicyRunner,
} from '@coxswain/forecast';
import type { ScaleReply, ServiceRecord } from '@coxswain/protocol';
import { UnknownPolicyError } from './errors.js';
import {
  DEFAULT_POLICIES,
  type PolicyInput,
  type PolicyOutcome,
  type RegisteredPolicy,
  type ServiceSample,
  toObservation,
} from './policy-registry.js';

/** What the adapter reads of the replicated state: a service's record, to drop runners of deleted services. */
export interface ServiceLookup {
  service(name: string): ServiceRecord | undefined;
  services(): ReadonlyMap<string, ServiceRecord>;
}

/** The last decision made for a service, with what it was made from: for spans, the API and tests. */
export interface ServiceDecisionRecord {
  readonly service: string;
  readonly policy: string;
  readonly nowMs: number;
  readonly desiredReplicas: number;
  readonly reason: string;
  readonly predictedRequestRatePerSecond?: number;
  readonly standbyReplicas?: number;
  /** The newest sample the decision saw. */
  readonly latest?: ServiceSample;
  readonly samples: number;
  readonly currentReplicas: number;
  /** The lead time given to the predictive policy, when it was this adapter's to choose. */
  readonly leadTimeSeconds?: number;
  /** Wall-clock ms of the decision, for figures shown to people. */
  readonly atEpochMs: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** The runner that made it: a replaced runner's answer is never reused. */
  readonly runner: PolicyRunner;
}

export interface PolicyFailure {
  readonly service: string;
  readonly policy: string;
  readonly code: string;
  readonly message: string;
}

export interface ForecastPoliciesOptions {
  /** The replicated state: runners of services deleted or gone are dropped. */
  readonly services?: ServiceLookup;
  /** The cluster's decide interval in ms, given to the predictive policy unless its params set one. */
  readonly decideIntervalMs?: () => number;
  /** Called once per bad spec (not per pass), after the failure is counted. */
  readonly onInvalid?: (failure: PolicyFailure) => void;
  /** Start-to-ready samples kept per service for the lead time (median). */
  readonly leadTimeSamples?: number;
  /** Wall-clock ms, for the decision records' `atEpochMs` (this core reads no clock itself). */
  readonly now: () => number;
}

interface RunnerEntry {
  readonly key: string;
  readonly runner: PolicyRunner;
  readonly leadTimeSeconds: number | undefined;
  readonly decisionIntervalSeconds: number | undefined;
}

interface FailedEntry {
  readonly key: string;
  readonly reason: string;
}

const DEFAULT_LEAD_SAMPLES = 20;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * A lead time changes the predictive policy's forecast horizons, which are
 * fixed when its state is made; replacing the runner throws its learned state
 * away, so only a material change (half again, or half, and at least 5 s)
 * replaces it.
 */
function materiallyDifferent(a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || b === undefined) return a !== b;
  const diff = Math.abs(a - b);
  return diff >= 5 && diff >= 0.5 * Math.min(a, b);
}

export class ForecastPolicies {
  readonly #o: ForecastPoliciesOptions;
  readonly #runners = new Map<string, RunnerEntry>();
  readonly #failed = new Map<string, FailedEntry>();
  readonly #last = new Map<string, ServiceDecisionRecord>();
  readonly #startTimesMs = new Map<string, number[]>();
  readonly #mapped = new Map<string, PolicyObservation[]>();
  #lastSweepNowMs = Number.NaN;
  /** Specs whose policy could not be made (unknown name, bad params), for /metrics. */
  invalidSpecs = 0;

  constructor(options: ForecastPoliciesOptions) {
    this.#o = options;
  }

  /** The registry for the coordinator: the forecast policies by name, plus the built-in target-tracking. */
  registry(): ReadonlyMap<string, RegisteredPolicy> {
    const out = new Map<string, RegisteredPolicy>(DEFAULT_POLICIES);
    for (const name of POLICY_NAMES) out.set(name, (h, s, p) => this.decide(name, h, s, p));
    return out;
  }

  /** Learns the service's start-to-ready time from an executor's reply to a command that started replicas. */
  observeReply(service: string, reply: ScaleReply): void {
    if (!reply.ok || reply.started === 0) return;
    const list = this.#startTimesMs.get(service) ?? [];
    list.push(reply.durationMs);
    if (list.length > (this.#o.leadTimeSamples ?? DEFAULT_LEAD_SAMPLES)) list.shift();
    this.#startTimesMs.set(service, list);
  }

  /** Median measured start-to-ready time of the service's replicas, in seconds; undefined before any. */
  measuredLeadTimeSeconds(service: string): number | undefined {
    const replicated = this.#o.services?.service(service)?.startDurationsMs;
    const list = replicated && replicated.length > 0 ? replicated : this.#startTimesMs.get(service);
    if (!list || list.length === 0) return undefined;
    return Math.ceil(median(list) / 100) / 10;
  }

  lastDecision(service: string): ServiceDecisionRecord | undefined {
    return this.#last.get(service);
  }

  /** Every service's latest forecast of its request rate (req/s), for the reports' ninth figure. */
  predictedRates(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, d] of this.#last)
      if (d.predictedRequestRatePerSecond !== undefined)
        out.set(name, d.predictedRequestRatePerSecond);
    return out;
  }

  /** Services with a live runner (tests). */
  runnerCount(): number {
    return this.#runners.size;
  }

  /** Drops everything kept for `service` (its runner, measurements, last decision). */
  forget(service: string): void {
    this.#runners.delete(service);
    this.#failed.delete(service);
    this.#last.delete(service);
    this.#startTimesMs.delete(service);
    this.#mapped.delete(service);
  }

  /** Once per decision time: drop what belongs to services deleted or gone from the replicated state. */
  #sweep(nowMs: number): void {
    const services = this.#o.services;
    if (!services || nowMs === this.#lastSweepNowMs) return;
    this.#lastSweepNowMs = nowMs;
    const names = new Set([
      ...this.#runners.keys(),
      ...this.#failed.keys(),
      ...this.#last.keys(),
      ...this.#startTimesMs.keys(),
    ]);
    for (const name of names) {
      const record = services.service(name);
      if (!record || record.deleted) this.forget(name);
    }
  }

  /** History mapped once per sample: the leader's list grows by one per report, so only the tail is new. */
  #observations(service: string, history: readonly ServiceSample[]): PolicyObservation[] {
    let mapped = this.#mapped.get(service);
    if (!mapped) {
      mapped = [];
      this.#mapped.set(service, mapped);
    }
    // Keep the mapped list aligned with the window the leader keeps (it drops old samples from the front).
    const first = history[0];
    while (mapped.length > 0 && first !== undefined && mapped[0]!.time < first.atMs) mapped.shift();
    const lastTime = mapped.at(-1)?.time ?? Number.NEGATIVE_INFINITY;
    let i = history.length;
    while (i > 0 && history[i - 1]!.atMs > lastTime) i--;
    for (; i < history.length; i++) mapped.push(toObservation(history[i]!));
    if (mapped.length > history.length) mapped.splice(0, mapped.length - history.length);
    return mapped;
  }

  decide(
    policy: string,
    history: readonly ServiceSample[],
    state: PolicyInput,
    rawParams: Record<string, unknown>,
  ): PolicyOutcome {
    this.#sweep(state.nowMs);
    const service = state.service;
    const keep = Math.min(state.maxReplicas, Math.max(state.minReplicas, state.currentReplicas));
    if (service === undefined) {
      // Without a name there is no per-service state to continue: refuse rather than share one runner.
      return { desiredReplicas: keep, reason: `${policy}: no service name given; keep the count` };
    }
    const paramsKey = `${policy}\u0000${JSON.stringify(rawParams)}`;
    const failed = this.#failed.get(service);
    if (failed?.key === paramsKey) return { desiredReplicas: keep, reason: failed.reason };

    const entry = this.#runnerFor(service, policy, paramsKey, rawParams);
    if ('failure' in entry) return { desiredReplicas: keep, reason: entry.failure };

    const latest = history.at(-1);
    const previous = this.#last.get(service);
    if (
      previous &&
      previous.runner === entry.runner &&
      previous.latest === latest &&
      previous.samples === history.length &&
      previous.currentReplicas === state.currentReplicas &&
      previous.minReplicas === state.minReplicas &&
      previous.maxReplicas === state.maxReplicas
    ) {
      // Nothing new since the last call (the leader passes on every report, and plans again under
      // the lock): the same answer, without growing the policy's windows by a duplicate.
      this.#last.set(service, { ...previous, nowMs: state.nowMs });
      return {
        desiredReplicas: previous.desiredReplicas,
        reason: `${policy}: ${previous.reason}`,
        ...(previous.standbyReplicas !== undefined
          ? { standbyReplicas: previous.standbyReplicas }
          : {}),
      };
    }
    const record = this.#o.services?.service(service);
    const observations = this.#observations(service, history);
    const d = entry.runner.decide({
      now: state.nowMs,
      history: observations,
      currentReplicas: state.currentReplicas,
      minReplicas: state.minReplicas,
      maxReplicas: state.maxReplicas,
      ...(record?.spec.sloP95Ms !== undefined ? { sloP95Ms: record.spec.sloP95Ms } : {}),
    });
    this.#last.set(service, {
      service,
      policy,
      runner: entry.runner,
      minReplicas: state.minReplicas,
      maxReplicas: state.maxReplicas,
      nowMs: state.nowMs,
      desiredReplicas: d.desiredReplicas,
      reason: d.reason,
      ...(d.predictedRequestRatePerSecond !== undefined
        ? { predictedRequestRatePerSecond: d.predictedRequestRatePerSecond }
        : {}),
      ...(d.standbyReplicas !== undefined ? { standbyReplicas: d.standbyReplicas } : {}),
      ...(latest ? { latest } : {}),
      samples: history.length,
      currentReplicas: state.currentReplicas,
      ...(entry.leadTimeSeconds !== undefined ? { leadTimeSeconds: entry.leadTimeSeconds } : {}),
      atEpochMs: this.#o.now(),
    });
    return {
      desiredReplicas: d.desiredReplicas,
      reason: `${policy}: ${d.reason}`,
      ...(d.standbyReplicas !== undefined ? { standbyReplicas: d.standbyReplicas } : {}),
    };
  }

  #runnerFor(
    service: string,
    policy: string,
    paramsKey: string,
    rawParams: Record<string, unknown>,
  ): RunnerEntry | { failure: string } {
    const current = this.#runners.get(service);
    let leadTimeSeconds: number | undefined;
    let decisionIntervalSeconds: number | undefined;
    if (policy === 'predictive') {
      if (rawParams.leadTimeSeconds === undefined) {
        const measured = this.measuredLeadTimeSeconds(service);
        // Keep the lead time the runner was made with unless the measurement moved materially.
        leadTimeSeconds =
          current?.key === paramsKey && !materiallyDifferent(current.leadTimeSeconds, measured)
            ? current.leadTimeSeconds
            : measured;
      }
      if (rawParams.decisionIntervalSeconds === undefined && this.#o.decideIntervalMs) {
        decisionIntervalSeconds = Math.max(0.001, this.#o.decideIntervalMs() / 1000);
      }
    }
    if (
      current &&
      current.key === paramsKey &&
      current.leadTimeSeconds === leadTimeSeconds &&
      current.decisionIntervalSeconds === decisionIntervalSeconds
    ) {
      return current;
    }
    const params = {
      ...rawParams,
      ...(leadTimeSeconds !== undefined ? { leadTimeSeconds } : {}),
      ...(decisionIntervalSeconds !== undefined ? { decisionIntervalSeconds } : {}),
    };
    try {
      if (!isPolicyName(policy)) throw new UnknownPolicyError(policy);
      const runner = createPolicyRunner(policy, params);
      const entry: RunnerEntry = {
        key: paramsKey,
        runner,
        leadTimeSeconds,
        decisionIntervalSeconds,
      };
      this.#runners.set(service, entry);
      this.#failed.delete(service);
      return entry;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      const reason = `invalid ${policy} policy (${message}): keep the current count`;
      this.#runners.delete(service);
      this.#failed.set(service, { key: paramsKey, reason });
      this.invalidSpecs += 1;
      this.#o.onInvalid?.({
        service,
        policy,
        code: typeof code === 'string' ? code : 'COX_POLICY_PARAMS',
        message,
      });
      return { failure: reason };
    }
  }
}
