/**
 * The `auto` handler: the first byte picks SOCKS5 (0x05), SOCKS4 (0x04) or
 * HTTP (anything else). All three share the service's options and auth.
 *
 * @module
 */
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import { httpHandler } from "../http/handler.ts";
import { socks4Handler } from "../socks4/mod.ts";
import { socks5Handler } from "../socks5/mod.ts";
import type { Handler, HandleResult, HandlerOptions } from "../types.ts";

/** How long a client may stay silent before its first byte. */
export const DEFAULT_SNIFF_TIMEOUT = 15_000;

export class AutoHandler implements Handler {
  readonly #http: Handler;
  readonly #socks4: Handler;
  readonly #socks5: Handler;
  readonly #timeout: number;

  constructor(opts: HandlerOptions) {
    this.#http = httpHandler(opts);
    this.#socks4 = socks4Handler(opts);
    this.#socks5 = socks5Handler(opts);
    this.#timeout = opts.metadata.duration("readTimeout") ?? DEFAULT_SNIFF_TIMEOUT;
  }

  async handle(raw: Conn, signal: AbortSignal): Promise<HandleResult> {
    const conn = new BufferedConn(raw);
    let first: Uint8Array;
    const timer = setTimeout(() => closeQuietly(conn), this.#timeout);
    try {
      first = await conn.peek(1);
    } catch (err) {
      closeQuietly(conn);
      return { error: err };
    } finally {
      clearTimeout(timer);
    }
    if (first.length === 0) {
      closeQuietly(conn);
      return {};
    }
    const h = first[0] === 5 ? this.#socks5 : first[0] === 4 ? this.#socks4 : this.#http;
    return await h.handle(conn, signal);
  }
}

export function autoHandler(opts: HandlerOptions): Handler {
  return new AutoHandler(opts);
}
