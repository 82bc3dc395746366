/**
 * A QUIC transport as a later hop of a chain. Deno's QUIC runs on a UDP
 * socket of its own and cannot take a tunnel in its place, so the tunnel is
 * joined to a loopback UDP socket: QUIC talks to that socket, and every
 * datagram goes on through the previous hops (relay UDP, SOCKS5 UDP-TUN) to
 * the node, as gost's QUIC dialers do over the route's packet conn.
 *
 * @module
 */
import { closeQuietly } from "../_io/write_all.ts";
import type { Conn } from "../types.ts";

/** Largest datagram carried (UDP's own limit). */
const MAX_DATAGRAM = 65_535;

/**
 * Joins `tunnel` (a datagram conn) to a loopback UDP socket. The first local
 * sender becomes the bridge's peer; datagrams from any other source are
 * dropped, so another local process cannot take the session over.
 */
export class UdpBridge {
  readonly #tunnel: Conn;
  readonly #sock: Deno.DatagramConn;
  #peer: Deno.NetAddr | undefined;
  #closed = false;
  readonly #ended: Promise<void>;
  #onEnd: (() => void) | undefined;

  constructor(tunnel: Conn) {
    this.#tunnel = tunnel;
    this.#sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    this.#ended = Promise.race([this.#up(), this.#down()]).finally(() => {
      this.close();
      this.#onEnd?.();
    });
  }

  /** The loopback port QUIC should talk to. */
  get port(): number {
    return (this.#sock.addr as Deno.NetAddr).port;
  }

  /** Called once when either side ends (the tunnel closed, or {@linkcode close}). */
  set onEnd(f: () => void) {
    this.#onEnd = f;
  }

  /** Resolves once both pumps have stopped. */
  get ended(): Promise<void> {
    return this.#ended;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#sock.close();
    } catch { /* already closed */ }
    closeQuietly(this.#tunnel);
  }

  /** Local QUIC → tunnel. */
  async #up(): Promise<void> {
    try {
      for (;;) {
        const [data, from] = await this.#sock.receive();
        const addr = from as Deno.NetAddr;
        if (!this.#peer) this.#peer = addr;
        else if (addr.port !== this.#peer.port || addr.hostname !== this.#peer.hostname) continue;
        await this.#tunnel.write(data);
      }
    } catch {
      // The socket was closed or the tunnel refused a write: the bridge ends.
    }
  }

  /** Tunnel → local QUIC. */
  async #down(): Promise<void> {
    const buf = new Uint8Array(MAX_DATAGRAM);
    try {
      for (;;) {
        const n = await this.#tunnel.read(buf);
        if (n === null) return;
        // Nothing was sent yet, so nobody asked: drop it, as a UDP socket would for an unknown flow.
        if (this.#peer) await this.#sock.send(buf.subarray(0, n), this.#peer);
      }
    } catch {
      // The tunnel broke or the socket was closed.
    }
  }
}
