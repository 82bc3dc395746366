/**
 * GOST's YAML/JSON configuration as plain data, with GOST's canonical key
 * names (`go-gost/x` `config/config.go`). Nothing here creates runtime
 * objects; `build.ts` turns a {@linkcode Config} into services.
 *
 * Conventions shared by `url.ts`, `load.ts` and `output.ts`:
 * - an absent field and a zero value (`""`, `0`, `false`, empty list/map)
 *   mean the same thing, as in Go, and both are left out of the objects;
 * - typed durations are Go duration strings (`"30s"`, `"1h0m0s"`);
 * - `metadata` maps are untyped option bags; the loader lower-cases their
 *   keys (viper does), the command line keeps the spelling it was given;
 * - services, chains and authers always have a `name`, hops, nodes and
 *   forward targets get `hop-N`/`node-N`/`target-N` when the file has none,
 *   and services, nodes and targets always have an `addr` (`load.ts` checks).
 *
 * {@linkcode CONFIG_SHAPE} describes the same tree at run time so that the
 * loader can map keys case-insensitively and check types, and the printer can
 * order keys like GOST. Keep the interfaces and the shapes in step.
 *
 * @module
 */

/** An untyped, case-insensitive option bag (see `transports/metadata.ts`). */
export type MetadataConfig = Record<string, unknown>;

export interface AuthConfig {
  username?: string;
  password?: string;
}

export interface TLSOptionsConfig {
  /** `VersionTLS10` … `VersionTLS13`, case-insensitive. */
  minVersion?: string;
  maxVersion?: string;
  /** Go cipher suite names. */
  cipherSuites?: string[];
  alpn?: string[];
}

export interface TLSConfig {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  /** Client side: verify the server certificate and name. @default false */
  secure?: boolean;
  /** Client side: SNI and name to verify; defaults to the node's host. */
  serverName?: string;
  options?: TLSOptionsConfig;
  /** Global section only: lifetime of the generated certificate. @default "8760h0m0s" */
  validity?: string;
  /** Global section only. @default "gost.run" */
  commonName?: string;
  /** Global section only. @default "GOST" */
  organization?: string;
  /** HEAD, server side. */
  rejectUnknownSNI?: boolean;
  /** HEAD, server side. */
  serverNames?: string[];
}

export interface SelectorConfig {
  /** `round`, `rr`, `random`, `rand`, `fifo`, `ha`, `hash`. */
  strategy?: string;
  maxFails?: number;
  /** Go duration string. */
  failTimeout?: string;
}

export interface ChainGroupConfig {
  chains?: string[];
  selector?: SelectorConfig;
}

export interface SockOptsConfig {
  mark?: number;
}

export interface PluginConfig {
  type?: string;
  addr?: string;
  tls?: TLSConfig;
  timeout?: string;
  token?: string;
}

export interface FileLoaderConfig {
  path?: string;
}

export interface RedisLoaderConfig {
  addr?: string;
  db?: number;
  username?: string;
  password?: string;
  key?: string;
  type?: string;
}

export interface HTTPLoaderConfig {
  url?: string;
  timeout?: string;
}

/** Dynamic sources shared by authers, bypasses, hops, … */
export interface LoaderFields {
  reload?: string;
  file?: FileLoaderConfig;
  redis?: RedisLoaderConfig;
  http?: HTTPLoaderConfig;
  plugin?: PluginConfig;
}

export interface HandlerConfig {
  /** @default "auto" */
  type?: string;
  retries?: number;
  chain?: string;
  chainGroup?: ChainGroupConfig;
  auther?: string;
  authers?: string[];
  auth?: AuthConfig;
  tls?: TLSConfig;
  limiter?: string;
  observer?: string;
  metadata?: MetadataConfig;
}

export interface ListenerConfig {
  /** @default "tcp" */
  type?: string;
  /** Only meaningful for rtcp/rudp/runix: the remote port is bound through this chain. */
  chain?: string;
  chainGroup?: ChainGroupConfig;
  auther?: string;
  authers?: string[];
  auth?: AuthConfig;
  tls?: TLSConfig;
  metadata?: MetadataConfig;
}

export interface HTTPNodeConfig {
  host?: string;
  header?: Record<string, string>;
}

export interface TLSNodeConfig {
  serverName?: string;
  secure?: boolean;
  options?: TLSOptionsConfig;
}

export interface ForwardNodeConfig {
  name: string;
  addr: string;
  /** Deprecated spelling of `filter.host`. */
  host?: string;
  /** Which sniffed requests this target serves (only `host` is run by dost). */
  filter?: { host?: string; protocol?: string; path?: string };
  network?: string;
  protocol?: string;
  path?: string;
  bypass?: string;
  bypasses?: string[];
  http?: HTTPNodeConfig;
  tls?: TLSNodeConfig;
  auth?: AuthConfig;
  metadata?: MetadataConfig;
}

export interface ForwarderConfig {
  name?: string;
  /** HEAD: name of a top-level hop to forward to. */
  hop?: string;
  selector?: SelectorConfig;
  nodes?: ForwardNodeConfig[];
}

export interface RecorderObjectConfig {
  name?: string;
  record?: string;
  metadata?: MetadataConfig;
}

export interface ServiceConfig {
  name: string;
  addr: string;
  interface?: string;
  sockopts?: SockOptsConfig;
  admission?: string;
  admissions?: string[];
  bypass?: string;
  bypasses?: string[];
  resolver?: string;
  hosts?: string;
  limiter?: string;
  climiter?: string;
  rlimiter?: string;
  logger?: string;
  loggers?: string[];
  observer?: string;
  recorders?: RecorderObjectConfig[];
  handler?: HandlerConfig;
  listener?: ListenerConfig;
  forwarder?: ForwarderConfig;
  metadata?: MetadataConfig;
}

export interface ConnectorConfig {
  /** @default "http" */
  type?: string;
  auth?: AuthConfig;
  tls?: TLSConfig;
  metadata?: MetadataConfig;
}

export interface DialerConfig {
  /** @default "tcp" */
  type?: string;
  /** ssh/sshd dialers only. */
  auth?: AuthConfig;
  tls?: TLSConfig;
  metadata?: MetadataConfig;
}

export interface NodeConfig {
  name: string;
  addr: string;
  host?: string;
  network?: string;
  protocol?: string;
  path?: string;
  interface?: string;
  netns?: string;
  sockopts?: SockOptsConfig;
  bypass?: string;
  bypasses?: string[];
  resolver?: string;
  hosts?: string;
  connector?: ConnectorConfig;
  dialer?: DialerConfig;
  http?: HTTPNodeConfig;
  tls?: TLSNodeConfig;
  auth?: AuthConfig;
  metadata?: MetadataConfig;
}

export interface HopConfig extends LoaderFields {
  name: string;
  interface?: string;
  sockopts?: SockOptsConfig;
  selector?: SelectorConfig;
  bypass?: string;
  bypasses?: string[];
  resolver?: string;
  hosts?: string;
  /** A hop without nodes (and without a loader) refers to the top-level hop of the same name. */
  nodes?: NodeConfig[];
  metadata?: MetadataConfig;
}

export interface ChainConfig {
  name: string;
  hops?: HopConfig[];
  metadata?: MetadataConfig;
}

export interface AutherConfig extends LoaderFields {
  name: string;
  auths?: AuthConfig[];
}

/** Admissions and bypasses share one layout. */
export interface MatcherListConfig extends LoaderFields {
  name?: string;
  /** Deprecated spelling of `whitelist`. */
  reverse?: boolean;
  whitelist?: boolean;
  matchers?: string[];
}
export type AdmissionConfig = MatcherListConfig;
export type BypassConfig = MatcherListConfig;

export interface NameserverConfig {
  addr?: string;
  chain?: string;
  prefer?: string;
  clientIP?: string;
  hostname?: string;
  ttl?: string;
  timeout?: string;
  async?: boolean;
  only?: string;
}

export interface ResolverConfig {
  name?: string;
  nameservers?: NameserverConfig[];
  plugin?: PluginConfig;
}

export interface HostMappingConfig {
  ip?: string;
  hostname?: string;
  aliases?: string[];
}

/** `ingresses:` (hostname → tunnel rules for the tunnel handler). */
export interface IngressRuleConfig {
  hostname?: string;
  endpoint?: string;
}

export interface IngressConfig extends LoaderFields {
  name?: string;
  rules?: IngressRuleConfig[];
}

export interface HostsConfig extends LoaderFields {
  name?: string;
  mappings?: HostMappingConfig[];
}

/** Traffic (`limiters`), connection (`climiters`) and rate (`rlimiters`) limiters. */
export interface LimiterConfig extends LoaderFields {
  name?: string;
  limits?: string[];
}

export interface LogRotationConfig {
  maxSize?: number;
  maxAge?: number;
  maxBackups?: number;
  localTime?: boolean;
  compress?: boolean;
}

export interface LogConfig {
  /** `stderr` (default), `stdout`, `none` or a file path. */
  output?: string;
  /** `trace`, `debug`, `info`, `warn`, `error`, `fatal`. */
  level?: string;
  /** `json` (default) or `text`. */
  format?: string;
  rotation?: LogRotationConfig;
}

export interface LoggerConfig {
  name?: string;
  log?: LogConfig;
}

export interface APIConfig {
  addr?: string;
  pathPrefix?: string;
  accesslog?: boolean;
  auth?: AuthConfig;
  auther?: string;
}

export interface MetricsConfig {
  addr?: string;
  path?: string;
  auth?: AuthConfig;
  auther?: string;
}

export interface ProfilingConfig {
  addr?: string;
}

/** A section dost keeps but does not model: keys lower-cased, values as loaded. */
export type PassthroughConfig = Record<string, unknown>;

export interface Config {
  services?: ServiceConfig[];
  chains?: ChainConfig[];
  hops?: HopConfig[];
  authers?: AutherConfig[];
  admissions?: AdmissionConfig[];
  bypasses?: BypassConfig[];
  resolvers?: ResolverConfig[];
  hosts?: HostsConfig[];
  ingresses?: IngressConfig[];
  routers?: PassthroughConfig[];
  sds?: PassthroughConfig[];
  recorders?: PassthroughConfig[];
  rewriters?: PassthroughConfig[];
  caches?: PassthroughConfig[];
  limiters?: LimiterConfig[];
  quotas?: PassthroughConfig[];
  climiters?: LimiterConfig[];
  rlimiters?: LimiterConfig[];
  observers?: PassthroughConfig[];
  loggers?: LoggerConfig[];
  tls?: TLSConfig;
  log?: LogConfig;
  profiling?: ProfilingConfig;
  api?: APIConfig;
  metrics?: MetricsConfig;
}

// ---------------------------------------------------------------------------
// Run-time description of the same tree.

/**
 * How one field is read and written:
 * - `string`: a string; anything else is an error;
 * - `text`: a string; numbers and booleans are accepted and stringified
 *   (credentials such as `password: 123456`, which viper accepts too);
 * - `int`, `bool`: also accept the string forms (viper decodes weakly);
 * - `duration`: a Go duration string, or an integer meaning nanoseconds;
 * - `strings`: a list of scalars, or one comma-separated string;
 * - `metadata`: a free map, keys lower-cased recursively, values untouched;
 * - `header`: a string → string map, keys lower-cased;
 * - `any`: kept as loaded, map keys lower-cased recursively;
 * - `{ struct }`, `{ list }`: a nested map / a list of maps.
 */
export type Field =
  | "string"
  | "text"
  | "int"
  | "bool"
  | "duration"
  | "strings"
  | "metadata"
  | "header"
  | "any"
  | { readonly struct: Shape }
  | { readonly list: Shape | "any" };

/** Canonical key → field, in the order GOST prints them. */
export type Shape = { readonly [key: string]: Field };

const AUTH: Shape = { username: "text", password: "text", file: "string" };
const TLS_OPTIONS: Shape = { minVersion: "string", maxVersion: "string", cipherSuites: "strings", alpn: "strings" };
const TLS: Shape = {
  certFile: "string",
  keyFile: "string",
  caFile: "string",
  secure: "bool",
  serverName: "string",
  options: { struct: TLS_OPTIONS },
  validity: "duration",
  commonName: "string",
  organization: "string",
  rejectUnknownSNI: "bool",
  serverNames: "strings",
};
const SELECTOR: Shape = { strategy: "string", maxFails: "int", failTimeout: "duration", maxLatency: "duration" };
const CHAIN_GROUP: Shape = { chains: "strings", selector: { struct: SELECTOR } };
const SOCKOPTS: Shape = { mark: "int" };
const PLUGIN: Shape = { type: "string", addr: "string", tls: { struct: TLS }, timeout: "duration", token: "text" };
const LOADERS: Shape = {
  reload: "duration",
  file: { struct: { path: "string" } },
  redis: { struct: { addr: "string", db: "int", username: "text", password: "text", key: "string", type: "string" } },
  http: { struct: { url: "string", timeout: "duration" } },
  plugin: { struct: PLUGIN },
};
const HTTP_NODE: Shape = {
  host: "string",
  header: "header",
  requestHeader: "header",
  responseHeader: "header",
  auth: { struct: AUTH },
  rewrite: "any",
  rewriteURL: "any",
  rewriteBody: "any",
  rewriteRequestBody: "any",
  rewriteResponseBody: "any",
  failCodes: "string",
};
/** Node selection rules (`filter` is the older form of `matcher`). */
const NODE_FILTER: Shape = { host: "string", protocol: "string", path: "string" };
const NODE_MATCHER: Shape = { rule: "string", priority: "int", bodySize: "int" };
const TLS_NODE: Shape = { serverName: "string", secure: "bool", options: { struct: TLS_OPTIONS } };

const HANDLER: Shape = {
  type: "string",
  retries: "int",
  chain: "string",
  chainGroup: { struct: CHAIN_GROUP },
  auther: "string",
  authers: "strings",
  auth: { struct: AUTH },
  tls: { struct: TLS },
  limiter: "string",
  observer: "string",
  metadata: "metadata",
};
const LISTENER: Shape = {
  type: "string",
  chain: "string",
  chainGroup: { struct: CHAIN_GROUP },
  auther: "string",
  authers: "strings",
  auth: { struct: AUTH },
  tls: { struct: TLS },
  metadata: "metadata",
};
const FORWARD_NODE: Shape = {
  name: "string",
  addr: "string",
  host: "string",
  network: "string",
  protocol: "string",
  path: "string",
  bypass: "string",
  bypasses: "strings",
  filter: { struct: NODE_FILTER },
  matcher: { struct: NODE_MATCHER },
  probe: "any",
  http: { struct: HTTP_NODE },
  tls: { struct: TLS_NODE },
  auth: { struct: AUTH },
  metadata: "metadata",
};
const FORWARDER: Shape = {
  name: "string",
  hop: "string",
  hopGroup: "any",
  selector: { struct: SELECTOR },
  nodes: { list: FORWARD_NODE },
};
const SERVICE: Shape = {
  name: "string",
  addr: "string",
  interface: "string",
  sockopts: { struct: SOCKOPTS },
  admission: "string",
  admissions: "strings",
  bypass: "string",
  bypasses: "strings",
  resolver: "string",
  hosts: "string",
  limiter: "string",
  climiter: "string",
  rlimiter: "string",
  logger: "string",
  loggers: "strings",
  observer: "string",
  recorders: { list: { name: "string", record: "string", metadata: "metadata" } },
  rewriter: "string",
  cache: "string",
  quotas: "string",
  handler: { struct: HANDLER },
  listener: { struct: LISTENER },
  forwarder: { struct: FORWARDER },
  metadata: "metadata",
  /** Read-only: what gost's API reports (and writes into saved files); ignored when loaded. */
  status: "any",
};
const CONNECTOR: Shape = { type: "string", auth: { struct: AUTH }, tls: { struct: TLS }, metadata: "metadata" };
const DIALER: Shape = CONNECTOR;
const NODE: Shape = {
  name: "string",
  addr: "string",
  host: "string",
  network: "string",
  protocol: "string",
  path: "string",
  interface: "string",
  netns: "string",
  sockopts: { struct: SOCKOPTS },
  bypass: "string",
  bypasses: "strings",
  resolver: "string",
  hosts: "string",
  connector: { struct: CONNECTOR },
  dialer: { struct: DIALER },
  filter: { struct: NODE_FILTER },
  matcher: { struct: NODE_MATCHER },
  probe: "any",
  http: { struct: HTTP_NODE },
  tls: { struct: TLS_NODE },
  auth: { struct: AUTH },
  metadata: "metadata",
};
const HOP: Shape = {
  name: "string",
  interface: "string",
  sockopts: { struct: SOCKOPTS },
  selector: { struct: SELECTOR },
  bypass: "string",
  bypasses: "strings",
  resolver: "string",
  hosts: "string",
  nodes: { list: NODE },
  ...LOADERS,
  metadata: "metadata",
};
const CHAIN: Shape = { name: "string", hops: { list: HOP }, metadata: "metadata" };
const MATCHERS: Shape = { name: "string", reverse: "bool", whitelist: "bool", matchers: "strings", ...LOADERS };
/** Bypasses also take `network` (gost HEAD). */
const BYPASS: Shape = { ...MATCHERS, network: "string" };
const NAMESERVER: Shape = {
  addr: "string",
  chain: "string",
  prefer: "string",
  clientIP: "string",
  hostname: "string",
  ttl: "duration",
  timeout: "duration",
  async: "bool",
  only: "string",
};
const LIMITER: Shape = { name: "string", limits: "strings", ...LOADERS };
const LOG: Shape = {
  output: "string",
  level: "string",
  format: "string",
  rotation: {
    struct: { maxSize: "int", maxAge: "int", maxBackups: "int", localTime: "bool", compress: "bool" },
  },
};

/** The whole configuration tree, in GOST's output order. */
export const CONFIG_SHAPE: Shape = {
  services: { list: SERVICE },
  chains: { list: CHAIN },
  hops: { list: HOP },
  authers: { list: { name: "string", auths: { list: AUTH }, ...LOADERS } },
  admissions: { list: MATCHERS },
  bypasses: { list: BYPASS },
  resolvers: { list: { name: "string", nameservers: { list: NAMESERVER }, plugin: { struct: PLUGIN } } },
  hosts: {
    list: { name: "string", mappings: { list: { ip: "string", hostname: "string", aliases: "strings" } }, ...LOADERS },
  },
  ingresses: { list: { name: "string", rules: { list: { hostname: "string", endpoint: "string" } }, ...LOADERS } },
  routers: { list: "any" },
  sds: { list: "any" },
  recorders: { list: "any" },
  rewriters: { list: "any" },
  caches: { list: "any" },
  limiters: { list: LIMITER },
  quotas: { list: "any" },
  climiters: { list: LIMITER },
  rlimiters: { list: LIMITER },
  observers: { list: "any" },
  loggers: { list: { name: "string", log: { struct: LOG } } },
  tls: { struct: TLS },
  log: { struct: LOG },
  profiling: { struct: { addr: "string" } },
  api: {
    struct: { addr: "string", pathPrefix: "string", accesslog: "bool", auth: { struct: AUTH }, auther: "string" },
  },
  metrics: { struct: { addr: "string", path: "string", auth: { struct: AUTH }, auther: "string" } },
};

/** Top-level sections that a later source replaces instead of extending. */
export const SINGLETON_SECTIONS = ["tls", "log", "profiling", "api", "metrics"] as const;

// ---------------------------------------------------------------------------
// Go durations: typed fields hold them as strings.

const NS_PER: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * Parses Go `time.ParseDuration` syntax (`"1m30s"`, `"500ms"`, `"-1.5h"`,
 * `"0"`) into nanoseconds. Unlike metadata durations, a bare number other than
 * `0` is invalid. Returns `undefined` when `s` is not a duration.
 */
export function parseGoDuration(s: string): bigint | undefined {
  s = s.trim();
  const sign = s.startsWith("-") ? -1n : 1n;
  if (s.startsWith("-") || s.startsWith("+")) s = s.slice(1);
  if (s === "0") return 0n;
  if (s === "" || !/^((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0n;
  for (const [, num, unit] of s.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    const [int, frac = ""] = num.split(".");
    const scale = NS_PER[unit];
    total += BigInt(int || "0") * scale;
    if (frac) total += (BigInt(frac) * scale) / 10n ** BigInt(frac.length);
  }
  return sign * total;
}

/** Formats nanoseconds like Go's `time.Duration.String()`: `"1h0m0s"`, `"1.5s"`, `"500ms"`. */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return "0s";
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const frac = (v: bigint, digits: number): string => {
    const s = v.toString().padStart(digits, "0").replace(/0+$/, "");
    return s ? "." + s : "";
  };
  let out: string;
  if (u < 1_000_000_000n) {
    const [unit, div, digits] = u < 1_000n ? ["ns", 1n, 0] : u < 1_000_000n ? ["µs", 1_000n, 3] : ["ms", 1_000_000n, 6];
    out = (u / div).toString() + (digits ? frac(u % div, digits) : "") + unit;
  } else {
    const h = u / NS_PER.h;
    u %= NS_PER.h;
    const m = u / NS_PER.m;
    u %= NS_PER.m;
    const s = (u / NS_PER.s).toString() + frac(u % NS_PER.s, 9) + "s";
    out = h > 0n ? `${h}h${m}m${s}` : m > 0n ? `${m}m${s}` : s;
  }
  return neg ? "-" + out : out;
}

/** Milliseconds → Go duration string (for values computed from metadata). */
export function msToGoDuration(ms: number): string {
  return formatGoDuration(BigInt(Math.round(ms * 1e6)));
}

/** Go duration string → milliseconds, or `undefined` when invalid. */
export function goDurationToMs(s: string): number | undefined {
  const ns = parseGoDuration(s);
  return ns === undefined ? undefined : Number(ns) / 1e6;
}
