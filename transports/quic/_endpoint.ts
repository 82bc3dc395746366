/**
 * Pieces the quic listener and dialer share: GOST's ALPN list, endpoint
 * binding, address and error helpers.
 *
 * @module
 */

/**
 * GOST's quic transport offers these (server preference: `h3` first), with
 * QUIC versions 1 and 2; Deno speaks version 1, which is what GOST's client
 * tries first.
 */
export const ALPN = ["h3", "quic/v1"];

/** How long binding retries while a closed endpoint still holds the port (seen: up to 3 s). @default 5000 */
export const REBIND_TIMEOUT = 5000;

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function udpAddr(a: { hostname: string; port: number }): Deno.NetAddr {
  return { transport: "udp", hostname: a.hostname, port: a.port };
}

/**
 * Creates a QUIC endpoint on `hostname:port`. Deno releases a closed
 * endpoint's UDP port only when its objects are garbage-collected, so
 * binding the same port right after a close (a reload, a restart) can fail
 * with AddrInUse: retry for up to {@linkcode REBIND_TIMEOUT}, running a full
 * collection between tries (a little garbage alone often triggers only a
 * minor one, which leaves the old endpoint alive once it sits in the old
 * generation).
 */
export async function bindEndpoint(hostname: string, port: number): Promise<Deno.QuicEndpoint> {
  const deadline = Date.now() + REBIND_TIMEOUT;
  for (;;) {
    try {
      return new Deno.QuicEndpoint({ hostname, port });
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse) || port === 0 || Date.now() > deadline) throw err;
      (await fullGc())();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

let gc: (() => void) | undefined;

/** V8's full collection, exposed at run time the way Node programs do it (no flag needed at start). */
async function fullGc(): Promise<() => void> {
  if (gc) return gc;
  try {
    const [{ default: v8 }, { default: vm }] = await Promise.all([import("node:v8"), import("node:vm")]);
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
  } catch {
    // Without it, garbage of our own makes a collection likely.
    gc = () => {
      for (let i = 0; i < 16; i++) new Uint8Array(1 << 20).fill(i);
    };
  }
  return gc;
}

/** Resolves like `p`, or rejects when `signal` aborts first (`p` goes on for others). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
