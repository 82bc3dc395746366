/**
 * DNS resolution for GOST's `resolvers` (spec §7): nameservers over UDP,
 * TCP, DNS over TLS and DNS over HTTPS, with the wire format written here
 * (no DNS library), GOST's A/AAAA preference rules and answer cache.
 *
 * Certificates: DoT and DoH check none, as GOST does. DoH runs on
 * `node:https` (HTTP/1.1) because Deno's `fetch` cannot skip verification
 * per client.
 *
 * @example
 * ```ts
 * const r = new DnsResolver([{ addr: "udp://127.0.0.1:53" }, { addr: "tls://127.0.0.1:853" }]);
 * try {
 *   const ips = await r.resolve("example.org");
 * } finally {
 *   r.close();
 * }
 * ```
 *
 * @module
 */
export { DEFAULT_TIMEOUT, DnsResolver, type NameserverOptions, ResolveError } from "./resolver.ts";
export { DEFAULT_DNS_PORT, DEFAULT_DOH_PORT, type NameserverAddr, parseNameserverAddr } from "./addr.ts";
