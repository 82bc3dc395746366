/**
 * Small pieces the HTTP/2-based transports share: ALPN on the TLS configs,
 * waiting for a response with a deadline, the client address from proxy
 * headers, and Go's `Date` format.
 *
 * @module
 */
import { isIPv4, isIPv6, splitHostPort } from "../addr.ts";
import type { Addr, ClientTLSConfig, ServerTLSConfig } from "../types.ts";
import { ErrorCode } from "./_frame.ts";
import type { HeaderField } from "./_hpack.ts";
import type { H2Stream } from "./_stream.ts";

/** The service certificate with `alpn` offered; resolved once (TLS contexts are cached per config object). */
export function serverTLSWithAlpn(tls: () => Promise<ServerTLSConfig>, alpn: string[]): () => Promise<ServerTLSConfig> {
  let p: Promise<ServerTLSConfig> | undefined;
  return () => (p ??= tls().then((cfg) => ({ ...cfg, alpn })));
}

/**
 * Client TLS configs per host: SNI defaults to the node host, ALPN to
 * `alpn` unless the config names its own (`tls.options.alpn`).
 */
export class ClientTLSByHost {
  readonly #base: ClientTLSConfig;
  readonly #byHost = new Map<string, ClientTLSConfig>();

  constructor(base: ClientTLSConfig, alpn: string[]) {
    this.#base = { ...base, alpn: base.alpn?.length ? base.alpn : alpn };
  }

  forAddr(addr: string): ClientTLSConfig {
    if (this.#base.serverName) return this.#base;
    const host = hostOf(addr);
    if (!host) return this.#base;
    let cfg = this.#byHost.get(host);
    if (!cfg) {
      if (this.#byHost.size >= 1024) this.#byHost.clear();
      cfg = { ...this.#base, serverName: host };
      this.#byHost.set(host, cfg);
    }
    return cfg;
  }
}

/** The host part of `host:port`, or undefined. */
export function hostOf(addr: string): string | undefined {
  try {
    return splitHostPort(addr).host || undefined;
  } catch {
    return undefined;
  }
}

/** The first value of `name` in a header list. */
export function headerValue(headers: readonly HeaderField[], name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

/**
 * Waits for the response on a client stream, at most `timeout` ms and until
 * `signal` aborts; on either the stream is reset (CANCEL) and the wait fails.
 */
export function awaitResponse(stream: H2Stream, timeout: number, signal?: AbortSignal): Promise<HeaderField[]> {
  return new Promise<HeaderField[]>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: unknown) => {
      if (done) return;
      finish();
      stream.reset(ErrorCode.CANCEL);
      reject(err);
    };
    const onAbort = () => fail(signal?.reason ?? new Error("aborted"));
    const timer = setTimeout(
      () => fail(new Deno.errors.TimedOut(`HTTP/2 response not received within ${timeout} ms`)),
      timeout,
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    stream.response.then((h) => {
      if (done) return;
      finish();
      resolve(h);
    }, (err) => {
      if (done) return;
      finish();
      reject(err);
    });
  });
}

/**
 * The client address GOST logs for a tunnel request: `CF-Connecting-IP`,
 * the first `X-Forwarded-For` element or `X-Real-IP`, when it is an IP.
 */
export function clientAddrFromHeaders(headers: readonly HeaderField[]): Addr | undefined {
  const candidates = [
    headerValue(headers, "cf-connecting-ip"),
    headerValue(headers, "x-forwarded-for")?.split(",")[0],
    headerValue(headers, "x-real-ip"),
  ];
  for (const c of candidates) {
    const ip = c?.trim();
    if (ip && (isIPv4(ip) || isIPv6(ip))) return { transport: "tcp", hostname: ip, port: 0 };
  }
  return undefined;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An HTTP `Date` value (IMF-fixdate), as Go's server adds to responses. */
export function httpDate(d: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} GMT`;
}
