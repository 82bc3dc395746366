/** Host/port helpers with Go `net.SplitHostPort` semantics. */

/** Splits `host:port` / `[v6]:port`; throws TypeError on a malformed address. */
export function splitHostPort(addr: string): { host: string; port: number } {
  let host: string;
  let portStr: string;
  if (addr.startsWith("[")) {
    const end = addr.indexOf("]");
    if (end < 0 || addr[end + 1] !== ":") throw new TypeError(`Invalid address "${addr}": missing port`);
    host = addr.slice(1, end);
    portStr = addr.slice(end + 2);
  } else {
    const i = addr.lastIndexOf(":");
    if (i < 0) throw new TypeError(`Invalid address "${addr}": missing port`);
    host = addr.slice(0, i);
    portStr = addr.slice(i + 1);
    if (host.includes(":")) throw new TypeError(`Invalid address "${addr}": too many colons`);
  }
  if (!/^\d{1,5}$/.test(portStr) || Number(portStr) > 65535) {
    throw new TypeError(`Invalid address "${addr}": bad port "${portStr}"`);
  }
  return { host, port: Number(portStr) };
}

/** Joins host and port, bracketing IPv6 literals. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The hostname to dial for a host part; Go dials "" as the local host. */
export function dialHost(host: string): string {
  return host === "" ? "127.0.0.1" : host;
}

/** The hostname to listen on; "" means all interfaces. */
export function listenHost(host: string): string {
  return host === "" ? "0.0.0.0" : host;
}

/** Appends `:port` when `hostport` has none (IPv6 literals are bracketed). */
export function withDefaultPort(hostport: string, port: number): string {
  if (hostport.startsWith("[")) return hostport.includes("]:") ? hostport : `${hostport}:${port}`;
  const colons = hostport.split(":").length - 1;
  if (colons === 0) return `${hostport}:${port}`;
  if (colons > 1) return `[${hostport}]:${port}`; // bare IPv6
  return hostport;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIPv6(s: string): boolean {
  return s.includes(":") && parseIPv6(s) !== null;
}

/** Parses an IPv6 literal into 16 bytes, or null. */
export function parseIPv6(s: string): Uint8Array | null {
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    if (!isIPv4(v4[1])) return null;
    tail = v4[1].split(".").map(Number);
    s = s.slice(0, -v4[1].length) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === "" ? [] : h.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = head.length + rest.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return null;
  const all = [...head, ...Array(8 - groups).fill("0"), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(all[i])) return null;
    const v = parseInt(all[i], 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  if (tail.length) out.set(tail, 12);
  return out;
}

/** Formats 16 bytes as a compressed IPv6 literal. */
export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(":");
  return hex.slice(0, bestStart).join(":") + "::" + hex.slice(bestStart + bestLen).join(":");
}
