/**
 * The `-L` / `-F` URL grammar of GOST (`go-gost/x` `config/cmd/cmd.go`):
 *
 * ```
 * [scheme://][user[:pass]@]host:port[/target[,target...]][?key=value&...]
 * ```
 *
 * `-L` becomes one or more services (a port range in the listen address makes
 * several), `-F` becomes one chain hop (a comma list of hosts makes several
 * nodes). Query parameters become string metadata, routed by prefix.
 *
 * @module
 */
import { parseDuration } from "../transports/metadata.ts";
import { joinHostPort } from "../transports/addr.ts";
import { msToGoDuration } from "./schema.ts";
import { markFlagOrigin } from "./origin.ts";
import type {
  AuthConfig,
  ChainConfig,
  Config,
  ForwardNodeConfig,
  HopConfig,
  MetadataConfig,
  NodeConfig,
  SelectorConfig,
  ServiceConfig,
  TLSConfig,
} from "./schema.ts";

/** Anything with `has(name)`: a `Set`, or one of the component registries. */
export interface NameSet {
  has(name: string): boolean;
}

/** The registered component names that decide the scheme fallbacks (spec §2.1 step 5). */
export interface KnownNames {
  handlers: NameSet;
  listeners: NameSet;
  connectors: NameSet;
  dialers: NameSet;
}

const names = (s: string): ReadonlySet<string> => new Set(s.split(/\s+/).filter(Boolean));

/**
 * GOST v3.2.6's registered names (spec §2.2), plus `runix` from HEAD. Passing
 * these (rather than dost's own registries) makes the command line mean what
 * it means to GOST; an unimplemented component then fails when it is built
 * instead of silently falling back to `auto`/`tcp`.
 */
export const GOST_NAMES: KnownNames = {
  handlers: names(`
    auto http http2 http3 socks5 socks socks4 socks4a relay forward tcp udp rtcp rudp tunnel
    ss ssu sni sshd dns red redir redirect redu tun tap serial unix runix file api metrics router`),
  listeners: names(`
    tcp udp rtcp rudp tls mtls ws wss mws mwss pht phts grpc quic kcp mtcp ohttp otls ssh sshd dtls ftcp icmp wt
    http2 http3 h2 h2c h3 dns red redir redirect redu tun tap serial unix runix`),
  connectors: names(`http http2 socks5 socks socks4 socks4a relay forward tcp tunnel ss ssu sni sshd serial unix`),
  dialers: names(`
    tcp udp tls mtls ws wss mws mwss pht phts grpc quic kcp mtcp ohttp otls ohttps ssh sshd dtls ftcp icmp wt
    http2 http3 h2 h2c h3 serial unix`),
};

/** Listeners that turn a forwarding service's handler into the listener's own name (spec §2.3). */
const SELF_FORWARDING_LISTENERS = new Set([
  "tcp",
  "udp",
  "rtcp",
  "rudp",
  "tun",
  "tap",
  "dns",
  "unix",
  "runix",
  "serial",
]);
/** Listeners that bind their remote port through the chain, so they take `listener.chain` (spec §2.7). */
const REMOTE_LISTENERS = new Set(["rtcp", "rudp", "runix"]);
/** Schemes whose address may be a filesystem path (`unix:///run/x.sock`, HEAD). */
const PATH_SCHEMES = new Set(["unix", "runix", "serial"]);

export interface ServiceURLOptions {
  /** Receives the side objects that query keys create (`bypasses`, `resolvers`, `limiters`, …). */
  side?: Config;
  /** Prefix for `target-N` names; GOST uses `go-<id>@` in a `--` worker. */
  targetPrefix?: string;
  /** Receives a line for each scheme part that GOST silently replaces. */
  warn?: (message: string) => void;
}

export interface NodeURLOptions {
  /** `hop-<index>`. @default 0 */
  index?: number;
  /** Receives the side objects that query keys create (`bypasses`, `resolvers`, `hosts`). */
  side?: Config;
  /** Receives a line for each scheme part that GOST silently replaces. */
  warn?: (message: string) => void;
}

// ---------------------------------------------------------------------------
// Go `net/url` subset.

interface ParsedURL {
  scheme: string;
  user?: { username: string; password?: string };
  host: string;
  /** The path as typed (escapes kept), like Go's `EscapedPath()`. */
  path: string;
  /** Query pairs in order, first value of each key only. */
  query: Map<string, string>;
}

type Fail = (why: string) => never;

/** Percent-decodes `s` (each run of `%XX` as UTF-8 bytes); `undefined` on a malformed escape. */
function unescape(s: string, plusIsSpace: boolean): string | undefined {
  if (plusIsSpace) s = s.replaceAll("+", " ");
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return undefined;
  return s.replace(
    /(?:%[0-9a-fA-F]{2})+/g,
    (run) => new TextDecoder().decode(Uint8Array.from(run.slice(1).split("%"), (h) => parseInt(h, 16))),
  );
}

/** Go `url.ParseQuery` then `Query()`: pairs with `;` or bad escapes are dropped, the first value wins. */
function parseQuery(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of raw.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = unescape(eq < 0 ? pair : pair.slice(0, eq), true);
    const value = unescape(eq < 0 ? "" : pair.slice(eq + 1), true);
    if (key === undefined || value === undefined || key === "" || out.has(key)) continue;
    out.set(key, value);
  }
  return out;
}

/** Characters Go's `url.Parse` accepts unescaped in a host. */
const HOST_CHARS = /^[A-Za-z0-9\-_.~!$&'()*+,;=:\[\]<>"\u0080-\uffff%]*$/;
const USERINFO_CHARS = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

/** Splits and checks the parts of an absolute URL with Go `url.Parse` rules. */
function parseURL(s: string, fail: Fail): ParsedURL {
  // deno-lint-ignore no-control-regex -- Go's url.Parse rejects ASCII control characters
  if (/[\x00-\x1f\x7f]/.test(s)) fail("invalid control character");
  const hash = s.indexOf("#");
  if (hash >= 0) s = s.slice(0, hash);
  const m = /^([A-Za-z][A-Za-z0-9+.\-]*):\/\//.exec(s);
  if (!m) fail("missing scheme");
  const scheme = m[1].toLowerCase();
  let rest = s.slice(m[0].length);
  let rawQuery = "";
  const q = rest.indexOf("?");
  if (q >= 0) [rest, rawQuery] = [rest.slice(0, q), rest.slice(q + 1)];
  const slash = rest.indexOf("/");
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  if (unescape(path, false) === undefined) fail(`invalid escape in path "${path}"`);

  let user: ParsedURL["user"];
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const info = authority.slice(0, at);
    authority = authority.slice(at + 1);
    if (!USERINFO_CHARS.test(info)) fail("invalid character in user info");
    const colon = info.indexOf(":");
    const username = unescape(colon < 0 ? info : info.slice(0, colon), false);
    const password = colon < 0 ? undefined : unescape(info.slice(colon + 1), false);
    if (username === undefined || (colon >= 0 && password === undefined)) fail("invalid escape in user info");
    user = { username, password };
  }
  if (!HOST_CHARS.test(authority)) fail(`invalid character in host "${authority}"`);
  return { scheme, user, host: authority, path, query: parseQuery(rawQuery) };
}

/**
 * Go's `cutHost`: for `-L` the host is taken out by hand before URL parsing,
 * so that it may hold a port range (`:8000-8010`) that `url.Parse` rejects.
 */
function cutHost(s: string): { host: string; remain: string } {
  let start = s.indexOf(":") + 3;
  let end = s.slice(start).search(/[/?]/);
  end = end < 0 ? s.length : end + start;
  const at = s.slice(start, end).lastIndexOf("@");
  if (at >= 0) start += at + 1;
  return { host: s.slice(start, end), remain: s.slice(0, start) + s.slice(end) };
}

/**
 * Tells about scheme parts GOST replaces without a word (`foo+ws://` serves
 * `auto` over ws): the user most likely meant something else.
 */
function warnFallback(
  warn: ((m: string) => void) | undefined,
  flag: string,
  url: string,
  scheme: string,
  typed: string[],
  used: string[],
  roles: string[],
): void {
  if (!warn) return;
  if (scheme.split("+").length > 2) {
    warn(`${flag} "${url}": scheme "${scheme}" has more than two parts; gost and dost use ${used.join("+")} instead`);
    return;
  }
  if (!scheme.includes("+")) {
    // One scheme names both roles; naming just one of them (`-L ws://` = auto over ws) is gost's rule, not a typo.
    if (typed[0] !== used[0] && typed[1] !== used[1]) {
      warn(`${flag} "${url}": "${scheme}" is not a gost scheme; gost and dost use ${used.join("+")} instead`);
    }
    return;
  }
  for (let i = 0; i < 2; i++) {
    if (typed[i] === used[i]) continue;
    warn(`${flag} "${url}": ${roles[i]} "${typed[i]}" is not a gost name; gost and dost use "${used[i]}" instead`);
  }
}

/** Trims and adds `auto://` when there is no scheme (spec §2.1 steps 1–2). */
function normalise(s: string, fail: Fail): string {
  s = s.trim();
  if (s === "") fail("empty");
  return s.startsWith(":") || !s.includes("://") ? "auto://" + s : s;
}

/** `host:port` → host and port text (`port` absent when there is no `:port`); handles `[v6]:port`. */
function splitHostPort(addr: string): { host: string; port?: string } {
  if (addr.startsWith("[")) {
    const end = addr.lastIndexOf("]");
    if (end < 0) return { host: addr };
    const rest = addr.slice(end + 1);
    return rest.startsWith(":") ? { host: addr.slice(1, end), port: rest.slice(1) } : { host: addr.slice(1, end) };
  }
  const i = addr.lastIndexOf(":");
  if (i < 0 || addr.indexOf(":") !== i) return { host: addr }; // no port, or a bare IPv6 literal
  return { host: addr.slice(0, i), port: addr.slice(i + 1) };
}

function checkPort(port: string, addr: string, fail: Fail): number {
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) fail(`bad port "${port}" in "${addr}"`);
  return Number(port);
}

/**
 * Expands `host:8000-8010` into one address per port (Go `AddrPortRange`).
 * An address without a port is kept as it is; a malformed port is an error
 * (GOST would silently use port 0).
 */
function expandPortRange(addr: string, fail: Fail): string[] {
  const { host, port } = splitHostPort(addr);
  if (port === undefined) return [addr];
  const range = /^(\d+)-(\d+)$/.exec(port);
  if (!range) return [joinHostPort(host, checkPort(port, addr, fail))];
  const [min, max] = [checkPort(range[1], addr, fail), checkPort(range[2], addr, fail)];
  if (min > max) fail(`bad port range "${port}" in "${addr}"`);
  const out: string[] = [];
  for (let p = min; p <= max; p++) out.push(joinHostPort(host, p));
  return out;
}

/** Go `url.Hostname()`: the host without port and brackets. */
function hostname(addr: string): string {
  return splitHostPort(addr).host;
}

// ---------------------------------------------------------------------------
// Query → metadata.

/** Case-insensitive key lookup in a metadata map that keeps the spelling it was given. */
function keyOf(m: Map<string, unknown>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const k of m.keys()) if (k.toLowerCase() === lower) return k;
  return undefined;
}

/** The value of the first alias present (GOST's rule, even when that value is unusable). */
function get(m: Map<string, unknown>, ...aliases: string[]): unknown {
  for (const a of aliases) {
    const k = keyOf(m, a);
    if (k !== undefined) return m.get(k);
  }
  return undefined;
}

function drop(m: Map<string, unknown>, ...aliases: string[]): void {
  for (const a of aliases) {
    for (let k = keyOf(m, a); k !== undefined; k = keyOf(m, a)) m.delete(k);
  }
}

/** Moves a value to a new key (e.g. `interface` → `service.interface`), dropping every spelling of the old one. */
function rename(m: Map<string, unknown>, from: string, to: string, value: unknown): void {
  drop(m, from);
  m.set(to, value);
}

// Lenient readers, as GOST's `mdutil` helpers: an unusable value reads as empty.
const str = (v: unknown): string => (v === undefined || v === null ? "" : String(v));
function int(v: unknown): number {
  if (typeof v === "number") return Math.trunc(v);
  const s = str(v).trim();
  return /^[+-]?\d+$/.test(s) ? Number(s) : 0;
}
function float(v: unknown): number {
  const n = Number(str(v).trim() || NaN);
  return Number.isFinite(n) ? n : 0;
}
function bool(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  return ["1", "t", "T", "TRUE", "true", "True"].includes(str(v));
}
const duration = (v: unknown): number => (v === undefined ? 0 : parseDuration(v) ?? 0);

/** `strategy`/`maxFails`/`failTimeout` → a selector; the keys are consumed only when one is made. */
function takeSelector(m: Map<string, unknown>): SelectorConfig | undefined {
  const strategy = str(get(m, "strategy"));
  const maxFails = int(get(m, "maxFails", "max_fails"));
  const failTimeout = duration(get(m, "failTimeout", "fail_timeout"));
  if (!strategy && maxFails <= 0 && failTimeout <= 0) return undefined;
  drop(m, "strategy", "maxFails", "max_fails", "failTimeout", "fail_timeout");
  return {
    strategy: strategy || "round",
    maxFails: maxFails > 0 ? maxFails : 1,
    failTimeout: msToGoDuration(failTimeout > 0 ? failTimeout : 30_000),
  };
}

/** Decodes `auth=` (spec §2.5): unpadded URL-safe base64 first, then standard base64. */
function decodeAuth(value: string, fail: Fail): AuthConfig {
  let b64: string | undefined;
  if (/^[A-Za-z0-9_-]*$/.test(value) && value.length % 4 !== 1) {
    b64 = value.replaceAll("-", "+").replaceAll("_", "/");
    b64 += "=".repeat((4 - (b64.length % 4)) % 4);
  } else if (/^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0) {
    b64 = value;
  }
  if (b64 === undefined) fail(`bad base64 in auth "${value}"`);
  const text = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  const colon = text.indexOf(":");
  return colon < 0 ? { username: text } : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function userAuth(u: ParsedURL, fail: Fail): AuthConfig | undefined {
  if (!u.user) return undefined;
  // HEAD: ss schemes accept SIP002 userinfo, one base64 token of "method:password".
  if (u.scheme.startsWith("ss") && u.user.password === undefined && u.user.username) {
    try {
      const sip = decodeAuth(u.user.username, fail);
      if (sip.password !== undefined) return sip;
    } catch { /* not SIP002: a plain user name */ }
  }
  return u.user.password === undefined
    ? { username: u.user.username }
    : { username: u.user.username, password: u.user.password };
}

/** Splits metadata by key prefix: `prefix.K` → that target only; un-prefixed → every target. */
function route(m: Map<string, unknown>, prefixes: string[]): MetadataConfig[] {
  const out = prefixes.map(() => ({} as MetadataConfig));
  for (const [k, v] of m) {
    const i = prefixes.findIndex((p) => k.toLowerCase().startsWith(p + "."));
    if (i >= 0) out[i][k.slice(prefixes[i].length + 1)] = v;
    else for (const md of out) md[k] = v;
  }
  return out;
}

/** `a,~b` style lists: a leading `~` makes a whitelist. */
function matcherList(v: string): { whitelist?: boolean; matchers: string[] } {
  const whitelist = v.startsWith("~");
  const matchers = (whitelist ? v.slice(1) : v).split(",").filter(Boolean);
  return whitelist ? { whitelist, matchers } : { matchers };
}

/** Side sections the command line fills, and the name prefix of their items (spec §5). */
const SIDE_NAMES = {
  admissions: "admission",
  bypasses: "bypass",
  resolvers: "resolver",
  hosts: "hosts",
  limiters: "limiter",
  climiters: "climiter",
  rlimiters: "rlimiter",
} as const;

/** Appends an item named `<prefix>-<count so far>` to a side section and returns the name. */
function push<K extends keyof typeof SIDE_NAMES>(side: Config, key: K, item: NonNullable<Config[K]>[number]): string {
  const list = (side[key] ??= []) as unknown[];
  const name = `${SIDE_NAMES[key]}-${list.length}`;
  list.push({ name, ...item });
  return name;
}

/** `bypass`, `resolver`, `hosts` (both `-L` and `-F`); returns the names to reference. */
function takeSharedObjects(
  m: Map<string, unknown>,
  side: Config,
  prefer?: string,
): { bypass?: string; resolver?: string; hosts?: string } {
  const refs: { bypass?: string; resolver?: string; hosts?: string } = {};
  const bypass = str(get(m, "bypass"));
  if (bypass) {
    refs.bypass = push(side, "bypasses", matcherList(bypass));
    drop(m, "bypass");
  }
  const resolver = str(get(m, "resolver"));
  if (resolver) {
    const nameservers = resolver.split(",").filter(Boolean).map((addr) => (prefer ? { addr, prefer } : { addr }));
    refs.resolver = push(side, "resolvers", { nameservers });
    drop(m, "resolver");
  }
  const hosts = str(get(m, "hosts"));
  if (hosts) {
    const mappings = hosts.split(",").flatMap((item) => {
      const i = item.indexOf(":");
      return i < 0 ? [] : [{ hostname: item.slice(0, i), ip: item.slice(i + 1) }];
    });
    refs.hosts = push(side, "hosts", { mappings });
    drop(m, "hosts");
  }
  return refs;
}

// ---------------------------------------------------------------------------
// -L

/**
 * Parses one `-L` value into its services: one per port of the listen
 * address, named `service-<index>`, `service-<index+1>`, …. Objects created by
 * query keys (`bypass=`, `climiter=`, …) are appended to `opts.side`.
 * Chain references are not set here: {@linkcode buildCLIConfig} does that.
 *
 * @throws {SyntaxError} `Cannot parse service URL "…": <reason>`
 */
export function parseServiceURL(
  s: string,
  index = 0,
  known: KnownNames = GOST_NAMES,
  opts: ServiceURLOptions = {},
): ServiceConfig[] {
  const fail: Fail = (why) => {
    throw new SyntaxError(`Cannot parse service URL "${s}": ${why}`);
  };
  const side = opts.side ?? {};
  const { host, remain } = cutHost(normalise(s, fail));
  const u = parseURL(remain, fail);
  if (u.scheme === "https") u.scheme = "http+tls";

  const schemes = u.scheme.split("+");
  let [handler, listener] = schemes.length === 1 ? [schemes[0], schemes[0]] : schemes.length === 2 ? schemes : ["", ""];
  // HEAD: unix:///path listens on the path; decided on the scheme as typed, before any fallback.
  const isPathAddr = host === "" && (PATH_SCHEMES.has(listener) || schemes.some((x) => PATH_SCHEMES.has(x)));
  let addrs: string[];
  if (isPathAddr) {
    if (!u.path) fail("missing address");
    addrs = [u.path];
  } else {
    if (host === "") fail("missing address");
    addrs = expandPortRange(host, fail);
  }

  const asTyped = [handler, listener];
  if (!known.handlers.has(handler)) handler = "auto";
  if (!known.listeners.has(listener)) listener = handler === "ssu" ? "udp" : "tcp";
  warnFallback(opts.warn, "-L", s, u.scheme, asTyped, [handler, listener], ["handler", "listener"]);
  if (schemes.length === 1 && handler === "http3") {
    // gost 3.2.6 serves an HTTP/3 reverse proxy here, which no `-F http3://` client (PHT over HTTP/3) can use;
    // dost serves what those clients dial, as seed 001's server line intends.
    handler = "auto";
    opts.warn?.(
      `-L "${s}": dost serves PHT over HTTP/3 with the auto handler here (what -F http3:// dials); ` +
        "gost 3.2.6 serves an HTTP/3 reverse proxy",
    );
  }

  // Forward mode: targets in the path.
  const targets: ForwardNodeConfig[] = [];
  const remotes = u.path.replace(/^\/+|\/+$/g, "");
  if (remotes && !isPathAddr) {
    for (const item of remotes.split(",")) {
      if (item === "") continue;
      for (const addr of expandPortRange(item, fail)) {
        targets.push({ name: `${opts.targetPrefix ?? ""}target-${targets.length}`, addr });
      }
    }
    if (handler !== "relay") handler = SELF_FORWARDING_LISTENERS.has(listener) ? listener : "forward";
  }

  const m = new Map<string, unknown>(u.query);
  // v3.2.6: `auth=` overrides the user info on -L (HEAD only uses it when there is none).
  let auth = userAuth(u, fail);
  const authParam = str(get(m, "auth"));
  if (authParam) auth = decodeAuth(authParam, fail);
  drop(m, "auth");

  const certFile = str(get(m, "tls.certFile", "certFile", "cert"));
  const tls: TLSConfig = {
    certFile,
    keyFile: str(get(m, "tls.keyFile", "keyFile", "key")),
    caFile: str(get(m, "tls.caFile", "caFile", "ca")),
  };
  drop(m, "tls.certFile", "certFile", "cert", "tls.keyFile", "keyFile", "key", "tls.caFile", "caFile", "ca");

  const dns = str(get(m, "dns"));
  if (dns) m.set(keyOf(m, "dns")!, dns.split(","));
  for (const k of ["interface", "netns", "netns.out"]) {
    const v = str(get(m, k));
    if (v) rename(m, k, `service.${k}`, v);
  }
  for (const k of ["so_mark", "proxyProtocol"]) {
    const v = int(get(m, k));
    if (v > 0) rename(m, k, `service.${k}`, v);
  }
  const selector = takeSelector(m);
  const [serviceMd, handlerMd, listenerMd] = route(m, ["service", "handler", "listener"]);

  const onSSH = listener === "ssh" || listener === "sshd";
  return addrs.map((addr, i) => {
    const svc: ServiceConfig = {
      name: `service-${index + i}`,
      addr,
      handler: { type: handler, auth: onSSH ? undefined : auth, metadata: { ...handlerMd } },
      listener: {
        type: listener,
        auth: onSSH ? auth : undefined,
        tls: certFile ? tls : undefined,
        metadata: { ...listenerMd },
      },
      metadata: { ...serviceMd },
    };
    // One target for all services, or target i for service i.
    const nodes = targets.length === 1 || addrs.length === 1 ? targets : targets.slice(i, i + 1);
    if (nodes.length) svc.forwarder = { selector, nodes: nodes.map((n) => ({ ...n })) };
    takeServiceObjects(svc, side);
    return compactObject(svc);
  });
}

/** The keys GOST reads from a service's handler metadata after naming (spec §2.6 table). */
function takeServiceObjects(svc: ServiceConfig, side: Config): void {
  const mds = [svc.handler!.metadata!, svc.listener!.metadata!, svc.metadata!];
  const m = new Map(Object.entries(mds[0]));
  const consume = (...keys: string[]) => {
    for (const md of mds) {
      for (const k of Object.keys(md)) if (keys.some((key) => key.toLowerCase() === k.toLowerCase())) delete md[k];
    }
    drop(m, ...keys);
  };

  const retries = int(get(m, "retries"));
  if (retries > 0) {
    svc.handler!.retries = retries;
    consume("retries");
  }
  const admission = str(get(m, "admission"));
  if (admission) {
    svc.admission = push(side, "admissions", matcherList(admission));
    consume("admission");
  }
  const refs = takeSharedObjects(m, side, str(get(m, "prefer")) || undefined);
  Object.assign(svc, refs);
  if (refs.bypass) consume("bypass");
  if (refs.resolver) consume("resolver");
  if (refs.hosts) consume("hosts");

  const [inp, out, cin, cout] = ["limiter.in", "limiter.out", "limiter.conn.in", "limiter.conn.out"].map((k) =>
    str(get(m, k))
  );
  if (inp || out || cin || cout) {
    // gost writes "$  1MB" for limiter.out alone, which reads back as an *upload* limit; an empty side is "0" here.
    const limits: string[] = [];
    if (inp || out) limits.push(`$ ${inp || "0"} ${out || "0"}`);
    if (cin || cout) limits.push(`$$ ${cin || "0"} ${cout || "0"}`);
    svc.limiter = push(side, "limiters", { limits });
    consume("limiter.in", "limiter.out", "limiter.conn.in", "limiter.conn.out");
  }
  const climit = int(get(m, "climiter"));
  if (climit > 0) {
    svc.climiter = push(side, "climiters", { limits: [`$ ${climit}`] });
    consume("climiter");
  }
  const rlimit = float(get(m, "rlimiter"));
  if (rlimit > 0) {
    svc.rlimiter = push(side, "rlimiters", { limits: [`$ ${rlimit}`] });
    consume("rlimiter");
  }
}

// ---------------------------------------------------------------------------
// -F

/**
 * Parses one `-F` value into a hop named `hop-<index>` holding one node per
 * host of the (comma separated) host list, `node-0`, `node-1`, …. Objects
 * created by `bypass=`, `resolver=`, `hosts=` are appended to `opts.side`.
 *
 * @throws {SyntaxError} `Cannot parse node URL "…": <reason>`
 */
export function parseNodeURL(s: string, known: KnownNames = GOST_NAMES, opts: NodeURLOptions = {}): HopConfig {
  const fail: Fail = (why) => {
    throw new SyntaxError(`Cannot parse node URL "${s}": ${why}`);
  };
  const side = opts.side ?? {};
  const u = parseURL(normalise(s, fail), fail);
  if (u.scheme === "https") u.scheme = "http+tls";

  const schemes = u.scheme.split("+");
  let [connector, dialer] = schemes.length === 1 ? [schemes[0], schemes[0]] : schemes.length === 2 ? schemes : ["", ""];
  const isPathAddr = u.host === "" && schemes.some((x) => PATH_SCHEMES.has(x));
  const asTyped = [connector, dialer];
  if (!known.connectors.has(connector)) connector = "http";
  if (!known.dialers.has(dialer)) dialer = connector === "ssu" ? "udp" : "tcp";
  warnFallback(opts.warn, "-F", s, u.scheme, asTyped, [connector, dialer], ["connector", "dialer"]);

  const hosts = isPathAddr ? [u.path] : u.host.split(",").filter(Boolean);
  if (hosts.length === 0 || hosts[0] === "") fail("missing host");
  if (!isPathAddr) {
    for (const h of hosts) {
      const { port } = splitHostPort(h);
      if (h.startsWith("[") && !/\](:\d*)?$/.test(h)) fail(`bad address "${h}"`);
      if (port) checkPort(port, h, fail);
    }
  }

  const m = new Map<string, unknown>(u.query);
  const hop: HopConfig = { name: `hop-${opts.index ?? 0}`, selector: takeSelector(m) };
  Object.assign(hop, takeSharedObjects(m, side));
  const iface = str(get(m, "interface"));
  if (iface) rename(m, "interface", "hop.interface", iface);
  for (const k of ["so_mark", "proxyProtocol"]) {
    const v = int(get(m, k));
    if (v > 0) rename(m, k, `hop.${k}`, v);
  }

  // Consumed before the hop copy is taken, so credentials stay out of hop metadata (HEAD copies them).
  let auth = userAuth(u, fail);
  const authParam = str(get(m, "auth"));
  if (authParam && !auth) auth = decodeAuth(authParam, fail);
  drop(m, "auth");
  const tlsBase: TLSConfig = {
    certFile: str(get(m, "tls.certFile", "certFile", "cert")),
    keyFile: str(get(m, "tls.keyFile", "keyFile", "key")),
    caFile: str(get(m, "tls.caFile", "caFile", "ca")),
    secure: bool(get(m, "tls.secure", "secure")),
    serverName: str(get(m, "tls.serverName", "serverName")),
  };
  drop(m, "tls.certFile", "certFile", "cert", "tls.keyFile", "keyFile", "key", "tls.caFile", "caFile", "ca");
  drop(m, "tls.secure", "secure", "tls.serverName", "serverName");

  const hopMd: MetadataConfig = {};
  for (const [k, v] of [...m]) {
    const lower = k.toLowerCase();
    if (["node.", "connector.", "dialer."].some((p) => lower.startsWith(p))) continue;
    if (lower.startsWith("hop.")) {
      hopMd[k.slice(4)] = v;
      m.delete(k);
    } else hopMd[k] = v;
  }
  hop.metadata = hopMd;
  const [nodeMd, connectorMd, dialerMd] = route(m, ["node", "connector", "dialer"]);

  const onSSH = dialer === "ssh" || dialer === "sshd";
  hop.nodes = hosts.map((addr, i): NodeConfig => {
    // The default SNI is each node's own host name (GOST uses the whole comma list's, which is no name).
    const tls = { ...tlsBase, serverName: tlsBase.serverName || (isPathAddr ? "" : hostname(addr)) };
    const keepTLS = tls.secure || tls.certFile || tls.caFile || tls.serverName;
    return {
      name: `node-${i}`,
      addr,
      connector: { type: connector, auth: onSSH ? undefined : auth && { ...auth }, metadata: { ...connectorMd } },
      dialer: {
        type: dialer,
        auth: onSSH ? auth && { ...auth } : undefined,
        tls: keepTLS ? tls : undefined,
        metadata: { ...dialerMd },
      },
      metadata: { ...nodeMd },
    };
  });
  return compactObject(hop);
}

// ---------------------------------------------------------------------------
// -api, -metrics

/**
 * Parses an `-api` / `-metrics` value, `[user:pass@]host:port[?key=value]`
 * (GOST normalises it like a service URL and takes the host). A `unix://`
 * value is kept whole as the address; an unparsable one is used as it is.
 */
export function parseAddrURL(s: string): { addr: string; auth?: AuthConfig; get(key: string): string | undefined } {
  const fail: Fail = (why) => {
    throw new SyntaxError(why);
  };
  try {
    const u = parseURL(normalise(s, fail), fail);
    const m = new Map<string, unknown>(u.query);
    const value = (key: string) => (get(m, key) as string | undefined);
    const auth = userAuth(u, fail);
    if (u.scheme === "unix") return { addr: s.trim(), auth, get: value };
    return { addr: u.host, auth, get: value };
  } catch {
    return { addr: s, get: () => undefined };
  }
}

// ---------------------------------------------------------------------------

export interface CLIConfigOptions {
  /** `_GOST_ID` of a `--` worker: forward targets are then named `go-<id>@target-N`. */
  workerId?: string;
  /** Receives a line for each scheme part that GOST silently replaces. */
  warn?: (message: string) => void;
}

/**
 * Builds the configuration GOST derives from its `-L` and `-F` flags
 * (spec §2.7): services `service-N`, and when any `-F` is given one chain
 * `chain-0` with hops `hop-N`, referenced by every service's handler (or by
 * the listener of `rtcp`/`rudp`/`runix` services).
 */
export function buildCLIConfig(
  args: { L?: readonly string[]; F?: readonly string[] },
  known: KnownNames = GOST_NAMES,
  opts: CLIConfigOptions = {},
): Config {
  const cfg: Config = {};
  let chain: ChainConfig | undefined;
  const nodes = args.F ?? [];
  if (nodes.length) {
    chain = { name: "chain-0", hops: [] };
    cfg.chains = [chain];
    nodes.forEach((f, index) => {
      const before = sideCounts(cfg);
      const hop = parseNodeURL(f, known, { index, side: cfg, warn: opts.warn });
      markFlagOrigin(hop, `-F "${f}"`, `chains[0].hops[${index}]`);
      markSide(cfg, before, `-F "${f}"`);
      chain!.hops!.push(hop);
    });
  }
  const services: ServiceConfig[] = [];
  const targetPrefix = opts.workerId ? `go-${opts.workerId}@` : "";
  for (const l of args.L ?? []) {
    const before = sideCounts(cfg);
    const parsed = parseServiceURL(l, services.length, known, { side: cfg, targetPrefix, warn: opts.warn });
    markSide(cfg, before, `-L "${l}"`);
    for (const svc of parsed) {
      markFlagOrigin(svc, `-L "${l}"`, `services[${services.length}]`);
      if (chain) {
        if (REMOTE_LISTENERS.has(svc.listener!.type!)) svc.listener!.chain = chain.name;
        else svc.handler!.chain = chain.name;
      }
      services.push(svc);
    }
  }
  if (services.length) cfg.services = services;
  return cfg;
}

/** How many items each side section has, to find the ones a flag added. */
function sideCounts(cfg: Config): Record<string, number> {
  return Object.fromEntries(
    Object.keys(SIDE_NAMES).map((k) => [k, (cfg[k as keyof Config] as unknown[])?.length ?? 0]),
  );
}

function markSide(cfg: Config, before: Record<string, number>, flag: string): void {
  for (const k of Object.keys(SIDE_NAMES)) {
    const list = (cfg[k as keyof Config] as object[] | undefined) ?? [];
    for (let i = before[k]; i < list.length; i++) markFlagOrigin(list[i], flag, `${k}[${i}]`);
  }
}

/**
 * Removes `undefined`, `""`, `false`, `0`, empty lists and empty objects
 * (Go's zero values) from typed fields, recursing into plain objects except
 * `metadata`, whose values are kept as given.
 */
function compactObject<T>(value: T): T {
  const walk = (v: unknown, keep: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, keep));
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const w = walk(x, keep || k === "metadata");
      if (!keep && isZero(w)) continue;
      out[k] = w;
    }
    return out;
  };
  return walk(value, false) as T;
}

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v as object).length === 0;
}
