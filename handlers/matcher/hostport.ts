/** Go `net.SplitHostPort` as the matchers use it: `undefined` when `addr` is not `host:port`. */
export function goSplitHostPort(addr: string): { host: string; port: string } | undefined {
  if (addr.startsWith("[")) {
    const end = addr.indexOf("]");
    if (end < 0 || addr[end + 1] !== ":" || addr.indexOf("]", end + 1) >= 0) return undefined;
    return { host: addr.slice(1, end), port: addr.slice(end + 2) };
  }
  const i = addr.lastIndexOf(":");
  if (i < 0 || addr.indexOf(":") !== i) return undefined;
  return { host: addr.slice(0, i), port: addr.slice(i + 1) };
}

/** An inclusive port range; a single port `N` is `N-N` (gost `PortRange`). */
export interface PortRange {
  min: number;
  max: number;
}

/** Parses `N` or `MIN-MAX`; `undefined` when invalid (gost then matches any port). */
export function parsePortRange(s: string): PortRange | undefined {
  const parts = s.split("-");
  if (parts.length > 2 || parts.some((p) => !/^[+-]?\d+$/.test(p))) return undefined;
  const [min, max] = parts.length === 1 ? [Number(parts[0]), Number(parts[0])] : parts.map(Number);
  if (parts.length === 1 && (min < 0 || min > 65535)) return undefined;
  return { min, max };
}

/** The host of `host:port`, or `addr` itself when it has no port. */
export function hostOf(addr: string): string {
  return goSplitHostPort(addr)?.host || addr;
}
