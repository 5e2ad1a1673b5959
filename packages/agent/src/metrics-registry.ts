/**
 * A small Prometheus registry: counters and gauges with labels, rendered in
 * text exposition format 0.0.4. Enough for the agent's own /metrics without a
 * client library; other parts of the agent register their own series on it.
 */
export type Labels = Readonly<Record<string, string>>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}`;
}

function formatNumber(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

export class Counter {
  readonly name: string;
  readonly help: string;
  readonly #values = new Map<string, number>();
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  inc(labels?: Labels, by = 1): void {
    const key = labelKey(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /** Sum over every label set. */
  total(): number {
    let sum = 0;
    for (const v of this.#values.values()) sum += v;
    return sum;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.#values)
      lines.push(`${this.name}${key} ${formatNumber(value)}`);
    return lines;
  }
}

/** A gauge read at scrape time from a callback, so it is never stale. */
export class Gauge {
  readonly name: string;
  readonly help: string;
  readonly #collect: () => number | ReadonlyArray<{ labels: Labels; value: number }>;
  constructor(
    name: string,
    help: string,
    collect: () => number | ReadonlyArray<{ labels: Labels; value: number }>,
  ) {
    this.name = name;
    this.help = help;
    this.#collect = collect;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    let value: number | ReadonlyArray<{ labels: Labels; value: number }>;
    try {
      value = this.#collect();
    } catch {
      return lines;
    }
    if (typeof value === 'number') {
      if (Number.isFinite(value)) lines.push(`${this.name} ${formatNumber(value)}`);
    } else {
      for (const v of value)
        if (Number.isFinite(v.value))
          lines.push(`${this.name}${labelKey(v.labels)} ${formatNumber(v.value)}`);
    }
    return lines;
  }
}

/** Fixed-bucket histogram (seconds), as Prometheus client libraries make them. */
export class Histogram {
  readonly name: string;
  readonly help: string;
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = [...bounds].sort((a, b) => a - b);
    this.#counts = this.#bounds.map(() => 0);
  }
  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.#bounds.length; i++) if (value <= this.#bounds[i]!) this.#counts[i]!++;
  }
  get count(): number {
    return this.#count;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.#bounds.forEach((b, i) => {
      lines.push(`${this.name}_bucket{le="${formatNumber(b)}"} ${this.#counts[i]}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`);
    return lines;
  }
}

export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();

  counter(name: string, help: string): Counter {
    const existing = this.#metrics.get(name);
    if (existing instanceof Counter) return existing;
    const c = new Counter(name, help);
    this.#metrics.set(name, c);
    return c;
  }

  gauge(
    name: string,
    help: string,
    collect: () => number | ReadonlyArray<{ labels: Labels; value: number }>,
  ): Gauge {
    const g = new Gauge(name, help, collect);
    this.#metrics.set(name, g);
    return g;
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    const existing = this.#metrics.get(name);
    if (existing instanceof Histogram) return existing;
    const h = new Histogram(name, help, bounds);
    this.#metrics.set(name, h);
    return h;
  }

  render(): string {
    const lines: string[] = [];
    for (const m of this.#metrics.values()) lines.push(...m.render());
    return `${lines.join('\n')}\n`;
  }
}
