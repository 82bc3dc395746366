/**
 * The resolver GOST attaches to services, hops and nodes (spec §7.3): its
 * nameservers in order, A/AAAA by preference, one answer cache, optional
 * background refresh of stale answers.
 *
 * Where this differs from GOST v3.2.6, on purpose:
 * - Only NOERROR and NXDOMAIN replies are answers (an empty one is cached as
 *   negative). SERVFAIL, REFUSED and the rest are failures of that
 *   nameserver: not cached, the next one is asked. (v3.2.6 caches any reply
 *   for 60 s; later GOST versions fail on every non-NOERROR rcode.)
 * - An answer's addresses are the records of the asked type owned by the
 *   name or by a CNAME chain from it; GOST takes every A/AAAA in the answer
 *   section.
 * - Names are cached case-insensitively.
 * - DoH speaks HTTP/1.1 only (see `_doh.ts`).
 * - Nameserver `chain` (queries through a proxy chain) and `hostname` are
 *   not supported; `hostname` is unused in v3.2.6 too.
 *
 * @module
 */
import { isIPv4, isIPv6, joinHostPort } from "../../transports/addr.ts";
import { type Logger, rootLogger } from "../../transports/log.ts";
import { ClosedError } from "../../transports/types.ts";
import { type NameserverAddr, parseNameserverAddr } from "./addr.ts";
import { AnswerCache, cacheKey, cacheLifetime } from "./cache.ts";
import { type Exchanger, onAbort } from "./exchanger.ts";
import { DohExchanger } from "./_doh.ts";
import { StreamExchanger } from "./_stream.ts";
import { UdpExchanger } from "./_udp.ts";
import {
  addressesOf,
  canonicalName,
  type ClientSubnet,
  clientSubnetOf,
  decodeMessage,
  encodeName,
  encodeQuery,
  isReplyTo,
  RCODE_NOERROR,
  RCODE_NXDOMAIN,
  rcodeName,
  TYPE_A,
  TYPE_AAAA,
} from "./message.ts";

/** How long one query may take, milliseconds. @default 5000 */
export const DEFAULT_TIMEOUT = 5000;

/** One nameserver of a resolver, with GOST's keys. */
export interface NameserverOptions {
  /**
   * `1.1.1.1` / `1.1.1.1:53` (UDP), `udp://h:p`, `tcp://h:p`, `tls://h:p` or
   * `dot://h:p` (DoT, no certificate check), `https://h[:p]/path` (DoH POST,
   * no certificate check). Port 53 unless given — `tls://` too — except
   * https (443). Other schemes mean UDP.
   */
  addr: string;
  /** `"ipv6"`: AAAA first, then A. Anything else: A first, then AAAA. */
  prefer?: string;
  /** `"ipv4"` asks A only, `"ipv6"` AAAA only; other spellings (`ip4`, `ip6`) restrict nothing. */
  only?: string;
  /**
   * Cache lifetime, milliseconds. `0`: the smallest answer TTL (60 s for an
   * answer without records, negative answers included); `> 0`: fixed;
   * `< 0`: answers from this nameserver are not cached. @default 0
   */
  ttl?: number;
  /** Per query, milliseconds. @default 5000 */
  timeout?: number;
  /** Serve a stale cached answer at once and refresh it in the background. @default false */
  async?: boolean;
  /** Sends an EDNS0 client subnet (/24 IPv4, /128 IPv6); without it queries carry no OPT record. */
  clientIP?: string;
}

/** No nameserver had an address for the host. GOST's wording, which clients may see. */
export class ResolveError extends Error {
  /** The host that did not resolve. */
  readonly host: string;

  constructor(host: string, options?: ErrorOptions) {
    super(`resolver: domain ${host} does not exist`, options);
    this.name = "ResolveError";
    this.host = host;
  }
}

interface Server {
  index: number;
  /** For logs: scheme, host and port (and path), never userinfo. */
  label: string;
  exchanger: Exchanger;
  /** Record types to ask, in order; the first non-empty answer wins. */
  types: number[];
  ttl: number;
  timeout: number;
  async: boolean;
  subnet?: ClientSubnet;
}

/** One query on the wire, shared by every caller asking the same thing meanwhile. */
interface Flight {
  promise: Promise<string[]>;
  /** Aborted on timeout, on close, or when every waiting caller has given up. */
  ctl: AbortController;
  waiters: number;
}

/** Resolves host names through a list of nameservers. */
export class DnsResolver {
  readonly #servers: Server[] = [];
  readonly #cache = new AnswerCache();
  readonly #flights = new Map<string, Flight>();
  readonly #log: Logger;
  #closed = false;

  /**
   * Nameservers with an empty `addr` are skipped; one whose `addr` does not
   * parse is skipped with a warning, as GOST does (validate configs up front
   * with {@linkcode parseNameserverAddr}). A bad `clientIP` is ignored the same way.
   */
  constructor(nameservers: NameserverOptions[], opts: { log?: Logger } = {}) {
    this.#log = opts.log ?? rootLogger.with({ kind: "resolver" });
    for (const ns of nameservers) {
      const raw = (ns.addr ?? "").trim();
      if (raw === "") continue;
      let addr: NameserverAddr;
      try {
        addr = parseNameserverAddr(raw);
      } catch (err) {
        this.#log.warn(`skipping nameserver: ${(err as Error).message}`);
        continue;
      }
      let subnet: ClientSubnet | undefined;
      if (ns.clientIP) {
        try {
          subnet = clientSubnetOf(ns.clientIP);
        } catch (err) {
          this.#log.warn(`nameserver ${labelOf(addr)}: ${(err as Error).message}; no client subnet`);
        }
      }
      const ttl = Number.isFinite(ns.ttl) ? ns.ttl! : 0;
      const timeout = ns.timeout !== undefined && ns.timeout > 0 ? ns.timeout : DEFAULT_TIMEOUT;
      this.#servers.push({
        index: this.#servers.length,
        label: labelOf(addr),
        exchanger: exchangerFor(addr, timeout),
        types: queryOrder(ns.prefer, ns.only),
        ttl,
        timeout,
        async: !!ns.async && ttl >= 0, // no cache, nothing stale to serve
        subnet,
      });
    }
  }

  /**
   * The IP addresses of `host`; IP literals come back as they are, without a
   * lookup. Nameservers are asked in order; an error or an empty answer moves
   * on to the next, and the first non-empty answer wins. Rejects with
   * {@linkcode ResolveError} when none has an address (the last nameserver
   * error is its `cause`), with the signal's reason when `signal` aborts, and
   * with `ClosedError` after {@linkcode close}.
   */
  async resolve(host: string, signal?: AbortSignal): Promise<string[]> {
    if (this.#closed) throw new ClosedError("Resolver is closed");
    signal?.throwIfAborted();
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
    if (isIPv4(bare) || isIPv6(bare)) return [bare];
    const name = bare.endsWith(".") ? bare.slice(0, -1) : bare;
    try {
      if (name === "") throw new TypeError(`Invalid DNS name "${host}": empty`);
      encodeName(name);
    } catch (err) {
      throw new ResolveError(host, { cause: err });
    }
    let lastError: unknown;
    for (const server of this.#servers) {
      let ips: string[];
      try {
        ips = await this.#resolveWith(server, name, signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (this.#closed) throw err;
        lastError = err;
        this.#log.error(`resolve ${host} via ${server.label}: ${(err as Error).message ?? err}`);
        continue;
      }
      this.#log.debug(`resolve ${host} via ${server.label}: [${ips.join(" ")}]`);
      if (ips.length) return ips;
    }
    throw new ResolveError(host, lastError === undefined ? undefined : { cause: lastError });
  }

  /** Ends every query in flight (background refreshes too), drops the cache, closes pooled connections. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#flights.values()) f.ctl.abort(new ClosedError("Resolver is closed"));
    this.#flights.clear();
    for (const s of this.#servers) s.exchanger.close();
    this.#cache.clear();
  }

  /** One nameserver: each record type in order until one has addresses. */
  async #resolveWith(server: Server, name: string, signal?: AbortSignal): Promise<string[]> {
    let failure: { err: unknown } | undefined;
    for (const type of server.types) {
      try {
        const ips = await this.#lookup(server, name, type, signal);
        if (ips.length) return ips;
      } catch (err) {
        if (signal?.aborted || this.#closed) throw err;
        failure = { err };
      }
    }
    if (failure) throw failure.err;
    return [];
  }

  /** One question: from the cache if fresh (or stale in async mode), else on the wire. */
  async #lookup(server: Server, name: string, type: number, signal?: AbortSignal): Promise<string[]> {
    const key = cacheKey(type, canonicalName(name));
    // Like GOST, every nameserver reads the shared cache, even one that does not fill it.
    const hit = this.#cache.get(key);
    if (hit && hit.expires > Date.now()) return [...hit.ips];
    if (hit && server.async) {
      this.#refresh(server, key, name, type);
      return [...hit.ips];
    }
    return await this.#join(this.#flight(server, key, name, type), signal);
  }

  /** Starts a background query that refreshes `key`, unless one is already on the wire. */
  #refresh(server: Server, key: string, name: string, type: number): void {
    const f = this.#flight(server, key, name, type);
    f.waiters++; // the refresh itself waits for it, and never gives up
    f.promise.catch((err) => {
      if (!this.#closed) this.#log.warn(`refresh ${name} via ${server.label}: ${(err as Error).message ?? err}`);
    });
  }

  /** The query in flight for this nameserver and question, or a new one. */
  #flight(server: Server, key: string, name: string, type: number): Flight {
    const fkey = `${server.index} ${key}`;
    const existing = this.#flights.get(fkey);
    if (existing) return existing;
    const ctl = new AbortController();
    const flight: Flight = { ctl, waiters: 0, promise: Promise.resolve([]) };
    flight.promise = this.#query(server, key, name, type, ctl).finally(() => {
      if (this.#flights.get(fkey) === flight) this.#flights.delete(fkey);
    });
    flight.promise.catch(() => {}); // a flight every caller gave up on rejects unobserved
    this.#flights.set(fkey, flight);
    return flight;
  }

  /** Waits for `flight` as one more caller; a caller whose signal aborts leaves, the last one ends the query. */
  #join(flight: Flight, signal?: AbortSignal): Promise<string[]> {
    flight.waiters++;
    if (!signal) return flight.promise;
    return new Promise<string[]>((resolve, reject) => {
      const off = onAbort(signal, () => {
        if (--flight.waiters === 0) flight.ctl.abort(new DOMException("Every caller gave up", "AbortError"));
        reject(signal.reason);
      });
      flight.promise.then((ips) => {
        off();
        resolve(ips);
      }, (err) => {
        off();
        reject(err);
      });
    });
  }

  /** Sends one query and turns the reply into addresses; caches the answer unless `ttl < 0`. */
  async #query(server: Server, key: string, name: string, type: number, ctl: AbortController): Promise<string[]> {
    const timer = setTimeout(() => {
      ctl.abort(new Deno.errors.TimedOut(`DNS query for "${name}" timed out after ${server.timeout} ms`));
    }, server.timeout);
    try {
      const id = crypto.getRandomValues(new Uint16Array(1))[0];
      const query = encodeQuery(id, name, type, { clientSubnet: server.subnet });
      const reply = await server.exchanger.exchange(query, ctl.signal);
      if (!isReplyTo(query, reply)) throw new SyntaxError(`Reply for "${name}" does not match the query`);
      const msg = decodeMessage(reply);
      // NXDOMAIN and an empty NOERROR are answers (cached as negative); SERVFAIL, REFUSED, … are failures.
      if (msg.rcode !== RCODE_NOERROR && msg.rcode !== RCODE_NXDOMAIN) {
        throw new Error(`DNS ${rcodeName(msg.rcode)} for "${name}"`);
      }
      const ips = addressesOf(msg, name, type);
      if (server.ttl >= 0 && !this.#closed) {
        this.#cache.set(key, ips, cacheLifetime(server.ttl, msg.answers.map((rr) => rr.ttl)));
      }
      return ips;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * GOST's order: `only` of `ipv4`/`ipv6`/`ip4`/`ip6` replaces `prefer`; then
 * `ipv6` asks AAAA first, anything else A first; `only` of exactly `ipv4` or
 * `ipv6` stops after the first type.
 */
export function queryOrder(prefer?: string, only?: string): number[] {
  const pref = only === "ipv4" || only === "ipv6" || only === "ip4" || only === "ip6" ? only : prefer;
  if (pref === "ipv6") return only === "ipv6" ? [TYPE_AAAA] : [TYPE_AAAA, TYPE_A];
  return only === "ipv4" ? [TYPE_A] : [TYPE_A, TYPE_AAAA];
}

function exchangerFor(addr: NameserverAddr, timeout: number): Exchanger {
  switch (addr.protocol) {
    case "tcp":
      return new StreamExchanger(addr.host, addr.port, { timeout, tls: false });
    case "tls":
      return new StreamExchanger(addr.host, addr.port, { timeout, tls: true });
    case "https":
      return new DohExchanger(addr.url!);
    default:
      return new UdpExchanger(addr.host, addr.port);
  }
}

function labelOf(addr: NameserverAddr): string {
  const hp = joinHostPort(addr.host, addr.port);
  if (addr.protocol !== "https") return `${addr.protocol}://${hp}`;
  const u = new URL(addr.url!);
  return `https://${hp}${u.pathname}`;
}
