/**
 * Datagram sockets behind one small interface, so a local UDP port and a
 * UDP tunnel (datagrams framed on a stream, `rudp`) feed the same
 * pseudo-connection listener.
 *
 * @module
 */
import { closeQuietly } from "../_io/write_all.ts";
import type { Addr } from "../types.ts";

/** Largest UDP payload. */
export const MAX_DATAGRAM = 65535;

/** One received datagram: its length in the caller's buffer and its sender. */
export interface Datagram {
  n: number;
  addr: Deno.NetAddr;
}

/** An unconnected datagram socket (Go's `net.PacketConn`). */
export interface PacketConn {
  /** Reads the next datagram into `p` (truncated to fit); null once the socket is closed or its stream ended. */
  readFrom(p: Uint8Array): Promise<Datagram | null>;
  /** Sends `p` as one datagram to `addr` (a host name is resolved by whoever sends it on). */
  writeTo(p: Uint8Array, addr: Deno.NetAddr): Promise<void>;
  close(): void;
  readonly localAddr: Addr;
}

/** A `PacketConn` over a Deno UDP socket. */
export class SocketPacketConn implements PacketConn {
  readonly #sock: Deno.DatagramConn;
  #closed = false;

  constructor(sock: Deno.DatagramConn) {
    this.#sock = sock;
  }

  /** Binds a UDP socket on `hostname:port` (port 0 = any). */
  static listen(hostname: string, port: number): SocketPacketConn {
    return new SocketPacketConn(Deno.listenDatagram({ hostname, port, transport: "udp" }));
  }

  get localAddr(): Addr {
    return this.#sock.addr;
  }

  async readFrom(p: Uint8Array): Promise<Datagram | null> {
    for (;;) {
      if (this.#closed) return null;
      try {
        const [data, addr] = await this.#sock.receive(p);
        return { n: data.length, addr: addr as Deno.NetAddr };
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return null;
        }
        // ICMP errors (ECONNREFUSED from an earlier send) surface on receive: not fatal for a socket.
        if (err instanceof Deno.errors.ConnectionRefused || err instanceof Deno.errors.ConnectionReset) continue;
        throw err;
      }
    }
  }

  async writeTo(p: Uint8Array, addr: Deno.NetAddr): Promise<void> {
    await this.#sock.send(p, { transport: "udp", hostname: addr.hostname, port: addr.port });
  }

  close(): void {
    this.#closed = true;
    closeQuietly(this.#sock);
  }
}

/** `host:port` key of a datagram peer (IPv4-mapped IPv6 folded to IPv4). */
export function peerKey(a: Deno.NetAddr): string {
  const h = a.hostname.startsWith("::ffff:") && !a.hostname.slice(7).includes(":") ? a.hostname.slice(7) : a.hostname;
  return h.includes(":") ? `[${h}]:${a.port}` : `${h}:${a.port}`;
}
