/**
 * What a sniffing forwarder reads before it picks a target (x v0.8.1
 * `internal/util/sniffing`): the host of an HTTP/1.x request (its `Host`
 * header) or of a TLS ClientHello (its SNI). Nothing is terminated: the
 * bytes read are handed on in front of the rest of the stream.
 *
 * @module
 */
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import { parseClientHello } from "../../transports/obfs/_hello.ts";
import { HttpParseError, readRequestHead } from "../../transports/_ws/http_head.ts";
import type { Conn } from "../../transports/types.ts";
import { bytesConn } from "../../transports/_io/bytes_conn.ts";

/** Largest request head read while sniffing. */
export const MAX_SNIFF_HEAD = 32 * 1024;
const MAX_RECORD = 16384 + 2048;
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
/** First bytes of the HTTP methods gost's sniffer knows. */
const METHODS = ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", "PRI "];

export interface Sniffed {
  proto?: "http" | "tls";
  /** `host:port` (port 80 / 443 when the request names none); undefined when nothing names a host. */
  host?: string;
  /** The bytes read, to be sent on before the rest of `conn`. */
  head: Uint8Array;
  /** An HTTP status to answer with when the head is unusable (400, 431). */
  status?: number;
}

/** Reads what names the target; `bc` then holds everything after `head`. Resolves `{head: empty}` for other protocols. */
export async function sniff(bc: BufferedConn, conn: Conn, timeout: number, signal?: AbortSignal): Promise<Sniffed> {
  return await within(conn, timeout, signal, async () => {
    const first = await bc.peek(1);
    if (first.length === 0) return { head: new Uint8Array(0) };
    if (first[0] === 0x16) {
      const h = await bc.peek(5);
      if (h.length < 5) return { head: new Uint8Array(0) };
      const len = h[3] << 8 | h[4];
      if (len > MAX_RECORD) return { proto: "tls", head: new Uint8Array(0) };
      const record = await bc.readExact(5 + len);
      let name: string | undefined;
      try {
        name = parseClientHello(record.subarray(5)).serverName;
      } catch {
        name = undefined;
      }
      return { proto: "tls", host: name ? join(name, 443) : undefined, head: record };
    }
    // What the first read brought (without waiting for more: a short first message must not stall).
    const text = new TextDecoder().decode(await bc.peek(Math.min(bc.buffered, 8)));
    if (!METHODS.some((m) => text.startsWith(m) || (text.length < m.length && m.startsWith(text)))) {
      return { head: new Uint8Array(0) };
    }
    let raw: Uint8Array | null;
    try {
      raw = await bc.readUntil(CRLFCRLF, MAX_SNIFF_HEAD);
    } catch (err) {
      if (err instanceof RangeError) return { proto: "http", head: new Uint8Array(0), status: 431 };
      throw err;
    }
    if (raw === null) return { head: new Uint8Array(0) };
    try {
      const req = await readRequestHead(new BufferedConn(bytesConn(raw, conn)), MAX_SNIFF_HEAD);
      const host = req?.headers.get("Host");
      if (!host) return { proto: "http", head: raw };
      return { proto: "http", host: /:\d+$/.test(host) && !host.endsWith("]") ? host : join(host, 80), head: raw };
    } catch (err) {
      if (err instanceof HttpParseError) return { proto: "http", head: raw, status: err.status };
      throw err;
    }
  });
}

function join(host: string, port: number): string {
  const h = host.replace(/^\[|\]$/g, "");
  return h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
}

async function within<T>(conn: Conn, ms: number, signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> {
  let timedOut = false;
  const timer = ms > 0
    ? setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, ms)
    : undefined;
  const onAbort = () => closeQuietly(conn);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const v = await op();
    if (timedOut) throw new Deno.errors.TimedOut(`Nothing to sniff within ${ms} ms`);
    return v;
  } catch (err) {
    if (timedOut) throw new Deno.errors.TimedOut(`Nothing to sniff within ${ms} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
