/**
 * Pieces the tunnel handler, its entrypoints and its connector share.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import { addrFeature, encodeResponse, STATUS_OK } from "../relay/protocol.ts";

/** gost's endpoint name of a tunnel: the first 8 bytes of MD5(tunnel id) in hex. */
export function endpointOf(tunnel: string): string {
  return createHash("md5").update(tunnel).digest("hex").slice(0, 16);
}

/** The relay response that starts every stream to a connector: OK + Addr(src) + Addr(dst). */
export function streamHeader(src: string, dst: string): Uint8Array {
  return encodeResponse({ status: STATUS_OK, features: [addrFeature(src), addrFeature(dst)] });
}

/** Awaits `op` (a read on `conn`), closing `conn` when `ms` pass or `signal` aborts first. */
export async function within<T>(conn: Conn, ms: number, signal: AbortSignal | undefined, op: Promise<T>): Promise<T> {
  let timedOut = false;
  const timer = ms > 0
    ? setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, ms)
    : undefined;
  const onAbort = () => closeQuietly(conn);
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    const v = await op;
    if (timedOut) throw new Deno.errors.TimedOut(`Nothing read within ${ms} ms`);
    return v;
  } catch (err) {
    if (timedOut) throw new Deno.errors.TimedOut(`Nothing read within ${ms} ms`);
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
