import { dialHost, splitHostPort } from "../addr.ts";
import { closeQuietly } from "../_io/write_all.ts";
import type { Conn, DialOptions } from "../types.ts";

/** Default TCP connect timeout (GOST's dialer uses 10 s on a route). */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/**
 * Opens a TCP connection to `host:port` (empty host = local host, as Go
 * dials it). Honours `opts.signal` and a connect timeout.
 */
export async function netDial(addr: string, opts: DialOptions = {}): Promise<Conn> {
  const { host, port } = splitHostPort(addr);
  const timeout = AbortSignal.timeout(DEFAULT_CONNECT_TIMEOUT);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  signal.throwIfAborted();
  const pending = Deno.connect({ hostname: dialHost(host), port, transport: "tcp" });
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason ?? new Error(`Dial ${addr} aborted`));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const conn = await Promise.race([pending, aborted]);
    conn.setNoDelay(true);
    return conn;
  } catch (err) {
    pending.then(closeQuietly, () => {});
    if (err instanceof DOMException && err.name === "TimeoutError") {
      throw new Deno.errors.TimedOut(`Dial ${addr}: connect timed out`);
    }
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Marks the plain connect as a first hop's raw dial (see `RawDial.direct`). */
netDial.direct = true;
