/**
 * Options of the `mtcp`/`mtls` listener and dialer, parsed from GOST
 * metadata: the smux session options (`mux.*`) plus `backlog` (listener) and
 * `handshakeTimeout` (dialer).
 *
 * GOST's defaults differ by scheme: `mtcp` runs smux version 2 unless
 * `mux.version` says otherwise, `mtls` version 1 (both ends of a GOST pair
 * agree, and a dost peer must too, or the first frame kills the session).
 *
 * Accepted and ignored: the listener's `mptcp` (Deno has no MPTCP sockets);
 * the `mtcp` dialer's `handshakeTimeout` (smux has no handshake; in GOST it
 * bounds only the write of the first SYN, which dost queues without waiting).
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { type MuxConfig, parseMuxMetadata } from "../_mux/mod.ts";

/** TLS handshake timeout of `mtls` (tls's default; not imported from there, so mtcp loads no TLS code). @default 10000 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** Streams waiting for `accept()`; more are closed. @default 128 (GOST's) */
export const DEFAULT_BACKLOG = 128;
/** smux version of `mtcp` when `mux.version` is unset or 0 (GOST's dialer/mtcp and listener/mtcp). */
export const MTCP_MUX_VERSION = 2;

/** Options of the mtcp/mtls listener. */
export interface MtcpListenerOptions {
  mux: MuxConfig;
  /** Accepted streams waiting for `accept()`. @default 128 */
  backlog: number;
}

/** Options of the mtcp/mtls dialer. */
export interface MtcpDialerOptions {
  mux: MuxConfig;
  /** TLS handshake timeout of `mtls`, milliseconds. @default 10000 */
  handshakeTimeout: number;
}

/**
 * `mux.*` with the scheme's default version. As in GOST's internal/util/mux,
 * a negative `mux.version` falls back to smux's own default, 1.
 */
function muxOf(md: Metadata, tls: boolean): MuxConfig {
  if (tls) return parseMuxMetadata(md);
  const v = md.int("mux.version");
  return parseMuxMetadata(md, { version: v === undefined || v === 0 ? MTCP_MUX_VERSION : 1 });
}

/** `tls`: the `mtls` listener (smux v1 by default); else `mtcp` (v2). Throws RangeError for a config smux rejects. */
export function parseListenerMetadata(md: Metadata, tls: boolean): MtcpListenerOptions {
  const mux = muxOf(md, tls);
  const backlog = md.int("backlog");
  md.bool("mptcp"); // accepted, ignored
  return { mux, backlog: backlog !== undefined && backlog > 0 ? backlog : DEFAULT_BACKLOG };
}

/** `tls`: the `mtls` dialer (smux v1 by default); else `mtcp` (v2). Throws RangeError for a config smux rejects. */
export function parseDialerMetadata(md: Metadata, tls: boolean): MtcpDialerOptions {
  const mux = muxOf(md, tls);
  const t = md.duration("handshakeTimeout");
  return { mux, handshakeTimeout: t !== undefined && t > 0 ? t : DEFAULT_HANDSHAKE_TIMEOUT };
}
