/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * and gauges/counters read at scrape time, rendered in the text exposition
 * format 0.0.4 the way client_golang renders it (families sorted by name,
 * label pairs sorted by name with `le` last, series sorted by label values,
 * families without series left out).
 *
 * @module
 */

/** What a family is, as its `# TYPE` line says. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Bounds the distinct values one label takes in a family. */
export interface LabelCap {
  /** The label to bound (e.g. `client`). */
  label: string;
  /** Distinct values kept; every later new value is folded into {@linkcode LabelCap.fold}. */
  max: number;
  /** @default "other" */
  fold?: string;
}

export interface FamilyOptions {
  name: string;
  help: string;
  /** Label names, in the order `with()` takes their values. @default [] */
  labels?: readonly string[];
  cap?: LabelCap;
}

export interface HistogramOptions extends FamilyOptions {
  /** Upper bounds, strictly increasing; `+Inf` is always added. */
  buckets: readonly number[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A value as the text format writes it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal form. */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** Escapes `# HELP` text: backslash and line feed. */
export function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

export class Counter {
  #v = 0;
  /** Adds `n` (≥ 0). */
  inc(n = 1): void {
    if (!(n >= 0)) throw new RangeError(`Counter increment must be a non-negative number, got ${n}`);
    this.#v += n;
  }
  get value(): number {
    return this.#v;
  }
}

export class Gauge {
  #v = 0;
  inc(n = 1): void {
    this.#v += n;
  }
  dec(n = 1): void {
    this.#v -= n;
  }
  set(v: number): void {
    this.#v = v;
  }
  get value(): number {
    return this.#v;
  }
}

export class Histogram {
  readonly #bounds: readonly number[];
  /** Per bucket (not cumulative); the last slot is `+Inf`. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = new Array(bounds.length + 1).fill(0);
  }

  /** Counts `v` in the first bucket whose upper bound is ≥ `v` (bounds are inclusive). */
  observe(v: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && !(v <= b[i])) i++;
    this.#counts[i]++;
    this.#sum += v;
    this.#count++;
  }

  get sum(): number {
    return this.#sum;
  }
  get count(): number {
    return this.#count;
  }
  /** Cumulative counts per upper bound, `+Inf` last. */
  cumulative(): number[] {
    let acc = 0;
    return this.#counts.map((c) => (acc += c));
  }
}

interface Series<C> {
  values: string[];
  child: C;
}

/** Writes one family's lines. */
interface Renderable {
  readonly name: string;
  render(out: string[]): void;
}

function header(out: string[], name: string, help: string, type: MetricType): void {
  out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
}

/** A family of series that share a name and label names, one child per label-value tuple. */
export class Family<C> implements Renderable {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly #series = new Map<string, Series<C>>();
  readonly #make: () => C;
  readonly #cap?: { index: number; max: number; fold: string; seen: Set<string> };
  /** Label indexes in name order, for output. */
  readonly #order: number[];

  constructor(type: MetricType, opts: FamilyOptions, make: () => C) {
    if (!NAME.test(opts.name)) throw new TypeError(`Invalid metric name "${opts.name}"`);
    const labels = opts.labels ?? [];
    for (const l of labels) {
      if (!LABEL.test(l) || l.startsWith("__")) throw new TypeError(`Invalid label name "${l}" in "${opts.name}"`);
      if (type === "histogram" && l === "le") throw new TypeError(`Label "le" is reserved in histogram "${opts.name}"`);
    }
    if (new Set(labels).size !== labels.length) throw new TypeError(`Duplicate label names in "${opts.name}"`);
    this.name = opts.name;
    this.help = opts.help;
    this.type = type;
    this.labels = labels;
    this.#make = make;
    this.#order = labels.map((_, i) => i).sort((a, b) => (labels[a] < labels[b] ? -1 : 1));
    if (opts.cap) {
      const index = labels.indexOf(opts.cap.label);
      if (index < 0) throw new TypeError(`Capped label "${opts.cap.label}" is not a label of "${opts.name}"`);
      if (!(opts.cap.max >= 0)) throw new RangeError(`Label cap of "${opts.name}" must be ≥ 0, got ${opts.cap.max}`);
      this.#cap = { index, max: opts.cap.max, fold: opts.cap.fold ?? "other", seen: new Set() };
    }
  }

  /** The child for these label values (in the order of `labels`), created on first use. */
  with(...values: string[]): C {
    if (values.length !== this.labels.length) {
      throw new RangeError(`"${this.name}" takes ${this.labels.length} label values, got ${values.length}`);
    }
    const cap = this.#cap;
    if (cap) {
      const v = values[cap.index];
      if (!cap.seen.has(v)) {
        if (cap.seen.size < cap.max) cap.seen.add(v);
        else values[cap.index] = cap.fold;
      }
    }
    const key = JSON.stringify(values);
    let s = this.#series.get(key);
    if (!s) {
      s = { values, child: this.#make() };
      this.#series.set(key, s);
    }
    return s.child;
  }

  /** Number of series. */
  get size(): number {
    return this.#series.size;
  }

  /** `{a="x",b="y"}` for one series, names sorted, with `extra` (e.g. `le`) last. */
  protected labelText(values: string[], extra?: string): string {
    const parts = this.#order.map((i) => `${this.labels[i]}="${escapeLabelValue(values[i])}"`);
    if (extra) parts.push(extra);
    return parts.length ? `{${parts.join(",")}}` : "";
  }

  #sorted(): Series<C>[] {
    const key = (s: Series<C>) => this.#order.map((i) => s.values[i]);
    return [...this.#series.values()].sort((a, b) => {
      const ka = key(a), kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
      return 0;
    });
  }

  render(out: string[]): void {
    if (this.#series.size === 0) return;
    header(out, this.name, this.help, this.type);
    for (const s of this.#sorted()) this.renderSeries(out, s.values, s.child);
  }

  /** Writes one series' sample lines. */
  protected renderSeries(out: string[], values: string[], child: C): void {
    out.push(`${this.name}${this.labelText(values)} ${formatValue((child as Counter | Gauge).value)}`);
  }
}

class HistogramFamily extends Family<Histogram> {
  readonly #bounds: readonly number[];

  constructor(opts: HistogramOptions, bounds: readonly number[]) {
    super("histogram", opts, () => new Histogram(bounds));
    this.#bounds = bounds;
  }

  protected override renderSeries(out: string[], values: string[], h: Histogram): void {
    const cum = h.cumulative();
    for (let i = 0; i < cum.length; i++) {
      const le = `le="${i < this.#bounds.length ? formatValue(this.#bounds[i]) : "+Inf"}"`;
      out.push(`${this.name}_bucket${this.labelText(values, le)} ${cum[i]}`);
    }
    out.push(`${this.name}_sum${this.labelText(values)} ${formatValue(h.sum)}`);
    out.push(`${this.name}_count${this.labelText(values)} ${h.count}`);
  }
}

/** A label-less counter or gauge whose value is read at scrape time; `undefined` leaves it out. */
class FuncFamily implements Renderable {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge",
    readonly read: () => number | undefined,
  ) {}

  render(out: string[]): void {
    const v = this.read();
    if (v === undefined) return;
    header(out, this.name, this.help, this.type);
    out.push(`${this.name} ${formatValue(v)}`);
  }
}

/** Checks and normalises histogram bounds: finite, strictly increasing, a trailing `+Inf` dropped. */
function checkBounds(name: string, buckets: readonly number[]): number[] {
  const b = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : [...buckets];
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i]) || (i > 0 && b[i] <= b[i - 1])) {
      throw new RangeError(`Histogram "${name}" buckets must be finite and strictly increasing, got ${buckets}`);
    }
  }
  return b;
}

/** Families by name; {@linkcode Registry.render} writes them all. */
export class Registry {
  readonly #families = new Map<string, Renderable>();

  #add<F extends Renderable>(f: F): F {
    if (this.#families.has(f.name)) throw new TypeError(`Metric "${f.name}" is already registered`);
    if (!NAME.test(f.name)) throw new TypeError(`Invalid metric name "${f.name}"`);
    this.#families.set(f.name, f);
    return f;
  }

  counter(opts: FamilyOptions): Family<Counter> {
    return this.#add(new Family("counter", opts, () => new Counter()));
  }

  gauge(opts: FamilyOptions): Family<Gauge> {
    return this.#add(new Family("gauge", opts, () => new Gauge()));
  }

  histogram(opts: HistogramOptions): Family<Histogram> {
    return this.#add(new HistogramFamily(opts, checkBounds(opts.name, opts.buckets)));
  }

  /** A label-less gauge read at scrape time. */
  gaugeFunc(name: string, help: string, read: () => number | undefined): void {
    this.#add(new FuncFamily(name, help, "gauge", read));
  }

  /** A label-less counter read at scrape time. */
  counterFunc(name: string, help: string, read: () => number | undefined): void {
    this.#add(new FuncFamily(name, help, "counter", read));
  }

  /** Everything in the text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const name of [...this.#families.keys()].sort()) this.#families.get(name)!.render(out);
    return out.length ? out.join("\n") + "\n" : "";
  }
}
