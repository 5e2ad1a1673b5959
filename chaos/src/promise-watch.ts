/**
 * Samples what the promises are judged on, from the start of a repetition to
 * a settle window after its undo: the service's running containers on every
 * engine (Docker, not the API), `/v1/services` from a live host, and which
 * hosts a fault has down. Then settles the writes and gives each promise its
 * verdict (promise-checks.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ChaosPromise,
  type ChaosPromiseResult,
  type ChaosWriteRecord,
  LABELS,
} from '@coxswain/protocol';
import {
  type ApiRunningSample,
  apiRunningVerdict,
  type DesiredSample,
  type EngineSample,
  lastWriteVerdict,
  maxBoundVerdict,
  type PromiseVerdict,
} from './promise-checks.js';
import type { ChaosEnv, ChaosHost } from './target.js';
import type { WriteLog } from './writes.js';

export interface PromiseWatchDeps {
  readonly env: ChaosEnv;
  readonly promises: readonly ChaosPromise[];
  readonly down: () => ReadonlySet<string>;
  readonly live: () => readonly ChaosHost[];
  readonly now: () => number;
  readonly intervalMs: number;
  readonly signal: AbortSignal;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    sleep(ms).then(() => {
      throw new Error(`no answer within ${ms} ms`);
    }),
  ]);
}

export class PromiseWatch {
  readonly #d: PromiseWatchDeps;
  readonly #services: string[];
  readonly #engines = new Map<string, EngineSample[]>();
  readonly #api = new Map<string, ApiRunningSample[]>();
  readonly #desired = new Map<string, DesiredSample[]>();
  readonly #downSince = new Map<string, number>();
  readonly #max = new Map<string, number>();
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(deps: PromiseWatchDeps) {
    this.#d = deps;
    this.#services = [...new Set(deps.promises.map((p) => p.service))];
  }

  /** Reads each service's maxReplicas and starts sampling. */
  async start(): Promise<void> {
    for (const name of this.#services) {
      for (const h of this.#d.live()) {
        try {
          this.#max.set(
            name,
            (await this.#d.env.api.service(h.apiUrl, name)).record.spec.maxReplicas,
          );
          break;
        } catch {
          // the next host
        }
      }
    }
    this.#running = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running && !this.#d.signal.aborted) {
      const t0 = performance.now();
      await this.sample();
      const left = this.#d.intervalMs - (performance.now() - t0);
      if (left > 0) await sleep(left, undefined, { signal: this.#d.signal }).catch(() => {});
    }
  }

  /** One sample of every engine and one `/v1/services`, for every watched service. */
  async sample(): Promise<void> {
    const down = this.#d.down();
    const atMs = this.#d.now();
    for (const h of down) if (!this.#downSince.has(h)) this.#downSince.set(h, atMs);
    for (const h of [...this.#downSince.keys()]) if (!down.has(h)) this.#downSince.delete(h);
    const counts = new Map<string, Record<string, number | null>>(
      this.#services.map((s) => [s, {}]),
    );
    await Promise.all(
      this.#d.env.hosts.map(async (h) => {
        const docker = this.#d.env.docker(h.name);
        let list: { Labels?: Record<string, string> }[] | null = null;
        if (docker)
          try {
            list = await withTimeout(
              docker.listContainers({ filters: { label: [LABELS.service] } }),
              2000,
            );
          } catch {
            list = null;
          }
        for (const s of this.#services)
          counts.get(s)![h.name] =
            list === null ? null : list.filter((c) => c.Labels?.[LABELS.service] === s).length;
      }),
    );
    let reply: Awaited<ReturnType<ChaosEnv['api']['services']>> | undefined;
    for (const h of this.#d.live()) {
      try {
        reply = await this.#d.env.api.services(h.apiUrl);
        break;
      } catch {
        // the next host
      }
    }
    const downSinceMs = Object.fromEntries(this.#downSince);
    for (const s of this.#services) {
      const c = counts.get(s)!;
      this.#push(this.#engines, s, { atMs, counts: c, down: [...down] });
      const svc = reply?.services.find((x) => x.name === s);
      if (reply && svc) {
        this.#push(this.#api, s, {
          atMs,
          node: reply.meta.node,
          running: svc.running,
          unknown: svc.unknown ?? {},
          engines: c,
          downSinceMs,
        });
        this.#push(this.#desired, s, {
          atMs,
          node: reply.meta.node,
          appliedIndex: reply.meta.appliedIndex,
          manualReplicas: svc.manualReplicas,
        });
      }
    }
  }

  #push<T>(m: Map<string, T[]>, key: string, v: T): void {
    const list = m.get(key) ?? [];
    list.push(v);
    m.set(key, list);
  }

  /** Until the service's count, on the engines and in the API, equals `want` (or the time is up). */
  async #converge(
    service: string,
    want: number | null,
    withinMs: number,
  ): Promise<{ ok: boolean; detail: string }> {
    if (want === null) return { ok: false, detail: 'no write to converge on' };
    const deadline = performance.now() + withinMs;
    let detail = 'not sampled';
    for (;;) {
      const e = this.#engines.get(service)?.at(-1);
      const a = this.#api.get(service)?.at(-1);
      const engines = e ? Object.values(e.counts).reduce<number>((x, y) => x + (y ?? 0), 0) : null;
      const api = a ? Object.values(a.running).reduce((x, y) => x + y, 0) : null;
      detail = `engines ${engines ?? '-'}, API ${api ?? '-'}, want ${want}`;
      if (engines === want && api === want) return { ok: true, detail };
      if (performance.now() >= deadline || this.#d.signal.aborted) return { ok: false, detail };
      await sleep(this.#d.intervalMs, undefined, { signal: this.#d.signal }).catch(() => {});
    }
  }

  /** The manual count as a node that has applied every write (through the leader) sees it. */
  async #finalManual(service: string): Promise<number | null> {
    for (const h of this.#d.live()) {
      try {
        return (await this.#d.env.api.service(h.apiUrl, service)).record.manualReplicas;
      } catch {
        // the next host
      }
    }
    return null;
  }

  /**
   * After the undo: the pending writes answered, at least `settleMs` more of sampling (a host
   * restarted at rollback), convergence and the hold for `last-write`; then every verdict.
   */
  async finish(writes: WriteLog, settleMs: number): Promise<ChaosPromiseResult[]> {
    const settleUntil = performance.now() + settleMs;
    await writes.settled();
    await writes.resolveApplied();
    const results: ChaosPromiseResult[] = [];
    const lastWrite = new Map<
      string,
      { want: number | null; converged: { ok: boolean; detail: string } }
    >();
    for (const p of this.#d.promises) {
      if (p.type !== 'last-write') continue;
      const mine = writes.records.filter((w) => w.service === p.service);
      const want = expectedFinal(mine);
      const converged = await this.#converge(p.service, want, p.convergeWithin);
      // A late write taking effect would show in this window.
      await sleep(p.hold, undefined, { signal: this.#d.signal }).catch(() => {});
      lastWrite.set(p.name, { want, converged });
    }
    const left = settleUntil - performance.now();
    if (left > 0) await sleep(left, undefined, { signal: this.#d.signal }).catch(() => {});
    this.#running = false;
    await this.#loop;
    if (writes.records.length > 0) await writes.resolveApplied();
    for (const p of this.#d.promises) {
      let v: PromiseVerdict;
      if (p.type === 'last-write') {
        const lw = lastWrite.get(p.name)!;
        const mine = writes.records.filter((w) => w.service === p.service);
        v = lastWriteVerdict({
          writes: mine,
          finalManual: await this.#finalManual(p.service),
          converged: lw.converged,
          samples: this.#desired.get(p.service) ?? [],
        });
      } else if (p.type === 'max-bound') {
        const max = this.#max.get(p.service);
        v =
          max === undefined
            ? { ok: false, violations: [`maxReplicas of ${p.service} unknown`], value: {} }
            : maxBoundVerdict(this.#engines.get(p.service) ?? [], max, p.trimWithin);
      } else v = apiRunningVerdict(this.#api.get(p.service) ?? [], p.staleAfter, p.lag);
      results.push({ name: p.name, type: p.type, ...v });
    }
    return results;
  }
}

/** The count the last acknowledged write asked for (what running should converge on). */
function expectedFinal(writes: readonly ChaosWriteRecord[]): number | null {
  const acked = writes.filter((w) => w.outcome === 'acked').sort((a, b) => a.seq - b.seq);
  const last = acked.at(-1);
  if (!last) return null;
  const later = writes
    .filter(
      (w) =>
        w.seq > last.seq &&
        w.outcome === 'uncertain' &&
        w.applied &&
        (w.appliedIndex ?? 0) > (last.appliedIndex ?? 0),
    )
    .sort((a, b) => (a.appliedIndex ?? 0) - (b.appliedIndex ?? 0));
  return (later.at(-1) ?? last).replicas;
}
