/**
 * The promises of issue #16 decided from what a repetition recorded: the
 * method's writes and their answers, and samples of the engines and the API.
 * Pure: no clock, no I/O, so each rule is tested on hand-made samples.
 */
import type { ChaosWriteRecord } from '@coxswain/protocol';

export interface PromiseVerdict {
  readonly ok: boolean;
  readonly violations: string[];
  readonly value: Record<string, unknown>;
}

const verdict = (violations: string[], value: Record<string, unknown>): PromiseVerdict => ({
  ok: violations.length === 0,
  violations,
  value,
});

// --- last write ---------------------------------------------------------------------

/** What a node's `/v1/services` said of the service, with how far its replica had applied. */
export interface DesiredSample {
  readonly atMs: number;
  readonly node: string;
  readonly appliedIndex: number;
  readonly manualReplicas: number | null;
}

export interface LastWriteInput {
  readonly writes: readonly ChaosWriteRecord[];
  /** The manual count after the settle window, from a node that had applied every write. */
  readonly finalManual: number | null;
  /** Whether the engines and the API ran exactly that many once it settled. */
  readonly converged: { readonly ok: boolean; readonly detail: string };
  readonly samples: readonly DesiredSample[];
}

/**
 * "A later write is never overridden by an earlier one" and "a write whose client was answered
 * never takes effect afterwards", on the client's order (the order the method sent them):
 * - resurrected: a write W sent before an acknowledged write N applied at a higher index than N;
 * - the final count is the last applied write's, which must be the last acknowledged write or a
 *   write sent after it whose answer was uncertain (504, no answer) and that did apply;
 * - a refused write (4xx, 503) never applied;
 * - no node that had applied the last acknowledged write showed a count other than a write of
 *   its own or later (a transient resurrection the final count would hide);
 * - the service converged on it.
 */
export function lastWriteVerdict(input: LastWriteInput): PromiseVerdict {
  const violations: string[] = [];
  const writes = [...input.writes].sort((a, b) => a.seq - b.seq);
  const acked = writes.filter((w) => w.outcome === 'acked');
  const lastAcked = acked.at(-1);
  let resurrected = 0;
  for (const n of acked) {
    if (n.appliedIndex === null) continue;
    for (const w of writes) {
      if (w.seq >= n.seq || !w.applied || w.appliedIndex === null) continue;
      if (w.appliedIndex > n.appliedIndex) {
        resurrected++;
        violations.push(
          `resurrected: write #${w.seq} (${w.replicas}, ${w.outcome}${w.code ? ` ${w.code}` : ''}) applied at index ${w.appliedIndex}, after the acknowledged later write #${n.seq} (${n.replicas}) at ${n.appliedIndex}`,
        );
      }
    }
  }
  for (const w of writes)
    if (w.outcome === 'refused' && w.applied === true)
      violations.push(
        `write #${w.seq} (${w.replicas}) was refused (${w.status} ${w.code}) yet applied`,
      );
  for (const w of acked)
    if (w.applied === false)
      violations.push(`write #${w.seq} (${w.replicas}) was acknowledged but is not recorded`);
  const applied = writes.filter((w) => w.applied && w.appliedIndex !== null);
  const lastApplied = [...applied].sort((a, b) => a.appliedIndex! - b.appliedIndex!).at(-1);
  let expected: number | undefined;
  if (lastAcked) {
    // Writes sent after the last ack whose answer was uncertain may have applied: then theirs wins.
    const laterApplied = applied.filter(
      (w) =>
        w.seq > lastAcked.seq &&
        w.outcome === 'uncertain' &&
        w.appliedIndex! > (lastAcked.appliedIndex ?? 0),
    );
    const winner = [lastAcked, ...laterApplied].sort(
      (a, b) => (a.appliedIndex ?? 0) - (b.appliedIndex ?? 0),
    );
    expected = winner.at(-1)!.replicas;
    if (input.finalManual !== expected)
      violations.push(
        `final count ${input.finalManual ?? 'none'}, but the last acknowledged write (#${lastAcked.seq}) asked ${lastAcked.replicas}${laterApplied.length > 0 ? ` and a later uncertain write that applied asked ${expected}` : ''}`,
      );
    if (!input.converged.ok) violations.push(`running did not converge: ${input.converged.detail}`);
    const floor = lastAcked.appliedIndex;
    if (floor !== null) {
      const allowed = new Set(
        writes.filter((w) => w.seq >= lastAcked.seq && w.applied).map((w) => w.replicas),
      );
      const stale = input.samples.filter(
        (s) =>
          s.appliedIndex >= floor &&
          s.manualReplicas !== null &&
          !allowed.has(s.manualReplicas) &&
          s.atMs >= (lastAcked.answeredAtMs ?? 0),
      );
      if (stale.length > 0)
        violations.push(
          `${stale.length} samples after the last ack showed an older count (first: ${stale[0]!.node} at ${Math.round(stale[0]!.atMs)} ms: ${stale[0]!.manualReplicas})`,
        );
    }
  }
  return verdict(violations, {
    writes: writes.length,
    acked: acked.length,
    uncertain: writes.filter((w) => w.outcome === 'uncertain').length,
    refused: writes.filter((w) => w.outcome === 'refused').length,
    resurrected,
    lastAcked: lastAcked?.replicas ?? null,
    lastApplied: lastApplied?.replicas ?? null,
    expected: expected ?? null,
    final: input.finalManual,
    converged: input.converged.ok,
  });
}

// --- max bound ----------------------------------------------------------------------

/** The service's running containers per host, read from each engine. */
export interface EngineSample {
  readonly atMs: number;
  /** Per host; null when its engine did not answer (a killed host: nothing of it runs). */
  readonly counts: Readonly<Record<string, number | null>>;
  /** Hosts a fault has down now (frozen, cut off, killed), as the runner sees them. */
  readonly down: readonly string[];
}

/**
 * The agent README's bound: running ≤ maxReplicas + the replicas of hosts that are only
 * unreachable, until they are trimmed. A down host whose engine still answers is unreachable but
 * alive, and its allowance is what its engine runs (so, in effect, the reachable hosts together
 * never run more than max); a host whose engine does not answer (killed) has none. A host back
 * from a fault keeps the allowance it had last until the count is within max once, or until
 * `trimWithinMs` has passed.
 */
export function maxBoundVerdict(
  samples: readonly EngineSample[],
  maxReplicas: number,
  trimWithinMs: number,
): PromiseVerdict {
  const violations: string[] = [];
  const returned = new Map<string, { allowance: number; sinceMs: number }>();
  const lastAllowance = new Map<string, number>();
  let peak = 0;
  let peakBound = maxReplicas;
  let peakAtMs: number | null = null;
  let worstOver = 0;
  let over = 0;
  for (const s of [...samples].sort((a, b) => a.atMs - b.atMs)) {
    const down = new Set(s.down);
    const total = Object.values(s.counts).reduce<number>((a, b) => a + (b ?? 0), 0);
    for (const [host, allowance] of lastAllowance)
      if (!down.has(host)) {
        returned.set(host, { allowance, sinceMs: s.atMs });
        lastAllowance.delete(host);
      }
    let allowance = 0;
    for (const host of down) {
      const n = s.counts[host] ?? 0;
      lastAllowance.set(host, n);
      returned.delete(host);
      allowance += n;
    }
    if (total <= maxReplicas) returned.clear();
    for (const [host, r] of returned) {
      if (s.atMs - r.sinceMs > trimWithinMs) returned.delete(host);
      else allowance += r.allowance;
    }
    const bound = maxReplicas + allowance;
    if (total > peak || (total === peak && bound < peakBound)) {
      peak = total;
      peakBound = bound;
      peakAtMs = s.atMs;
    }
    if (total > bound) {
      over++;
      if (total - bound > worstOver) worstOver = total - bound;
      if (violations.length < 5)
        violations.push(
          `${total} running at ${Math.round(s.atMs)} ms > bound ${bound} (max ${maxReplicas} + ${allowance} on hosts down or not yet trimmed): ${Object.entries(
            s.counts,
          )
            .map(([h, n]) => `${h} ${n ?? '-'}`)
            .join(', ')}`,
        );
    }
  }
  if (over > 5) violations.push(`… ${over} samples above the bound in all`);
  return verdict(violations, {
    samples: samples.length,
    max: maxReplicas,
    peak,
    boundAtPeak: peakBound,
    peakAtMs: peakAtMs === null ? null : Math.round(peakAtMs),
    samplesOver: over,
    worstOver,
  });
}

// --- API running truth --------------------------------------------------------------

export interface ApiRunningSample {
  readonly atMs: number;
  /** The node that answered `/v1/services`. */
  readonly node: string;
  readonly running: Readonly<Record<string, number>>;
  readonly unknown: Readonly<Record<string, number>>;
  /** The engines' counts at the same time (null: the engine did not answer). */
  readonly engines: Readonly<Record<string, number | null>>;
  /** Hosts down now, and since when (ms, the same clock). */
  readonly downSinceMs: Readonly<Record<string, number>>;
}

/**
 * `/v1/services` running must not count a host that has been down longer than `staleAfterMs`
 * (its replicas belong under `unknown`), and must not count more on a live host than its engine
 * runs for longer than `lagMs` (reports are a second or so behind).
 */
export function apiRunningVerdict(
  samples: readonly ApiRunningSample[],
  staleAfterMs: number,
  lagMs: number,
): PromiseVerdict {
  const violations: string[] = [];
  let deadCounted = 0;
  let unknownShown = 0;
  let overCounted = 0;
  let worstOverMs = 0;
  const overSince = new Map<string, number>();
  const reported = new Set<string>();
  for (const s of [...samples].sort((a, b) => a.atMs - b.atMs)) {
    for (const [host, since] of Object.entries(s.downSinceMs)) {
      const n = s.running[host] ?? 0;
      if ((s.unknown[host] ?? 0) > 0) unknownShown++;
      if (s.atMs - since > staleAfterMs && n > 0) {
        deadCounted++;
        if (deadCounted <= 3)
          violations.push(
            `${s.node} counted ${n} running on ${host} ${Math.round(s.atMs - since)} ms after it went down`,
          );
      }
    }
    for (const [host, n] of Object.entries(s.running)) {
      const real = s.engines[host];
      if (host in s.downSinceMs || real === null || real === undefined) {
        overSince.delete(host);
        continue;
      }
      if (n <= real) {
        overSince.delete(host);
        continue;
      }
      const since = overSince.get(host) ?? s.atMs;
      overSince.set(host, since);
      const lasting = s.atMs - since;
      worstOverMs = Math.max(worstOverMs, lasting);
      if (lasting > lagMs) {
        overCounted++;
        if (!reported.has(host)) {
          reported.add(host);
          violations.push(
            `${s.node} counted ${n} running on ${host} whose engine runs ${real}, for ${Math.round(lasting)} ms`,
          );
        }
      }
    }
  }
  if (deadCounted > 3) violations.push(`… ${deadCounted} samples counted a down host in all`);
  return verdict(violations, {
    samples: samples.length,
    deadHostCounted: deadCounted,
    samplesWithUnknown: unknownShown,
    overCountedSamples: overCounted,
    longestOverCountMs: Math.round(worstOverMs),
  });
}
