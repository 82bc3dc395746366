/**
 * Options of the `ohttp`, `ohttps` and `otls` listeners and dialers, parsed
 * from GOST metadata with gost's keys (x v0.8.1 `listener/obfs/*`,
 * `dialer/obfs/*`). `mptcp` is not read: dost cannot open MPTCP sockets, so
 * the config builder refuses it.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";

/** Request path of the ohttp upgrade. @default "/" */
export const DEFAULT_PATH = "/";

/** Time a listener waits for the client's upgrade request or ClientHello (gost has no option). @default 10000 */
export const HANDSHAKE_TIMEOUT = 10_000;

/** Handshaken conns waiting for `accept()` (GOST's backlog). @default 128 */
export const BACKLOG = 128;

export interface OhttpListenerOptions {
  /** Extra headers on the 101 response (YAML `header` map). */
  header?: Record<string, string>;
}

export interface OhttpDialerOptions {
  /** `Host` header; defaults to the node address with its port, as gost sends it. */
  host?: string;
  /** Request path. gost 3.2.6 reads it but always sends `/`; dost sends it. @default "/" */
  path: string;
  /** Extra request headers (YAML `header` map); `Host` is taken from `host`, as Go's HTTP client does. */
  header?: Record<string, string>;
}

export interface OtlsDialerOptions {
  /** SNI of the fake ClientHello; defaults to the node host. */
  host?: string;
}

function nonEmpty(m: Record<string, string> | undefined): Record<string, string> | undefined {
  return m && Object.keys(m).length ? m : undefined;
}

/** A value that goes into a request line or header as is: no spaces or control characters. */
function token(v: string | undefined, key: string): string | undefined {
  if (v === undefined || v === "") return undefined;
  if ([...v].some((c) => c <= " " || c === "\x7f")) {
    throw new TypeError(`Option "${key}" must not contain spaces or control characters, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Keys: `header` (the only ones gost's ohttp listener reads, besides `mptcp`). */
export function parseOhttpListenerMetadata(md: Metadata): OhttpListenerOptions {
  return { header: nonEmpty(md.map("header")) };
}

/** Keys: `obfs.host`/`host`, `obfs.path`/`path`, `obfs.header`/`header`. */
export function parseOhttpDialerMetadata(md: Metadata): OhttpDialerOptions {
  const path = token(md.string("obfs.path", "path"), "path") ?? DEFAULT_PATH;
  return {
    host: token(md.string("obfs.host", "host"), "host"),
    path: path.startsWith("/") ? path : `/${path}`,
    header: nonEmpty(md.map("obfs.header", "header")),
  };
}

/** Keys: `host`. */
export function parseOtlsDialerMetadata(md: Metadata): OtlsDialerOptions {
  return { host: token(md.string("host"), "host") };
}
