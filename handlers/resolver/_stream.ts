/**
 * DNS over TCP and over TLS (RFC 1035 §4.2.2, RFC 7858): each message is
 * preceded by its 2-byte length. One connection per query, closed after the
 * reply. DoT checks no certificate, as GOST does (`InsecureSkipVerify`).
 *
 * @module
 */
import { joinHostPort } from "../../transports/addr.ts";
import { netDial } from "../../transports/tcp/dial.ts";
import { tlsClient } from "../../transports/tls/conn.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import { type Exchanger, type ExchangerOptions, onAbort } from "./exchanger.ts";

/** Options of a {@linkcode StreamExchanger}. */
export interface StreamExchangerOptions extends ExchangerOptions {
  /** Wrap the connection in TLS (DoT). */
  tls: boolean;
}

/** Length-prefixed DNS over a fresh TCP (or TLS) connection. */
export class StreamExchanger implements Exchanger {
  readonly #host: string;
  readonly #port: number;
  readonly #opts: StreamExchangerOptions;

  constructor(host: string, port: number, opts: StreamExchangerOptions) {
    this.#host = host;
    this.#port = port;
    this.#opts = opts;
  }

  async exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (query.length > 0xffff) throw new RangeError(`DNS query of ${query.length} bytes does not fit a TCP frame`);
    const addr = joinHostPort(this.#host, this.#port);
    let conn: Conn = await netDial(addr, { signal });
    const off = onAbort(signal, () => closeQuietly(conn)); // ends a pending read or write
    try {
      if (this.#opts.tls) {
        conn = await tlsClient(conn, { secure: false, serverName: this.#host }, {
          signal,
          timeout: this.#opts.timeout,
        });
      }
      const frame = new Uint8Array(2 + query.length);
      new DataView(frame.buffer).setUint16(0, query.length);
      frame.set(query, 2);
      await writeAll(conn, frame);
      const head = await readFull(conn, 2, addr);
      const len = (head[0] << 8) | head[1];
      return await readFull(conn, len, addr);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      off();
      closeQuietly(conn);
    }
  }

  close(): void {
    // nothing pooled: every connection belongs to one exchange
  }
}

/** Reads exactly `n` bytes (at most 65535: the frame length bounds the reply). */
async function readFull(conn: Conn, n: number, addr: string): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Deno.errors.UnexpectedEof(`Nameserver "${addr}" closed the connection mid-reply`);
    got += r;
  }
  return out;
}
