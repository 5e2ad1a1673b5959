/**
 * Turns cumulative counters (CPU ns, network bytes) sampled at monotonic times
 * into per-second rates. Pure: callers pass the time (`performance.now()` in ms).
 *
 * A counter that goes backwards means the container restarted (its cgroup and
 * network namespace are new): the new reading becomes the baseline and no rate
 * is produced for that interval, so a rate is never negative.
 */
export interface CounterSample {
  /** Monotonic milliseconds (performance.now()), never wall-clock time. */
  readonly atMs: number;
  readonly value: number;
}

/** Rate per second between two samples, or undefined when there is no valid interval. */
export function ratePerSecond(
  previous: CounterSample | undefined,
  current: CounterSample,
): number | undefined {
  if (previous === undefined) return undefined;
  const elapsedMs = current.atMs - previous.atMs;
  if (!(elapsedMs > 0)) return undefined;
  const delta = current.value - previous.value;
  if (delta < 0) return undefined;
  return (delta * 1000) / elapsedMs;
}

/** Keeps the last sample of one counter and yields the rate at each new sample. */
export class CounterRate {
  #last: CounterSample | undefined;

  /** Records a sample; returns the rate since the previous one (undefined on first or after a reset). */
  update(atMs: number, value: number): number | undefined {
    const sample = { atMs, value };
    const rate = ratePerSecond(this.#last, sample);
    this.#last = sample;
    return rate;
  }

  reset(): void {
    this.#last = undefined;
  }
}

/**
 * CPU use in percent from CPU-time nanoseconds consumed over an interval.
 * `cpus` is the container's CPU limit in cores when it has one, else 1: so 100
 * means "all of its limit" or "one full core". Never negative.
 */
export function cpuPercent(cpuNsPerSecond: number, cpus: number): number {
  if (!(cpus > 0) || !(cpuNsPerSecond >= 0)) return 0;
  return (cpuNsPerSecond / 1e9 / cpus) * 100;
}

/**
 * Memory in percent of the container's limit. cgroup v1 reports "no limit" as a
 * huge number (PAGE_COUNTER_MAX rounded), v2 as "max": either way the host's
 * memory is the real bound, so callers pass it as `hostBytes`.
 */
export function memoryPercent(
  usageBytes: number,
  limitBytes: number | undefined,
  hostBytes: number,
): number {
  const bound =
    limitBytes !== undefined && limitBytes > 0 && limitBytes < hostBytes ? limitBytes : hostBytes;
  if (!(bound > 0) || !(usageBytes >= 0)) return 0;
  return (usageBytes / bound) * 100;
}

/** Per-container rate state for the four counters the sampler follows. */
export class ContainerRates {
  readonly cpuNs = new CounterRate();
  readonly rxBytes = new CounterRate();
  readonly txBytes = new CounterRate();
}
