/**
 * The `mtcp` / `mtls` dialer: one smux client session per node address over
 * the raw stream (mtcp) or TLS on it (mtls), one stream per dial.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { TlsDialer } from "../tls/mod.ts";
import type { ClientTLSConfig, Dialer, DialerOptions } from "../types.ts";
import { SessionDialer } from "../_mux/session_dialer.ts";
import { type MtcpDialerOptions, parseDialerMetadata } from "./metadata.ts";

/**
 * The shared {@linkcode SessionDialer} over TCP or TLS: a dead session is
 * replaced within the same dial (GOST fails that request and builds anew on
 * the next), concurrent dials share a session being built. No liveness probe:
 * smux has no ping a peer answers, so a peer that vanished silently is found
 * by the smux keepalive (`mux.keepaliveTimeout`), as in GOST.
 */
export class MtcpDialer extends SessionDialer {
  /** `tls` set: `mtls` (TLS under the session, GOST's TLS semantics); unset: `mtcp`. */
  constructor(opts: MtcpDialerOptions, tls?: ClientTLSConfig, log?: Logger) {
    // Imported on first use: mtcp never loads the TLS code (about 75 ms at start-up).
    let t: Promise<TlsDialer> | undefined;
    const tlsDialer = (cfg: ClientTLSConfig) =>
      t ??= import("../tls/mod.ts").then((m) =>
        // learnPin: a session lives long, so it runs on the faster TLS engine (see `dialTls`).
        new m.TlsDialer(cfg, { handshakeTimeout: opts.handshakeTimeout, learnPin: true })
      );
    super({
      name: tls ? "mtls" : "mtcp",
      mux: opts.mux,
      log,
      connect: async (addr, raw, signal) =>
        tls ? (await tlsDialer(tls)).dial(addr, raw, { signal }) : raw(addr, { signal }),
    });
  }
}

/** The `mtcp` dialer. */
export function mtcpDialer(opts: DialerOptions): Dialer {
  return new MtcpDialer(parseDialerMetadata(opts.metadata, false), undefined, opts.log);
}

/** The `mtls` dialer: TLS per the node's dialer TLS config (no verification unless `secure`). */
export function mtlsDialer(opts: DialerOptions): Dialer {
  return new MtcpDialer(parseDialerMetadata(opts.metadata, true), opts.tls, opts.log);
}
