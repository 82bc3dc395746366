/**
 * Static host name mappings (gost `hosts`): `example.org` → that name only,
 * `.example.org` → the name and its sub-domains. Lookups try the name, then
 * `.name`, then each dot suffix, case-sensitive, and return the first IP of
 * the first key that has any (go-gost/x v0.8.1 `hosts/hosts.go`).
 *
 * @module
 */
import { parseIP } from "../matcher/ip.ts";

export interface HostMapping {
  hostname: string;
  ip: string;
}

/** Looks names up in a static table. */
export interface HostMapper {
  /** The IP for `host`, or `undefined` when no mapping applies. */
  lookup(host: string): string | undefined;
}

/**
 * Parses hosts-file lines (`IP name [name…]`); a line whose IP does not
 * parse is an error naming it (gost skips it).
 *
 * @throws {TypeError}
 */
export function parseHostsLines(lines: readonly string[]): HostMapping[] {
  const out: HostMapping[] = [];
  for (const line of lines) {
    const f = line.trim().split(/\s+/).filter(Boolean);
    if (f.length === 0) continue;
    if (f.length < 2) throw new TypeError(`Invalid hosts line "${line}": expected "IP name [name...]"`);
    if (!parseIP(f[0])) throw new TypeError(`Invalid hosts line "${line}": "${f[0]}" is not an IP address`);
    for (const name of f.slice(1)) out.push({ hostname: name, ip: f[0] });
  }
  return out;
}

export class Hosts implements HostMapper {
  #table = new Map<string, string[]>();

  constructor(readonly name: string, mappings: readonly HostMapping[] = []) {
    this.update(mappings);
  }

  /**
   * Replaces the table.
   *
   * @throws {TypeError} for a mapping whose IP is not an IP or whose name is empty
   */
  update(mappings: readonly HostMapping[]): void {
    const table = new Map<string, string[]>();
    for (const m of mappings) {
      if (!m.hostname) throw new TypeError(`Invalid host mapping for "${m.ip}": empty hostname`);
      if (!parseIP(m.ip)) throw new TypeError(`Invalid host mapping "${m.hostname}": "${m.ip}" is not an IP address`);
      const list = table.get(m.hostname) ?? [];
      list.push(m.ip);
      table.set(m.hostname, list);
    }
    this.#table = table;
  }

  lookup(host: string): string | undefined {
    if (host === "" || parseIP(host)) return undefined;
    const get = (k: string) => this.#table.get(k)?.[0];
    let hit = get(host) ?? get("." + host);
    if (hit) return hit;
    for (let h = host, i = h.indexOf("."); i > 0; i = h.indexOf(".")) {
      hit = get(h.slice(i));
      if (hit) return hit;
      h = h.slice(i + 1);
    }
    return undefined;
  }
}
