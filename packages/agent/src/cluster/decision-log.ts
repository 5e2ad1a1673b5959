/**
 * The leader's decision log: the last decisions per service, each with what
 * the policy saw (inputs, forecast), the rule that bound the count and how
 * the operation ended, for `GET /v1/services/{name}/decisions` and
 * `coxswain explain`. Bounded per service; kept in memory on the leader only
 * (other nodes forward the read to it), so a new leader starts empty.
 */
import type { LockedOutcome, Operation, ServiceDecisionRecord } from '@coxswain/control';
import type { DecisionRecord } from '@coxswain/protocol';

export const DECISIONS_PER_SERVICE = 500;

type Binding = DecisionRecord['binding'];
type Status = DecisionRecord['outcome']['status'];

/** What the coordinator knows when an operation on a service ends. */
export interface DecisionContext {
  readonly service: string;
  readonly term: number;
  readonly leaderId: string;
  readonly policy: string;
  readonly currentReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** The manual count the operation ran under (`coxswain service scale`), null when none. */
  readonly manualReplicas: number | null;
  /** The policy's record of this decision, when the policy was asked in it. */
  readonly record: ServiceDecisionRecord | undefined;
  readonly operation: Operation | undefined;
  readonly outcome: LockedOutcome;
  readonly traceId?: string | undefined;
  readonly atEpochMs: number;
  /** Monotonic ms when the operation ended. */
  readonly monoNowMs: number;
}

/**
 * The rule that bound the count. The policies do not return it as data (only
 * their sentence), so it is read from that sentence and the bounds: a manual
 * pin, a clamp at minReplicas/maxReplicas, a stabilisation window or
 * cooldown, a step limit, else the target.
 */
export function bindingOf(
  desired: number,
  reason: string,
  c: Pick<DecisionContext, 'manualReplicas' | 'minReplicas' | 'maxReplicas'>,
): Binding {
  if (c.manualReplicas !== null)
    return {
      rule: 'manual_pin',
      detail: `pinned at ${c.manualReplicas} by \`coxswain service scale\`; the policy was not asked`,
      limit: c.manualReplicas,
    };
  const window = /held at \d+ by the (\d+) ms scale-down window/.exec(reason);
  if (window)
    return {
      rule: 'stabilisation',
      detail: `scale-down held at ${desired} by the ${Number(window[1]) / 1000} s stabilisation window`,
      windowSeconds: Number(window[1]) / 1000,
    };
  if (/stabili[sz]|cooldown/i.test(reason))
    return {
      rule: 'stabilisation',
      detail: `held at ${desired} by the policy's stabilisation or cooldown`,
    };
  if (
    /clamp|above max|below min|outside \[/i.test(reason) ||
    (desired === c.maxReplicas && /max/i.test(reason))
  )
    return {
      rule: 'clamp',
      detail: `clamped to [${c.minReplicas}, ${c.maxReplicas}]`,
      limit: desired >= c.maxReplicas ? c.maxReplicas : c.minReplicas,
    };
  if (/step/i.test(reason))
    return { rule: 'max_step', detail: `limited by the policy's maximum step` };
  return { rule: 'target', detail: `the target alone asked for ${desired}` };
}

function statusOf(outcome: LockedOutcome): Status {
  switch (outcome.status) {
    case 'done':
      return outcome.failed > 0 ? 'failed' : 'scaled';
    case 'purged':
      return 'scaled';
    case 'nothing':
      return 'unchanged';
    case 'lock-held':
    case 'refused':
      return 'refused';
    case 'aborted':
    case 'expired':
      return 'failed';
  }
}

function errorOf(outcome: LockedOutcome): string | undefined {
  if (outcome.status === 'refused') return `${outcome.code}: ${outcome.message}`.slice(0, 2000);
  if (outcome.status === 'aborted')
    return String((outcome.error as Error)?.message ?? outcome.error).slice(0, 2000);
  if (outcome.status === 'lock-held')
    return `lock held${outcome.heldBy ? ` by ${outcome.heldBy}` : ''}`;
  if (outcome.status === 'done' && outcome.failed > 0) return `${outcome.failed} command(s) failed`;
  return undefined;
}

/** Builds the API's record of one decision. Pure. */
export function decisionRecordOf(c: DecisionContext, id: string): DecisionRecord {
  const r = c.record && c.manualReplicas === null ? c.record : undefined;
  const desired = c.operation?.desiredReplicas ?? r?.desiredReplicas ?? c.currentReplicas;
  const reason = c.operation?.reason ?? r?.reason ?? 'no change';
  const latest = r?.latest;
  const outcome = c.outcome;
  const err = errorOf(outcome);
  const token = 'token' in outcome && outcome.token !== undefined ? outcome.token : undefined;
  return {
    id,
    service: c.service,
    atEpochMs: c.atEpochMs,
    term: c.term,
    leaderId: c.leaderId,
    policy: c.manualReplicas !== null ? 'manual' : c.policy,
    inputs: {
      replicas: latest?.replicas ?? c.currentReplicas,
      samples: r?.samples ?? 0,
      ...(latest?.cpuPercent !== undefined ? { cpuPercent: latest.cpuPercent } : {}),
      ...(latest?.requestRatePerSecond !== undefined
        ? { requestRatePerSecond: latest.requestRatePerSecond }
        : {}),
      ...(latest?.p95LatencyMs !== undefined ? { p95LatencyMs: latest.p95LatencyMs } : {}),
    },
    forecast:
      r?.predictedRequestRatePerSecond !== undefined
        ? {
            predictedRequestRatePerSecond: r.predictedRequestRatePerSecond,
            ...(r.leadTimeSeconds !== undefined ? { leadTimeSeconds: r.leadTimeSeconds } : {}),
          }
        : null,
    currentReplicas: c.currentReplicas,
    // The policies report only their final count, so the recommendation is that count.
    recommendedReplicas: r?.desiredReplicas ?? desired,
    desiredReplicas: desired,
    binding: bindingOf(desired, reason, c),
    reason: reason.slice(0, 2000),
    outcome: {
      status: statusOf(outcome),
      ...(token !== undefined && token > 0 ? { token } : {}),
      commandIds: outcome.status === 'done' ? outcome.replies.map((reply) => reply.id) : [],
      ...(c.traceId && /^[0-9a-f]{32}$/.test(c.traceId) ? { traceId: c.traceId } : {}),
      ...(err !== undefined ? { error: err } : {}),
    },
  };
}

/** Bounded ring of decision records per service, newest last. */
export class DecisionLog {
  readonly #perService: number;
  readonly #byService = new Map<string, DecisionRecord[]>();
  #seq = 0;

  constructor(perService = DECISIONS_PER_SERVICE) {
    this.#perService = perService;
  }

  record(c: DecisionContext): DecisionRecord {
    this.#seq += 1;
    const rec = decisionRecordOf(c, `${c.leaderId}-${c.term}-${this.#seq}`);
    let list = this.#byService.get(c.service);
    if (!list) {
      list = [];
      this.#byService.set(c.service, list);
    }
    list.push(rec);
    if (list.length > this.#perService) list.splice(0, list.length - this.#perService);
    return rec;
  }

  /** The last `limit` decisions about `service`, newest first. */
  recent(service: string, limit: number): DecisionRecord[] {
    const list = this.#byService.get(service) ?? [];
    return list.slice(Math.max(0, list.length - limit)).reverse();
  }
}
