/**
 * The agent's Prometheus registry, on `prom-client`. A thin layer that keeps
 * the agent's call sites short: counters the agent increments, counters and
 * gauges read at scrape time from a callback (so they are never stale), and
 * histograms. Names, labels and buckets are the table of
 * deploy/prometheus/METRICS.md; `prom-client`'s default process metrics are
 * registered too.
 */

import * as prom from 'prom-client';
import { HeapAfterMajorGc } from './heap-after-gc.js';

export type Labels = Readonly<Record<string, string>>;
type Sampled = number | ReadonlyArray<{ labels: Labels; value: number }>;

function keyOf(labels: Labels | undefined): string {
  if (!labels) return '';
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/** A counter the agent increments; keeps its own totals so callers and tests can read them back. */
export class Counter {
  readonly name: string;
  readonly #inner: prom.Counter<string>;
  readonly #values = new Map<string, number>();
  readonly #normalize: ((labels: Labels) => Labels) | undefined;
  constructor(inner: prom.Counter<string>, name: string, normalize?: (labels: Labels) => Labels) {
    this.#inner = inner;
    this.name = name;
    this.#normalize = normalize;
  }
  inc(given?: Labels, by = 1): void {
    const labels = given && this.#normalize ? this.#normalize(given) : given;
    if (labels && Object.keys(labels).length > 0) this.#inner.inc(labels, by);
    else this.#inner.inc(by);
    const key = keyOf(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }
  get(given?: Labels): number {
    const labels = given && this.#normalize ? this.#normalize(given) : given;
    return this.#values.get(keyOf(labels)) ?? 0;
  }
  /** Sum over every label set. */
  total(): number {
    let sum = 0;
    for (const v of this.#values.values()) sum += v;
    return sum;
  }
}

export class Histogram {
  readonly name: string;
  readonly #inner: prom.Histogram<string>;
  #count = 0;
  constructor(inner: prom.Histogram<string>, name: string) {
    this.#inner = inner;
    this.name = name;
  }
  observe(value: number, labels?: Labels): void {
    if (!Number.isFinite(value) || value < 0) return;
    if (labels && Object.keys(labels).length > 0) this.#inner.observe(labels, value);
    else this.#inner.observe(value);
    this.#count++;
  }
  get count(): number {
    return this.#count;
  }
}

type Read = () => Sampled;

function valuesOf(read: Read): { value: number; labels: Record<string, string> }[] {
  let value: Sampled;
  try {
    value = read();
  } catch {
    return [];
  }
  if (typeof value === 'number') return Number.isFinite(value) ? [{ value, labels: {} }] : [];
  return value
    .filter((v) => Number.isFinite(v.value))
    .map((v) => ({ value: v.value, labels: { ...v.labels } }));
}

/**
 * A series read from a callback at scrape time. A callback that throws, or
 * returns no value, exports no sample (never an invented 0).
 */
function sampled<T extends typeof prom.Gauge | typeof prom.Counter>(
  Base: T,
  type: 'gauge' | 'counter',
) {
  // biome-ignore lint/suspicious/noExplicitAny: prom-client's metric classes share this constructor shape.
  return class extends (Base as any) {
    readonly #read: Read;
    readonly #meta: { name: string; help: string };
    constructor(config: prom.GaugeConfiguration<string>, read: Read) {
      super(config);
      this.#read = read;
      this.#meta = { name: config.name, help: config.help };
    }
    async get() {
      return { ...this.#meta, type, aggregator: 'sum', values: valuesOf(this.#read) };
    }
  };
}

const SampledGauge = sampled(prom.Gauge, 'gauge');
const SampledCounter = sampled(prom.Counter, 'counter');

export class MetricsRegistry {
  readonly registry = new prom.Registry();
  readonly #counters = new Map<string, Counter>();
  readonly #histograms = new Map<string, Histogram>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      prom.collectDefaultMetrics({ register: this.registry });
      const heap = new HeapAfterMajorGc();
      this.gauge(
        'nodejs_heap_used_after_major_gc_bytes',
        'V8 heap in use just after the latest major collection (the live heap; no sample before the first).',
        () => heap.bytes ?? Number.NaN,
      );
    }
  }

  /** `normalize` maps the labels callers give onto the exported ones (bounded values). */
  counter(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    normalize?: (labels: Labels) => Labels,
  ): Counter {
    const existing = this.#counters.get(name);
    if (existing) return existing;
    const inner = new prom.Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.registry],
    });
    const c = new Counter(inner, name, normalize);
    this.#counters.set(name, c);
    return c;
  }

  /** A counter whose value another part keeps (a monotonic field), read at scrape time. */
  counterFrom(name: string, help: string, collect: Read, labelNames: readonly string[] = []): void {
    this.#drop(name);
    new SampledCounter(
      { name, help, labelNames: [...labelNames], registers: [this.registry] },
      collect,
    );
  }

  /** A gauge read at scrape time from a callback; a throwing or empty callback exports no sample. */
  gauge(name: string, help: string, collect: Read, labelNames: readonly string[] = []): void {
    this.#drop(name);
    new SampledGauge(
      { name, help, labelNames: [...labelNames], registers: [this.registry] },
      collect,
    );
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    const existing = this.#histograms.get(name);
    if (existing) return existing;
    const inner = new prom.Histogram({
      name,
      help,
      buckets: [...buckets],
      labelNames: [...labelNames],
      registers: [this.registry],
    });
    const h = new Histogram(inner, name);
    this.#histograms.set(name, h);
    return h;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  #drop(name: string): void {
    if (this.registry.getSingleMetric(name)) this.registry.removeSingleMetric(name);
  }
}
