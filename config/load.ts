/**
 * Loading GOST configuration files (YAML or JSON), with viper's rules: keys
 * are case-insensitive and mapped to the canonical names of `schema.ts`,
 * keys of free maps (`metadata`, headers) are lower-cased, unknown keys are
 * ignored. Types are checked and every error names the source, the line and
 * the key path: `gost.yaml:7: services[0].handler.type: expected a string, got 42`.
 *
 * @module
 */
import type * as YAML from "yaml";
import type { Node } from "yaml";
import {
  type Config,
  CONFIG_SHAPE,
  type Field,
  formatGoDuration,
  type HopConfig,
  parseGoDuration,
  type Shape,
  SINGLETON_SECTIONS,
} from "./schema.ts";
import { buildCLIConfig, type KnownNames } from "./url.ts";
import { applyOverrides, type CLIArgs, type Env } from "./cli.ts";
import { ConfigError, errorAt, originOf, setOrigin } from "./origin.ts";

export { ConfigError };

export type ConfigFormat = "yaml" | "json";

export interface ParseOptions {
  /** Name used in error messages, and to pick the format from its extension. @default "<config>" */
  file?: string;
  /** Overrides the extension rule. */
  format?: ConfigFormat;
  /** Receives one line per key that no GOST version knows (a typo like `admision:`). @default ignored */
  warn?: (message: string) => void;
}

let yaml: typeof YAML | undefined;

/**
 * Imports the YAML parser that {@linkcode parseConfig} needs (once). A
 * command line without `-C` never needs it, so dost starts without it.
 */
export async function loadParser(): Promise<void> {
  yaml ??= await import("yaml");
}

/** `.json` → JSON; `.yaml`, `.yml` and anything else → YAML (GOST's URL loader also falls back to YAML). */
export function formatOf(file: string): ConfigFormat {
  return /\.json$/i.test(file) ? "json" : "yaml";
}

/**
 * Parses one configuration text.
 *
 * @throws {ConfigError} on a syntax error, a wrong type, or a service/node without `addr`.
 */
export function parseConfig(text: string, opts: ParseOptions = {}): Config {
  if (!yaml) throw new Error("parseConfig: call `await loadParser()` first");
  const { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } = yaml;
  const file = opts.file ?? "<config>";
  const format = opts.format ?? formatOf(file);
  const lines = new LineCounter();
  if (format === "json") {
    const at = jsonErrorOffset(text);
    if (at !== undefined) {
      lines.addNewLine(0);
      for (let i = 0; i < text.length; i++) if (text[i] === "\n") lines.addNewLine(i + 1);
      const what = at < text.length ? `unexpected ${JSON.stringify(text[at])}` : "unexpected end of input";
      throw new ConfigError(file, lines.linePos(at).line, "", `invalid JSON: ${what}`);
    }
  }
  // JSON is read through the YAML parser too (JSON is YAML 1.2) so that errors can name lines.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    merge: true,
    uniqueKeys: format === "yaml",
  });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ConfigError(file, lines.linePos(e.pos[0]).line, "", `invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const lineAt = (n: unknown) => {
    const range = (n as Node | null | undefined)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  // The line of the deepest node on the path that exists: a key's line, or a list item's.
  const lineOf = (raw: (string | number)[]): number => {
    let node: unknown = doc.contents;
    let line = 1;
    for (const seg of raw) {
      if (isAlias(node)) node = node.resolve(doc);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        line = lineAt(pair?.key) ?? line;
        next = pair?.value;
      } else if (isSeq(node) && typeof seg === "number") {
        next = node.items[seg];
        line = lineAt(next) ?? line;
      }
      if (next === undefined || next === null) break;
      node = next;
    }
    return line;
  };
  let root: unknown;
  try {
    // Anchors are checked here: an unknown alias (or an alias bomb past yaml's maxAliasCount) throws.
    root = doc.toJS() ?? {};
  } catch (err) {
    let line = 1;
    visit(doc, {
      Alias(_, node) {
        if (node.resolve(doc) !== undefined) return;
        line = lineAt(node) ?? line;
        return visit.BREAK;
      },
    });
    throw new ConfigError(file, line, "", `invalid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const ctx: Ctx = { file, lineOf, warn: opts.warn ?? (() => {}) };
  if (!isPlainObject(root)) {
    throw new ConfigError(file, 1, "", `expected a map at the top level, got ${describe(root)}`);
  }
  const cfg = readStruct(root, CONFIG_SHAPE, [], "", ctx) as Config;
  finish(cfg);
  return cfg;
}

interface Ctx {
  file: string;
  lineOf(raw: (string | number)[]): number;
  warn(message: string): void;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (isPlainObject(v)) return "a map";
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** Lower-case index of a shape's keys, built once per shape. */
const INDEX = new WeakMap<Shape, Map<string, string>>();
function canonicalKey(shape: Shape, key: string): string | undefined {
  let idx = INDEX.get(shape);
  if (!idx) INDEX.set(shape, idx = new Map(Object.keys(shape).map((k) => [k.toLowerCase(), k])));
  return idx.get(key.toLowerCase());
}

function readStruct(
  v: Record<string, unknown>,
  shape: Shape,
  raw: (string | number)[],
  path: string,
  ctx: Ctx,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v)) {
    const canon = canonicalKey(shape, key);
    if (canon === undefined) {
      // viper ignores unknown keys; dost says so, since a misspelt control would be dropped silently.
      const at = path ? `${path}.${key}` : key;
      ctx.warn(`${ctx.file}:${ctx.lineOf([...raw, key])}: ${at}: unknown key, ignored (no gost version reads it)`);
      continue;
    }
    if (value === null || value === undefined) continue;
    const got = readField(value, shape[canon], [...raw, key], path ? `${path}.${canon}` : canon, ctx);
    if (!isZero(got)) out[canon] = got;
  }
  setOrigin(out, { file: ctx.file, path, line: (key) => ctx.lineOf(key === undefined ? raw : [...raw, key]) });
  return out;
}

function readField(v: unknown, field: Field, raw: (string | number)[], path: string, ctx: Ctx): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(ctx.file, ctx.lineOf(raw), path, `${what}, got ${describe(v)}`);
  };
  if (typeof field === "object") {
    if ("struct" in field) {
      if (!isPlainObject(v)) fail("expected a map");
      return readStruct(v as Record<string, unknown>, field.struct, raw, path, ctx);
    }
    if (!Array.isArray(v)) fail("expected a list");
    return (v as unknown[]).map((item, i) => {
      if (field.list === "any") return lowerKeys(item);
      if (!isPlainObject(item)) {
        throw new ConfigError(
          ctx.file,
          ctx.lineOf([...raw, i]),
          `${path}[${i}]`,
          `expected a map, got ${describe(item)}`,
        );
      }
      return readStruct(item, field.list, [...raw, i], `${path}[${i}]`, ctx);
    });
  }
  switch (field) {
    case "string":
      return typeof v === "string" ? v : fail("expected a string");
    case "text":
      return ["string", "number", "boolean"].includes(typeof v) ? String(v) : fail("expected a string");
    case "int":
      if (typeof v === "number" && Number.isInteger(v)) return v;
      if (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v);
      return fail("expected an integer");
    case "bool":
      if (typeof v === "boolean") return v;
      if (typeof v === "number") return v !== 0;
      if (typeof v === "string" && /^(1|t|T|TRUE|true|True)$/.test(v)) return true;
      if (typeof v === "string" && /^(0|f|F|FALSE|false|False)$/.test(v)) return false;
      return fail("expected a boolean");
    case "duration":
      // Typed durations: a Go duration string, or an integer of nanoseconds (not seconds as in metadata).
      if (typeof v === "number" && Number.isInteger(v)) return v === 0 ? undefined : formatGoDuration(BigInt(v));
      if (typeof v === "string" && parseGoDuration(v) !== undefined) return v.trim();
      return fail(`expected a duration like "30s"`);
    case "strings":
      if (typeof v === "string") return v === "" ? [] : v.split(",");
      if (Array.isArray(v) && v.every((x) => ["string", "number", "boolean"].includes(typeof x))) return v.map(String);
      return fail("expected a list of strings");
    case "metadata":
    case "any":
      if (field === "metadata" && !isPlainObject(v)) fail("expected a map");
      return lowerKeys(v);
    case "header":
      if (!isPlainObject(v)) fail("expected a map");
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => {
          if (isPlainObject(x) || Array.isArray(x)) {
            throw new ConfigError(
              ctx.file,
              ctx.lineOf([...raw, k]),
              `${path}.${k}`,
              `expected a string, got ${describe(x)}`,
            );
          }
          return [k.toLowerCase(), String(x ?? "")];
        }),
      );
  }
}

/** viper lower-cases the keys of every nested map, inside lists too. */
function lowerKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(lowerKeys);
  if (!isPlainObject(v)) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), lowerKeys(x)]));
}

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isPlainObject(v) && Object.keys(v).length === 0;
}

function originError(obj: object, key: string, reason: string): ConfigError {
  return errorAt(obj, key.replace(/^\./, ""), reason);
}

/**
 * Per-source checks and defaults (paths are the file's own): services,
 * nodes and targets need an address; services, chains and authers need a
 * name, since others refer to them by it; anonymous hops, nodes and targets
 * are named by position, as the command line names them.
 */
function finish(cfg: Config): void {
  const need = (obj: object, key: string) => {
    if (!(obj as Record<string, unknown>)[key]) throw originError(obj, `.${key}`, "missing");
  };
  const nameAll = (items: { name: string }[] | undefined, prefix: string) =>
    items?.forEach((it, i) => it.name ||= `${prefix}-${i}`);
  for (const svc of cfg.services ?? []) {
    // gost's API writes the read-only `status` into saved configs; it means nothing when loaded.
    delete (svc as { status?: unknown }).status;
    need(svc, "name");
    need(svc, "addr");
    for (const n of svc.forwarder?.nodes ?? []) need(n, "addr");
    nameAll(svc.forwarder?.nodes, "target");
  }
  for (const a of cfg.authers ?? []) need(a, "name");
  const hop = (h: HopConfig, i: number) => {
    for (const n of h.nodes ?? []) need(n, "addr");
    nameAll(h.nodes, "node");
    if (!h.name) {
      if (!h.nodes?.length && !hasLoader(h)) throw originError(h, "", "hop has no nodes and no name");
      h.name = `hop-${i}`;
    }
  };
  (cfg.hops ?? []).forEach(hop);
  for (const c of cfg.chains ?? []) {
    need(c, "name");
    (c.hops ?? []).forEach(hop);
  }
}

const hasLoader = (h: HopConfig) => Boolean(h.file || h.redis || h.http || h.plugin);

/**
 * Checks what only the merged configuration can tell: a chain hop without
 * nodes (and without a loader or plugin) must name a top-level hop.
 *
 * @throws {ConfigError}
 */
export function validateConfig(cfg: Config): void {
  const named = new Set((cfg.hops ?? []).map((h) => h.name));
  for (const [ci, chain] of (cfg.chains ?? []).entries()) {
    for (const [hi, hop] of (chain.hops ?? []).entries()) {
      if (hop.nodes?.length || hasLoader(hop)) continue;
      if (named.has(hop.name)) continue;
      const what = `hop "${hop.name}" has no nodes and there is no top-level hop of that name`;
      throw errorAt(hop, "", what, `chains[${ci}].hops[${hi}]`);
    }
  }
}

/**
 * Merges sources in order: list sections are concatenated, singleton
 * sections (`tls`, `log`, `profiling`, `api`, `metrics`) are replaced by a
 * later source that has them (GOST HEAD `mergeConfig`).
 */
export function mergeConfigs(...configs: Config[]): Config {
  const out: Record<string, unknown> = {};
  const singletons = new Set<string>(SINGLETON_SECTIONS);
  // Errors about a whole section name the source that gave it.
  const from = new Map<string, object>();
  setOrigin(out, { file: "<config>", path: "", line: () => 0, of: (key) => originOf(from.get(key) ?? {}) });
  for (const cfg of configs) {
    for (const [k, v] of Object.entries(cfg)) {
      if (v === undefined) continue;
      if (singletons.has(k) || !from.has(k)) from.set(k, cfg);
      out[k] = singletons.has(k) || !Array.isArray(v) ? v : [...((out[k] as unknown[] | undefined) ?? []), ...v];
    }
  }
  return out as Config;
}

export interface SourceOptions {
  /** Reads standard input for `-C -`. @default reads Deno.stdin */
  readStdin?: () => Promise<string>;
  /** Receives warnings (unknown keys, scheme fallbacks), one line each. @default ignored */
  warn?: (message: string) => void;
}

/**
 * Loads one `-C` value: inline JSON (`{...}`), `-` for standard input (JSON
 * when it starts with `{`, YAML otherwise), or a file path (format from the
 * extension).
 *
 * @throws {ConfigError} for bad content; an `Error` when the file cannot be read.
 */
export async function loadConfigSource(source: string, opts: SourceOptions = {}): Promise<Config> {
  await loadParser();
  const s = source.trim();
  const warn = opts.warn;
  if (s.startsWith("{") && s.endsWith("}")) return parseConfig(s, { file: "<inline>", format: "json", warn });
  if (s === "-") {
    const text = await (opts.readStdin ?? (() => new Response(Deno.stdin.readable).text()))();
    return parseConfig(text, { file: "<stdin>", format: text.trimStart().startsWith("{") ? "json" : "yaml", warn });
  }
  let text: string;
  try {
    text = await Deno.readTextFile(source);
  } catch (e) {
    throw new Error(`Cannot read config file "${source}": ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(text, { file: source, warn });
}

/** Extensions tried in each directory, in viper's order (`json` before `yaml`). */
const DEFAULT_EXTS = ["json", "yaml", "yml"];

/**
 * The default configuration file GOST would load: `gost.{json,yaml,yml}` in
 * `/etc/gost/`, then `$HOME/.gost/`, then the working directory; the first
 * that exists wins.
 */
export function findDefaultConfig(dirs?: string[]): string | undefined {
  if (!dirs) {
    let home: string | undefined;
    try {
      home = Deno.env.get("HOME");
    } catch { /* no env permission: skip $HOME */ }
    dirs = ["/etc/gost", ...(home ? [`${home}/.gost`] : []), "."];
  }
  for (const dir of dirs) {
    for (const ext of DEFAULT_EXTS) {
      const path = `${dir.replace(/\/+$/, "")}/gost.${ext}`;
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch { /* absent or unreadable: keep looking */ }
    }
  }
  return undefined;
}

export interface ResolveOptions extends SourceOptions {
  /** Component names for the scheme fallbacks. @default GOST_NAMES */
  known?: KnownNames;
  /** Environment lookup for `GOST_*` overrides. @default Deno.env.get, when permitted */
  env?: Env;
  /** `_GOST_ID` of a `--` worker. */
  workerId?: string;
  /** Directories searched for the default file. @default /etc/gost, $HOME/.gost, . */
  defaultDirs?: string[];
}

/**
 * The whole start-up path of GOST's configuration: `-C` sources in order,
 * then the `-L`/`-F` config; the default file when that leaves no service, no
 * API and no `-C`; then `GOST_*` variables and `-D`/`-DD`/`-api`/`-metrics`.
 *
 * @throws {SyntaxError} from the URL grammar, {@linkcode ConfigError} from files.
 */
export async function loadConfig(args: CLIArgs, opts: ResolveOptions = {}): Promise<Config> {
  const sources: Config[] = [];
  for (const c of args.C) sources.push(await loadConfigSource(c, opts));
  let cfg = mergeConfigs(...sources, buildCLIConfig(args, opts.known, { workerId: opts.workerId, warn: opts.warn }));
  if (!cfg.services?.length && !args.api && !cfg.api && args.C.length === 0) {
    const path = findDefaultConfig(opts.defaultDirs);
    if (!path) {
      throw new Error("No configuration: give -L or -C, or put gost.yaml in /etc/gost/, $HOME/.gost/ or .");
    }
    cfg = mergeConfigs(await loadConfigSource(path, opts), cfg);
  }
  cfg = applyOverrides(cfg, args, opts.env);
  validateConfig(cfg);
  return cfg;
}

/**
 * Offset of the first JSON syntax error in `text`, or `undefined` when it is
 * valid; `JSON.parse` does not say where it failed.
 */
function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const value = (): boolean => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) return i++, true;
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"' || !string()) return false;
          ws();
          if (text[i++] !== ":") return i--, false;
        }
        if (!value()) return false;
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) return i++, true;
        return false;
      }
    }
    if (c === '"') return string();
    const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  const string = (): boolean => {
    // deno-lint-ignore no-control-regex -- raw control characters are not allowed in JSON strings
    const m = /^"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  if (!value()) return Math.min(i, text.length);
  ws();
  return i < text.length ? i : undefined;
}
