/**
 * IP addresses as numbers, for sets, CIDRs and ranges. IPv4 and IPv6 live in
 * separate families; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is
 * treated as the IPv4 address, as Go's `netip.Addr.Unmap` does.
 *
 * @module
 */
import { isIPv4, parseIPv6 } from "../../transports/addr.ts";

export interface IP {
  v6: boolean;
  value: bigint;
}

/** Parses an IP literal (brackets and a `%zone` allowed for IPv6); `undefined` if it is not one. */
export function parseIP(s: string): IP | undefined {
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (isIPv4(s)) {
    const v = s.split(".").reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
    return { v6: false, value: v };
  }
  const zone = s.indexOf("%");
  const b = parseIPv6(zone < 0 ? s : s.slice(0, zone));
  if (!b) return undefined;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (v >> 32n === 0xffffn) return { v6: false, value: v & 0xffffffffn };
  return { v6: true, value: v };
}

/** The canonical text of an IP (dotted IPv4, or the parsed IPv6 as a number key). */
export function ipKey(ip: IP): string {
  return `${ip.v6 ? 6 : 4}:${ip.value.toString(16)}`;
}

export interface CIDR {
  v6: boolean;
  base: bigint;
  bits: number;
}

/** Parses `a.b.c.d/n` or `v6/n`; `undefined` if it is not a valid CIDR. Host bits are masked (Go `Masked`). */
export function parseCIDR(s: string): CIDR | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ipText = s.slice(0, slash);
  const bitsText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  // Go's ParsePrefix keeps a mapped address as IPv6: judge the family by the text.
  const v6 = ipText.includes(":");
  const ip = parseIP(ipText);
  if (!ip || bits > (v6 ? 128 : 32)) return undefined;
  const width = v6 ? 128 : 32;
  const value = v6 && !ip.v6 ? ip.value | (0xffffn << 32n) : ip.value;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
  return { v6, base: value & mask, bits };
}

export function cidrContains(c: CIDR, ip: IP): boolean {
  const width = c.v6 ? 128 : 32;
  if (c.v6 !== ip.v6) return false;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - c.bits)) - 1n);
  return (ip.value & mask) === c.base;
}

/** The client's IP text from a conn address (`""` for non-IP addresses). */
export function addrIP(addr: Deno.Addr | undefined): string {
  if (!addr || (addr.transport !== "tcp" && addr.transport !== "udp")) return "";
  const h = addr.hostname;
  return h.startsWith("::ffff:") && isIPv4(h.slice(7)) ? h.slice(7) : h;
}
