/**
 * DNS over UDP: one fresh socket per query (a random source port on top of
 * the random id), no TCP fallback on truncation, as GOST does.
 *
 * @module
 */
import { formatIPv6, isIPv6, parseIPv6 } from "../../transports/addr.ts";
import { resolveHost } from "../../transports/udp/mod.ts";
import { isReplyTo } from "./message.ts";
import { type Exchanger, onAbort } from "./exchanger.ts";

/**
 * Receive buffer. GOST reads 1024 bytes; a larger buffer only means a big
 * reply is read whole instead of failing to decode. @default 4096
 */
export const UDP_REPLY_BUFFER = 4096;

/** Sends each query from its own socket and waits for the datagram that answers it. */
export class UdpExchanger implements Exchanger {
  readonly #host: string;
  readonly #port: number;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  async exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    signal.throwIfAborted();
    const ip = canonicalIP(await resolveHost(this.#host, signal));
    signal.throwIfAborted();
    const sock = Deno.listenDatagram({ hostname: isIPv6(ip) ? "::" : "0.0.0.0", port: 0, transport: "udp" });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      sock.close(); // ends a pending receive()
    };
    const off = onAbort(signal, close);
    try {
      await sock.send(query, { transport: "udp", hostname: ip, port: this.#port });
      const buf = new Uint8Array(UDP_REPLY_BUFFER);
      for (;;) {
        const [data, from] = await sock.receive(buf);
        // Anything else (another host, a late reply to an earlier id, garbage) is not our answer.
        if (from.transport !== "udp" || canonicalIP(from.hostname) !== ip || from.port !== this.#port) continue;
        if (isReplyTo(query, data)) return data.slice();
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      off();
      close();
    }
  }

  close(): void {
    // nothing pooled: every socket belongs to one exchange
  }
}

/** One spelling per address, so a reply's source compares equal to the address queried. */
function canonicalIP(ip: string): string {
  const v6 = ip.includes(":") ? parseIPv6(ip) : null;
  if (!v6) return ip;
  // An IPv4-mapped source (::ffff:a.b.c.d) is the IPv4 address.
  if (v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return v6.subarray(12).join(".");
  return formatIPv6(v6);
}
