/**
 * Nameserver addresses in GOST's forms: `1.1.1.1`, `1.1.1.1:53`,
 * `udp://h:p`, `tcp://h:p`, `tls://h:p` / `dot://h:p`, `https://h[:p]/path`.
 *
 * @module
 */

/** Port of a nameserver address without one, for every scheme but https — `tls://` too, as GOST does. @default 53 */
export const DEFAULT_DNS_PORT = 53;
/** Port of a DoH URL without one. @default 443 */
export const DEFAULT_DOH_PORT = 443;

/** How to reach one nameserver. */
export interface NameserverAddr {
  protocol: "udp" | "tcp" | "tls" | "https";
  /** Host name or IP literal, IPv6 without brackets. */
  host: string;
  port: number;
  /** For `https`: the URL to POST queries to. */
  url?: string;
}

/**
 * Parses a nameserver address. No scheme and unknown schemes mean UDP;
 * `tls` and `dot` both mean DNS over TLS. Throws a `TypeError` quoting the
 * value for an empty host, a bad port or a bad URL.
 *
 * @example
 * ```ts
 * parseNameserverAddr("tls://9.9.9.9:853"); // { protocol: "tls", host: "9.9.9.9", port: 853 }
 * ```
 */
export function parseNameserverAddr(addr: string): NameserverAddr {
  const raw = addr.trim();
  const sep = raw.indexOf("://");
  const scheme = sep >= 0 ? raw.slice(0, sep).toLowerCase() : "udp";
  if (scheme === "https") return parseDoh(addr, raw);
  const protocol = scheme === "tcp" ? "tcp" : scheme === "tls" || scheme === "dot" ? "tls" : "udp";
  let authority = sep >= 0 ? raw.slice(sep + 3) : raw;
  authority = authority.split(/[/?#]/, 1)[0];
  authority = authority.slice(authority.lastIndexOf("@") + 1); // userinfo means nothing here
  const { host, port } = splitAuthority(addr, authority);
  if (host === "") throw new TypeError(`Invalid nameserver address "${addr}": empty host`);
  return { protocol, host, port };
}

function splitAuthority(addr: string, authority: string): { host: string; port: number } {
  let host = authority;
  let port: string | undefined;
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    if (end < 0) throw new TypeError(`Invalid nameserver address "${addr}": missing "]"`);
    host = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) throw new TypeError(`Invalid nameserver address "${addr}": junk after "]"`);
      port = rest.slice(1);
    }
  } else {
    const colons = authority.split(":").length - 1;
    if (colons === 1) {
      const i = authority.indexOf(":");
      host = authority.slice(0, i);
      port = authority.slice(i + 1);
    }
    // more than one colon: a bare IPv6 literal, no port
  }
  return { host, port: port === undefined ? DEFAULT_DNS_PORT : parsePort(addr, port) };
}

function parsePort(addr: string, port: string): number {
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new TypeError(`Invalid nameserver address "${addr}": bad port "${port}"`);
  return n;
}

function parseDoh(addr: string, raw: string): NameserverAddr {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`Invalid nameserver address "${addr}": not a valid URL`);
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (host === "") throw new TypeError(`Invalid nameserver address "${addr}": empty host`);
  // URL already rejected ports over 65535 and dropped ":443"; port 0 is the one left to refuse.
  const port = url.port === "" ? DEFAULT_DOH_PORT : parsePort(addr, url.port);
  return { protocol: "https", host, port, url: url.href };
}
