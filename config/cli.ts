/**
 * GOST's command-line flags with Go `flag` package semantics: one or two
 * dashes, `-L x` or `-L=x`, boolean flags only as `-D` or `-D=false`, parsing
 * stops at the first non-flag argument or after `--`.
 *
 * @module
 */
import { goDurationToMs } from "./schema.ts";
import type { APIConfig, Config, MetricsConfig } from "./schema.ts";
import { parseAddrURL } from "./url.ts";
import { originOf, setOrigin } from "./origin.ts";

export interface CLIArgs {
  /** `-L`: one service per value. */
  L: string[];
  /** `-F`: one hop of `chain-0` per value. */
  F: string[];
  /** `-C`: config sources (file, `-`, inline JSON), merged left to right. */
  C: string[];
  /** `-O`: print the merged config and exit; `json`, anything else means YAML. */
  O?: string;
  /** `-D`: log level `debug`. */
  D: boolean;
  /** `-DD`: log level `trace` (wins over `-D`). */
  DD: boolean;
  /** `-V`: print the version and exit. */
  V: boolean;
  /** `-api`: `[user:pass@]host:port[?pathPrefix=/x&accesslog=true]`. */
  api?: string;
  /** `-metrics`: `[user:pass@]host:port[?path=/metrics]`. */
  metrics?: string;
  /** `-R`: config reload interval in milliseconds. */
  R?: number;
  /** `-h`, `-help`, `--help`: print {@linkcode USAGE} and exit 0. */
  help: boolean;
  /** Arguments after the first non-flag (or after `--`), unparsed. */
  rest: string[];
}

/** A bad command line; the caller prints the message and {@linkcode USAGE} and exits with status 2. */
export class CLIError extends SyntaxError {
  override name = "CLIError";
  constructor(message: string, readonly flag: string) {
    super(message);
  }
}

type Kind = "list" | "string" | "bool" | "duration";
const FLAGS: Record<string, { kind: Kind; usage: string; arg?: string }> = {
  C: { kind: "list", arg: "source", usage: "configuration: a file, - for stdin, or inline JSON {...} (repeatable)" },
  D: { kind: "bool", usage: "debug log level" },
  DD: { kind: "bool", usage: "trace log level" },
  F: { kind: "list", arg: "url", usage: "chain node, one hop per flag (repeatable)" },
  L: { kind: "list", arg: "url", usage: "service, e.g. http://:8080 or relay+wss://user:pass@:8443 (repeatable)" },
  O: { kind: "string", arg: "format", usage: "print the configuration as yaml or json and exit" },
  R: {
    kind: "duration",
    arg: "interval",
    usage: "reload the configuration periodically, e.g. 30s (SIGHUP reloads at once)",
  },
  V: { kind: "bool", usage: "print the version and exit" },
  api: {
    kind: "string",
    arg: "addr",
    usage: "web API address, [user:pass@]host:port[?pathPrefix=/api&accesslog=true]",
  },
  metrics: { kind: "string", arg: "addr", usage: "Prometheus metrics address, [user:pass@]host:port[?path=/metrics]" },
};

/** Help text in the layout of Go's `flag.PrintDefaults`. */
export const USAGE: string = [
  "Usage: dost [flags]",
  ...Object.entries(FLAGS).map(([name, f]) =>
    f.kind === "bool" ? `  -${name}\t${f.usage}` : `  -${name} ${f.arg}\n    \t${f.usage}`
  ),
  "",
].join("\n");

const TRUE = ["1", "t", "T", "TRUE", "true", "True"];
const FALSE = ["0", "f", "F", "FALSE", "false", "False"];

/**
 * Parses `argv` (without the program name) like Go's `flag.Parse`.
 *
 * @throws {CLIError} for an unknown flag, a missing value or a bad value.
 */
export function parseArgs(argv: readonly string[]): CLIArgs {
  const out: CLIArgs = { L: [], F: [], C: [], D: false, DD: false, V: false, help: false, rest: [] };
  let i = 0;
  while (i < argv.length) {
    const s = argv[i];
    if (s.length < 2 || s[0] !== "-") break; // first non-flag ("-" alone included)
    if (s === "--") {
      i++;
      break;
    }
    let name = s.slice(s[1] === "-" ? 2 : 1);
    if (name === "" || name[0] === "-" || name[0] === "=") throw new CLIError(`Bad flag syntax "${s}"`, s);
    i++;
    let value: string | undefined;
    const eq = name.indexOf("=", 1);
    if (eq > 0) [name, value] = [name.slice(0, eq), name.slice(eq + 1)];
    const flag = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (!flag) {
      if (name === "h" || name === "help") {
        out.help = true;
        return out;
      }
      throw new CLIError(`Unknown flag "-${name}"`, name);
    }
    if (flag.kind === "bool") {
      if (value !== undefined && !TRUE.includes(value) && !FALSE.includes(value)) {
        throw new CLIError(`Invalid boolean value "${value}" for flag "-${name}"`, name);
      }
      (out as unknown as Record<string, boolean>)[name] = value === undefined || TRUE.includes(value);
      continue;
    }
    if (value === undefined) {
      if (i >= argv.length) throw new CLIError(`Flag "-${name}" needs an argument`, name);
      value = argv[i++]; // Go takes the next argument whatever it looks like
    }
    if (flag.kind === "list") out[name as "L" | "F" | "C"].push(value);
    else if (flag.kind === "duration") {
      const ms = goDurationToMs(value);
      if (ms === undefined) {
        throw new CLIError(`Invalid value "${value}" for flag "-${name}": expected a duration like "30s"`, name);
      }
      out.R = ms;
    } else (out as unknown as Record<string, string>)[name] = value;
  }
  out.rest = argv.slice(i);
  return out;
}

/**
 * GOST's multi-process mode: when a lone `--` stands between two arguments
 * (GOST looks for `" -- "` in the joined list), each group between them runs
 * as its own worker process (`_GOST_ID=<index>`). Returns the non-empty
 * groups, or `undefined` for a single process.
 */
export function splitWorkers(argv: readonly string[]): string[][] | undefined {
  if (!argv.slice(1, -1).includes("--")) return undefined;
  const groups: string[][] = [[]];
  for (const a of argv) {
    if (a === "--") groups.push([]);
    else groups[groups.length - 1].push(a);
  }
  return groups.filter((g) => g.length > 0);
}

/** Environment lookup; returns `undefined` for unset variables. */
export type Env = (name: string) => string | undefined;

function denoEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/**
 * Applies what overrides the merged configuration, in GOST HEAD's order:
 * `GOST_API`, `GOST_LOGGER_LEVEL`, `GOST_PROFILING`, `GOST_METRICS`, then
 * `-api`, `-D`/`-DD`, `-metrics`. Returns a new object; `cfg` is not changed.
 */
export function applyOverrides(cfg: Config, args: CLIArgs, env: Env = denoEnv): Config {
  const out: Config = { ...cfg };
  const from = new Map<string, string>();
  const fromEnv = <K extends "api" | "log" | "profiling" | "metrics">(
    key: K,
    name: string,
    make: (v: string) => Config[K],
  ) => {
    const v = env(name);
    if (!v) return;
    out[key] = make(v);
    from.set(key, name);
  };
  fromEnv("api", "GOST_API", (addr) => ({ addr }));
  fromEnv("log", "GOST_LOGGER_LEVEL", (level) => ({ level }));
  fromEnv("profiling", "GOST_PROFILING", (addr) => ({ addr }));
  fromEnv("metrics", "GOST_METRICS", (addr) => ({ addr }));

  if (args.api) {
    const u = parseAddrURL(args.api);
    const a: APIConfig = { addr: u.addr };
    if (u.auth) a.auth = u.auth;
    if (u.get("pathPrefix")) a.pathPrefix = u.get("pathPrefix");
    if (TRUE.includes(u.get("accesslog") ?? "")) a.accesslog = true;
    out.api = a;
    from.set("api", `-api "${args.api}"`);
  }
  if (args.D || args.DD) out.log = { ...out.log, level: args.DD ? "trace" : "debug" };
  if (args.metrics) {
    const u = parseAddrURL(args.metrics);
    const m: MetricsConfig = { addr: u.addr };
    if (u.auth) m.auth = u.auth;
    if (u.get("path")) m.path = u.get("path");
    out.metrics = m;
    from.set("metrics", `-metrics "${args.metrics}"`);
  }
  // Errors about these sections name the flag or variable that set them.
  const base = originOf(cfg);
  setOrigin(out, {
    file: base?.file ?? "<config>",
    path: "",
    line: () => 0,
    of: (key) => {
      const flag = from.get(key);
      return flag ? { file: flag, path: "", line: () => 0 } : base?.of?.(key) ?? base;
    },
  });
  return out;
}
