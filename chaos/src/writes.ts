/**
 * The method's writes (`{type: scale}`): each sent once through the API with
 * its own idempotency key, its answer classified and kept, and afterwards
 * whether it applied and at which index (`GET /v1/writes/{key}`), for the
 * last-write promise.
 */
import { randomUUID } from 'node:crypto';
import { ApiRequestError } from '@coxswain/client';
import type { ChaosActivity, ChaosWriteRecord } from '@coxswain/protocol';
import type { ChaosEnv, ChaosHost } from './target.js';

type ScaleActivity = Extract<ChaosActivity, { type: 'scale' }>;

/** 504 says "may still apply"; no answer says nothing: both are uncertain, anything else refused. */
export function outcomeOf(error: unknown): Pick<ChaosWriteRecord, 'outcome' | 'status' | 'code'> {
  if (error instanceof ApiRequestError)
    return {
      outcome: error.status === 504 ? 'uncertain' : 'refused',
      status: error.status,
      code: error.serverCode,
    };
  return { outcome: 'uncertain', status: null, code: (error as Error).name ?? 'no answer' };
}

export class WriteLog {
  readonly #env: ChaosEnv;
  readonly #live: () => readonly ChaosHost[];
  readonly #now: () => number;
  readonly #records: ChaosWriteRecord[] = [];
  readonly #pending = new Set<Promise<void>>();

  constructor(env: ChaosEnv, live: () => readonly ChaosHost[], now: () => number) {
    this.#env = env;
    this.#live = live;
    this.#now = now;
  }

  get records(): readonly ChaosWriteRecord[] {
    return this.#records;
  }

  async #leaderHost(): Promise<ChaosHost> {
    const live = this.#live();
    for (const h of live) {
      try {
        const c = await this.#env.api.cluster(h.apiUrl);
        const leader = live.find((x) => x.name === c.leader?.id);
        if (leader) return leader;
      } catch {
        // ask the next
      }
    }
    throw new Error('no live host names a live leader to send the write to');
  }

  /** Sends the write; with `wait: false` returns once it is sent, and the answer is recorded when it comes. */
  async send(a: ScaleActivity): Promise<ChaosWriteRecord | { sent: string; via: string }> {
    const host = a.via === 'leader' ? await this.#leaderHost() : this.#live()[0];
    if (!host) throw new Error('no live host to send the write to');
    const record: ChaosWriteRecord = {
      seq: this.#records.length,
      service: a.service,
      replicas: a.replicas,
      key: `chaos-${randomUUID()}`,
      via: host.name,
      sentAtMs: this.#now(),
      answeredAtMs: null,
      outcome: 'pending',
      status: null,
      code: null,
      applied: null,
      appliedIndex: null,
    };
    this.#records.push(record);
    const answered = this.#env.api
      .scaleOnce(host.apiUrl, a.service, a.replicas, record.key, a.timeout)
      .then(
        () => Object.assign(record, { outcome: 'acked', status: 200, code: null }),
        (error: unknown) => Object.assign(record, outcomeOf(error)),
      )
      .then(() => {
        record.answeredAtMs = this.#now();
      });
    if (a.wait) {
      await answered;
      // A 504 or no answer is the datum the last-write promise judges (it may still apply); only a
      // refusal means the method could not do what it meant to.
      if (record.outcome === 'refused')
        throw new Error(
          `scale ${a.service} ${a.replicas} via ${host.name}: ${record.status ?? 'no answer'} ${record.code ?? ''}`.trim(),
        );
      return record;
    }
    this.#pending.add(answered);
    void answered.finally(() => this.#pending.delete(answered));
    return { sent: record.key, via: host.name };
  }

  /** Waits for the writes still pending (each bounded by its own timeout). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  /** Asks whether each write applied, through the leader (any live host forwards). */
  async resolveApplied(): Promise<void> {
    for (const w of this.#records) {
      for (const h of this.#live()) {
        try {
          const s = await this.#env.api.writeStatus(h.apiUrl, w.key);
          w.applied = s.applied;
          w.appliedIndex = s.index ?? null;
          break;
        } catch {
          // the next host
        }
      }
    }
  }
}
