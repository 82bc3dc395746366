/**
 * The `ohttp`, `ohttps` and `otls` dialers. Dialing costs no round trip:
 * as gost does, the fake handshake goes out with the first write.
 *
 * @module
 */
import { splitHostPort } from "../addr.ts";
import type { Conn, Dialer, DialerOptions, DialOptions, RawDial } from "../types.ts";
import { buildRequest, OhttpClientConn } from "./_http.ts";
import { OtlsClientConn } from "./_tls.ts";
import {
  type OhttpDialerOptions,
  type OtlsDialerOptions,
  parseOhttpDialerMetadata,
  parseOtlsDialerMetadata,
} from "./metadata.ts";

/** obfs-http over the raw stream. */
export class OhttpDialer implements Dialer {
  readonly #opts: OhttpDialerOptions;

  constructor(opts: OhttpDialerOptions) {
    this.#opts = opts;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const conn = await raw(addr, opts);
    // gost: the `host` option, else the node address with its port.
    return new OhttpClientConn(conn, buildRequest(this.#opts.host ?? addr, this.#opts.path, this.#opts.header));
  }
}

/** obfs-tls over the raw stream. */
export class OtlsDialer implements Dialer {
  readonly #opts: OtlsDialerOptions;

  constructor(opts: OtlsDialerOptions) {
    this.#opts = opts;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const conn = await raw(addr, opts);
    return new OtlsClientConn(conn, this.#opts.host ?? hostOf(addr));
  }
}

/** The host part of `addr` (SNI carries no port; gost sends the whole address). */
function hostOf(addr: string): string {
  try {
    return splitHostPort(addr).host;
  } catch {
    return addr;
  }
}

/** The `ohttp` dialer. */
export function ohttpDialer(opts: DialerOptions): Dialer {
  return new OhttpDialer(parseOhttpDialerMetadata(opts.metadata));
}

/**
 * The `ohttps` dialer: gost 3.2.6 registers `ohttps` with its plain
 * constructor, so what it sends is obfs-http without TLS, and every gost
 * server that answers an `ohttps` node is a plain `ohttp` listener. dost sends
 * the same bytes and says at start that nothing is encrypted.
 */
export function ohttpsDialer(opts: DialerOptions): Dialer {
  opts.log.warn("ohttps sends plain obfs-http without TLS, as gost 3.2.6 does: traffic is not encrypted");
  return new OhttpDialer(parseOhttpDialerMetadata(opts.metadata));
}

/** The `otls` dialer. */
export function otlsDialer(opts: DialerOptions): Dialer {
  return new OtlsDialer(parseOtlsDialerMetadata(opts.metadata));
}
