/**
 * Counters and histograms for the proxy's hot path. prom-client hashes the
 * label object on every inc/observe (it sorts the keys to build a key);
 * measured, that cost 11 % of pass-through throughput. These key by the label
 * values in a fixed order and give prom-client's registry the totals only
 * when it is scraped, in the shape it prints (they implement its metric
 * interface: name, help, type, labelNames, get(), reset()).
 */
import type { Registry } from 'prom-client';

type Labels<L extends string> = Partial<Record<L, string>>;

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** One level of the series tree per label: its values lead to the next level, the last to the series. */
type Level<S> = Map<string, Level<S> | S>;

abstract class FastMetric<L extends string, S extends { labels: Record<string, string> }> {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  /**
   * Series are found through one Map per label, keyed by the label values
   * themselves: the request path passes the same string objects every time
   * (route, upstream and server names from the config), whose hashes V8 keeps,
   * so finding a series builds no key string and allocates nothing.
   */
  private tree: Level<S> = new Map();
  protected readonly all: S[] = [];

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly L[], registry: Registry) {
    registry.registerMetric(this as never);
  }

  protected seriesOf(labels: Labels<L>): S {
    let level = this.tree;
    const last = this.labelNames.length - 1;
    for (let i = 0; i < last; i++) {
      const value = labels[this.labelNames[i]!] ?? '';
      let next = level.get(value) as Level<S> | undefined;
      if (next === undefined) level.set(value, (next = new Map()));
      level = next;
    }
    const value = last >= 0 ? (labels[this.labelNames[last]!] ?? '') : '';
    let series = level.get(value) as S | undefined;
    if (series === undefined) {
      series = this.newSeries(this.copy(labels));
      level.set(value, series);
      this.all.push(series);
    }
    return series;
  }

  protected abstract newSeries(labels: Record<string, string>): S;

  private copy(labels: Labels<L>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.labelNames) if (labels[name] !== undefined) out[name] = labels[name]!;
    return out;
  }

  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }>;

  reset(): void {
    this.tree = new Map();
    this.all.length = 0;
  }
}

/** A monotonic counter, like prom-client's `Counter`, for the hot path. */
export class FastCounter<L extends string> extends FastMetric<L, { labels: Record<string, string>; value: number }> {
  readonly type = 'counter';

  inc(labels: Labels<L>, value = 1): void {
    this.seriesOf(labels).value += value;
  }

  protected newSeries(labels: Record<string, string>) {
    return { labels, value: 0 };
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.all.map((s) => ({ labels: s.labels, value: s.value })) };
  }
}

/** A histogram with fixed buckets, like prom-client's `Histogram`, for the hot path. */
export class FastHistogram<L extends string> extends FastMetric<L, { labels: Record<string, string>; counts: number[]; sum: number; count: number }> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly L[], private readonly buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
  }

  observe(labels: Labels<L>, value: number): void {
    const series = this.seriesOf(labels);
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    if (i < buckets.length) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  protected newSeries(labels: Record<string, string>) {
    return { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  async get() {
    const values: Value[] = [];
    for (const s of this.all) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
