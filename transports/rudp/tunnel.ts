/**
 * Datagrams over a stream with the UDP-tunnel framing: the client end as a
 * `PacketConn` (for `rudp` pseudo-connections) or as a Conn to one fixed
 * destination, and the server end that pumps frames to and from a UDP socket.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { isBenignClose } from "../_io/pipe.ts";
import type { Datagram, PacketConn } from "../udp/packet.ts";
import { MAX_DATAGRAM } from "../udp/packet.ts";
import type { Addr, Conn } from "../types.ts";
import { encodeFrame, FrameReader, type HostPort } from "./frame.ts";

/** Serialises whole-frame writes from many writers onto one stream. */
class FrameWriter {
  readonly #conn: Conn;
  #tail: Promise<void> = Promise.resolve();

  constructor(conn: Conn) {
    this.#conn = conn;
  }

  write(addr: HostPort, data: Uint8Array): Promise<void> {
    if (data.length === 0) return Promise.resolve(); // nothing GOST could read back
    const frame = encodeFrame(addr, data);
    const next = this.#tail.then(() => writeAll(this.#conn, frame));
    this.#tail = next.catch(() => {});
    return next;
  }
}

/**
 * The client end of a UDP tunnel as a `PacketConn`: `readFrom` yields each
 * frame's datagram with the address in its header (the remote peer), and
 * `writeTo` frames a datagram for that address.
 */
export class TunnelPacketConn implements PacketConn {
  readonly #conn: Conn;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;
  #closed = false;

  constructor(conn: Conn) {
    this.#conn = conn;
    this.#reader = new FrameReader(conn);
    this.#writer = new FrameWriter(conn);
  }

  get localAddr(): Addr {
    return this.#conn.localAddr;
  }

  async readFrom(p: Uint8Array): Promise<Datagram | null> {
    if (this.#closed) return null;
    let f;
    try {
      f = await this.#reader.read();
    } catch (err) {
      if (this.#closed || isBenignClose(err)) return null;
      throw err;
    }
    if (f === null) return null;
    const n = Math.min(f.data.length, p.length);
    p.set(f.data.subarray(0, n));
    return { n, addr: { transport: "udp", hostname: f.addr.hostname, port: f.addr.port } };
  }

  writeTo(p: Uint8Array, addr: Deno.NetAddr): Promise<void> {
    return this.#writer.write(addr, p);
  }

  close(): void {
    this.#closed = true;
    closeQuietly(this.#conn);
  }
}

/**
 * A UDP tunnel to one fixed destination as a datagram Conn: each write is
 * framed for `dest`, each read returns the next frame's datagram (whatever
 * address it carries).
 */
export class TunnelConn implements Conn {
  readonly #conn: Conn;
  readonly #dest: HostPort;
  readonly #reader: FrameReader;
  readonly #writer: FrameWriter;

  constructor(conn: Conn, dest: HostPort) {
    this.#conn = conn;
    this.#dest = dest;
    this.#reader = new FrameReader(conn);
    this.#writer = new FrameWriter(conn);
  }

  get localAddr(): Addr {
    return this.#conn.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#conn.remoteAddr;
  }

  async read(p: Uint8Array): Promise<number | null> {
    const f = await this.#reader.read();
    if (f === null) return null;
    const n = Math.min(f.data.length, p.length);
    p.set(f.data.subarray(0, n));
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    await this.#writer.write(this.#dest, p);
    return p.length;
  }

  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  close(): void {
    this.#conn.close();
  }
}

/** What the server end of a tunnel moved. */
export interface TunnelStats {
  /** Datagram bytes from the stream to the socket. */
  inBytes: number;
  /** Datagram bytes from the socket to the stream. */
  outBytes: number;
  error?: unknown;
}

/**
 * The server end of a UDP tunnel (SOCKS5 UDP-TUN, relay UDP BIND): every
 * frame from `stream` is sent from `socket` to the frame's address (names
 * resolved by the socket), every datagram the socket receives goes back
 * framed with its sender. Ends — closing both — when the stream ends or
 * either side fails. Never rejects.
 */
export async function serveUdpTunnel(stream: Conn, socket: PacketConn, signal?: AbortSignal): Promise<TunnelStats> {
  const stats: TunnelStats = { inBytes: 0, outBytes: 0 };
  const writer = new FrameWriter(stream);
  const end = (err?: unknown) => {
    if (err !== undefined && !isBenignClose(err)) stats.error ??= err;
    socket.close();
    closeQuietly(stream);
  };
  const onAbort = () => end(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const up = (async () => {
    const reader = new FrameReader(stream);
    for (;;) {
      const f = await reader.read();
      if (f === null) return;
      try {
        await socket.writeTo(f.data, { transport: "udp", hostname: f.addr.hostname, port: f.addr.port });
        stats.inBytes += f.data.length;
      } catch (err) {
        // One bad destination (unresolvable, unreachable) loses that datagram, as UDP would.
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) throw err;
      }
    }
  })();
  const down = (async () => {
    const buf = new Uint8Array(MAX_DATAGRAM);
    for (;;) {
      const d = await socket.readFrom(buf);
      if (d === null) return;
      await writer.write(d.addr, buf.subarray(0, d.n));
      stats.outBytes += d.n;
    }
  })();
  try {
    await Promise.all([up.then(() => end(), end), down.then(() => end(), end)]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return stats;
}
