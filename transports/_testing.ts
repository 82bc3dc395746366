/**
 * Test primitives shared by every area's tests (not used by dost itself):
 * loopback TCP pairs, deterministic data, digests and read helpers.
 *
 * @module
 */
import { writeAll } from "./_io/write_all.ts";
import type { RawDial } from "./types.ts";
import { dialUdp } from "./udp/dial.ts";

type Reader = { read(p: Uint8Array): Promise<number | null> };
type Writer = { write(p: Uint8Array): Promise<number> };

/** A connected pair of loopback TCP conns with TCP_NODELAY. */
export async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [a, b] = await Promise.all([Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port }), ln.accept()]);
    a.setNoDelay(true);
    b.setNoDelay(true);
    return [a, b];
  } finally {
    ln.close();
  }
}

/** Deterministic pseudo-random bytes (xorshift32), filled four bytes at a time. */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < size; i++) out[i] = i & 0xff;
  return out;
}

/** Hex SHA-256. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads until end of stream; returns everything. */
export async function readAll(conn: Reader, hint = 1 << 16): Promise<Uint8Array> {
  let buf = new Uint8Array(hint);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      const nb = new Uint8Array(buf.length * 2);
      nb.set(buf);
      buf = nb;
    }
    const r = await conn.read(buf.subarray(n));
    if (r === null) return buf.subarray(0, n);
    n += r;
  }
}

/** Reads exactly `n` bytes or throws. */
export async function readExactly(conn: Reader, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

/** Writes `data` in `chunk`-sized writes. */
export async function writeChunked(conn: Writer, data: Uint8Array, chunk = 256 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    await writeAll(conn, data.subarray(off, Math.min(off + chunk, data.length)));
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const picked = new Set<number>();
/**
 * Test files run in parallel as isolates of one `deno test` process (one pid), each with its own `picked`: each
 * module copy takes one of 8 slices of the range at random, so two rarely race for the same free port.
 */
const slice = Math.floor(Math.random() * 8);

/**
 * Picks a free loopback port for a server a test starts later. Ports come at
 * random from 20000–32767, below Linux's ephemeral range (32768–60999), so
 * outgoing connections of parallel tests cannot take them in the meantime;
 * the port must be free for both TCP and UDP (QUIC, udp:// and rudp://).
 */
export function freePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + slice * 1596 + Math.floor(Math.random() * 1596);
    // Never hand the same port out twice in one process (it may not be bound yet).
    if (picked.has(port)) continue;
    picked.add(port);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" }).close();
      return port;
    } catch {
      // taken: try another
    }
  }
  throw new Error("No free loopback port found in 20000-32767");
}

/**
 * A later hop's raw dial for the QUIC transports' tests: each datagram
 * tunnel is a UDP socket to the node (what a relay hop's UDP conn looks
 * like to the dialer). `networks` records what each call asked for.
 */
export function datagramTunnel(networks: string[] = []): RawDial {
  return (addr, opts) => {
    networks.push(opts?.network ?? "tcp");
    if (opts?.network !== "udp") {
      return Promise.reject(new Error(`datagram tunnel asked for ${opts?.network ?? "tcp"}`));
    }
    return dialUdp(addr, opts);
  };
}
