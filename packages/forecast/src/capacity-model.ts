export interface CapacitySample {
  /** Request rate per ready replica, req/s. */
  readonly ratePerReplica: number;
  readonly cpuPercent?: number;
  readonly p95LatencyMs?: number;
}

export interface CapacityModelOptions {
  /** Req/s one replica serves at 100 % CPU, used until enough samples have been seen. */
  readonly fallbackCapacityPerReplica: number;
  /** Samples needed before the learned fit replaces the fallback. */
  readonly minSamples?: number;
  /** RLS forgetting factor: old samples fade with weight forgetting^age, so the fit follows a changed service. */
  readonly forgetting?: number;
  /** Samples at or above this CPU are saturated: the rate they show is a ceiling, not a point on the line. */
  readonly saturationPercent?: number;
  /** p95 latency objective; when given, capacity is also capped at the utilisation where p95 stays under it. */
  readonly sloP95Ms?: number;
}

const BUCKETS = 20;

/**
 * What one replica sustains, learned online from reports in O(1) per sample:
 * CPU % ~ a + b * (req/s per replica) by recursive least squares with a
 * forgetting factor, where each residual is clipped to 3 robust scales before
 * it moves the fit, so a GC pause or a noisy neighbour does not bend the line;
 * and p95 latency per utilisation bucket (EWMA), which gives the highest
 * utilisation at which the latency objective still holds. Until `minSamples`
 * unsaturated samples have arrived, the configured fallback is used.
 */
export class CapacityModel {
  private readonly options: Required<Omit<CapacityModelOptions, 'sloP95Ms'>> & {
    sloP95Ms?: number;
  };
  // RLS state: theta = [a, b], P = 2x2 inverse information matrix.
  private a = 0;
  private b = 0;
  private p00 = 1e6;
  private p01 = 0;
  private p11 = 1e6;
  private residualScale = 0;
  private samples = 0;
  private readonly latencyByBucket = new Float64Array(BUCKETS).fill(Number.NaN);

  constructor(options: CapacityModelOptions) {
    this.options = {
      minSamples: 20,
      forgetting: 0.995,
      saturationPercent: 95,
      ...options,
    };
  }

  get sampleCount(): number {
    return this.samples;
  }

  /** Whether the learned fit is in use (false: the fallback is). */
  get learned(): boolean {
    return this.samples >= this.options.minSamples && this.b > 0;
  }

  /** The fitted line, CPU % = intercept + slope * req/s per replica. */
  get fit(): { intercept: number; slope: number } {
    return { intercept: this.a, slope: this.b };
  }

  observe(sample: CapacitySample): void {
    const x = sample.ratePerReplica;
    const cpu = sample.cpuPercent;
    if (!(x > 0) || !Number.isFinite(x)) return;
    if (cpu !== undefined && Number.isFinite(cpu) && cpu < this.options.saturationPercent) {
      this.rlsUpdate(x, cpu);
    }
    if (
      this.options.sloP95Ms !== undefined &&
      sample.p95LatencyMs !== undefined &&
      Number.isFinite(sample.p95LatencyMs)
    ) {
      const u = this.utilisation(x);
      if (u >= 0 && u < 1) {
        const k = Math.min(BUCKETS - 1, Math.floor(u * BUCKETS));
        const prev = this.latencyByBucket[k]!;
        this.latencyByBucket[k] = Number.isNaN(prev)
          ? sample.p95LatencyMs
          : 0.9 * prev + 0.1 * sample.p95LatencyMs;
      }
    }
  }

  /** Req/s per replica at `cpuPercent` utilisation (and within the latency objective, if one is set). */
  capacityAt(cpuPercent: number): number {
    let byCpu: number;
    if (this.learned) byCpu = Math.max(1e-9, (cpuPercent - this.a) / this.b);
    else byCpu = (this.options.fallbackCapacityPerReplica * cpuPercent) / 100;
    const limit = this.latencyLimitedUtilisation();
    if (limit === undefined) return byCpu;
    return Math.min(byCpu, this.rateAtUtilisation(limit));
  }

  /** The highest utilisation bucket edge below which every observed bucket met the latency objective. */
  latencyLimitedUtilisation(): number | undefined {
    const slo = this.options.sloP95Ms;
    if (slo === undefined) return undefined;
    for (let k = 0; k < BUCKETS; k++) {
      const v = this.latencyByBucket[k]!;
      if (!Number.isNaN(v) && v > slo) return Math.max(1 / BUCKETS, k / BUCKETS);
    }
    // No observed utilisation broke the objective: no latency limit.
    return undefined;
  }

  private utilisation(ratePerReplica: number): number {
    if (this.learned) return (this.a + this.b * ratePerReplica) / 100;
    return ratePerReplica / this.options.fallbackCapacityPerReplica;
  }

  private rateAtUtilisation(u: number): number {
    if (this.learned) return Math.max(1e-9, (u * 100 - this.a) / this.b);
    return u * this.options.fallbackCapacityPerReplica;
  }

  private rlsUpdate(x: number, y: number): void {
    const lambda = this.options.forgetting;
    let residual = y - (this.a + this.b * x);
    if (this.samples >= 10 && this.residualScale > 0) {
      const bound = 3 * Math.max(this.residualScale, 0.5);
      residual = Math.max(-bound, Math.min(bound, residual));
    }
    this.residualScale =
      this.samples === 0
        ? Math.abs(residual)
        : 0.95 * this.residualScale + 0.05 * Math.abs(residual);
    // Gain k = P phi / (lambda + phi' P phi), phi = [1, x].
    const p0 = this.p00 + this.p01 * x;
    const p1 = this.p01 + this.p11 * x;
    const denominator = lambda + p0 + p1 * x;
    const k0 = p0 / denominator;
    const k1 = p1 / denominator;
    this.a += k0 * residual;
    this.b += k1 * residual;
    // P = (P - k phi' P) / lambda
    const n00 = (this.p00 - k0 * p0) / lambda;
    const n01 = (this.p01 - k0 * p1) / lambda;
    const n11 = (this.p11 - k1 * p1) / lambda;
    this.p00 = n00;
    this.p01 = n01;
    this.p11 = n11;
    this.samples++;
  }
}
