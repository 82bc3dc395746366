/**
 * GOST's untyped option bag. Keys are case-insensitive; values come as
 * strings from the command line or as typed values from YAML/JSON. Each
 * component parses what it needs into a typed options object with these
 * getters, passing GOST's alias keys in GOST's order: the first alias that is
 * present wins, even when its value cannot be parsed (then it errors).
 *
 * @module
 */

/** A value that may appear in metadata. */
export type MetadataValue = unknown;

/** Case-insensitive, read-only option bag. */
export class Metadata {
  readonly #map = new Map<string, MetadataValue>();
  /** Keys some component asked for; shared with copies, so the config builder can name unused options. */
  readonly #asked: Set<string>;

  constructor(init?: Record<string, MetadataValue> | Metadata) {
    if (init instanceof Metadata) {
      for (const [k, v] of init.#map) this.#map.set(k, v);
      this.#asked = init.#asked;
    } else {
      this.#asked = new Set();
      if (init) { for (const [k, v] of Object.entries(init)) this.#map.set(k.toLowerCase(), v); }
    }
  }

  /** The raw value of the first alias present. */
  get(...keys: string[]): MetadataValue {
    for (const k of keys) {
      const lower = k.toLowerCase();
      this.#asked.add(lower);
      const v = this.#map.get(lower);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  has(...keys: string[]): boolean {
    for (const k of keys) this.#asked.add(k.toLowerCase());
    return keys.some((k) => this.#map.has(k.toLowerCase()));
  }

  /** Keys present that no component has asked for (lower case). */
  unasked(): string[] {
    return [...this.#map.keys()].filter((k) => !this.#asked.has(k));
  }

  /** A string, or `undefined`. Numbers and booleans are stringified. */
  string(...keys: string[]): string | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "object") throw new TypeError(`Option "${keys[0]}" must be a string, got ${JSON.stringify(v)}`);
    return String(v);
  }

  /** Go `strconv.ParseBool` semantics. */
  bool(...keys: string[]): boolean | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null) return undefined;
    if (typeof v === "boolean") return v;
    if (typeof v === "number") return v !== 0;
    const s = String(v);
    if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
    if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
    throw new TypeError(`Option "${keys[0]}" must be a boolean, got "${s}"`);
  }

  int(...keys: string[]): number | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null) return undefined;
    const n = typeof v === "number" ? v : /^[+-]?\d+$/.test(String(v).trim()) ? Number(String(v).trim()) : NaN;
    if (!Number.isInteger(n)) throw new TypeError(`Option "${keys[0]}" must be an integer, got "${v}"`);
    return n;
  }

  float(...keys: string[]): number | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new TypeError(`Option "${keys[0]}" must be a number, got "${v}"`);
    return n;
  }

  /** A duration in milliseconds: Go syntax (`1m30s`, `500ms`) or a bare number of seconds. */
  duration(...keys: string[]): number | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined) throw new TypeError(`Option "${keys[0]}" must be a duration like "30s", got "${v}"`);
    return ms;
  }

  /** A string→string map (YAML only; GOST ignores map options on the command line). */
  map(...keys: string[]): Record<string, string> | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[k] = String(val);
    return out;
  }

  /** A list from a YAML sequence or a comma-separated string. */
  list(...keys: string[]): string[] | undefined {
    const v = this.get(...keys);
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v)) return v.map(String);
    return String(v).split(",").map((s) => s.trim()).filter(Boolean);
  }

  /** Plain object copy (lower-case keys), e.g. for `-O yaml`. */
  toObject(): Record<string, MetadataValue> {
    return Object.fromEntries(this.#map);
  }

  get size(): number {
    return this.#map.size;
  }
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a GOST metadata duration into milliseconds: Go's `time.ParseDuration`
 * syntax, or a bare integer meaning seconds. Returns undefined when invalid.
 */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v * 1000 : undefined;
  const s = String(v).trim();
  if (/^[+-]?\d+$/.test(s)) return Number(s) * 1000;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const part of s.replace(/^[+-]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * UNITS[part[2]];
  }
  return m[1] === "-" ? -total : total;
}
