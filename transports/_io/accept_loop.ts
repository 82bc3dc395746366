/**
 * The accept loop of a listener layered on another listener (ws over TCP,
 * mws over ws, PHT over TCP/TLS, HTTP/2 over TCP/TLS).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { ClosedError, type Conn, type Listener } from "../types.ts";
import { closeQuietly } from "./write_all.ts";

/** Hooks of {@linkcode acceptLoop}. */
export interface AcceptLoopOptions {
  /** True once the outer listener is closed: the loop stops. */
  closed(): boolean;
  /** Where a failed accept is logged (at debug). */
  log: Logger;
  /** Takes one accepted conn; must not block the loop (start its work and return). */
  onConn(conn: Conn): void;
}

/**
 * Accepts conns from `inner` and hands each to `onConn` until `closed()` or
 * `inner` is closed (`ClosedError`). Other accept errors are logged and retried
 * after 50 ms (the inner listener retries transient errors itself; anything
 * else: back off briefly, keep serving). A conn accepted once `closed()` is
 * closed. Resolves when the loop stops; the caller then closes itself, since
 * nobody will accept again.
 */
export async function acceptLoop(inner: Listener, o: AcceptLoopOptions): Promise<void> {
  while (!o.closed()) {
    let conn: Conn;
    try {
      conn = await inner.accept();
    } catch (err) {
      if (o.closed() || err instanceof ClosedError) break;
      o.log.debug("accept failed", { error: err instanceof Error ? err.message : String(err) });
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if (o.closed()) {
      closeQuietly(conn);
      break;
    }
    o.onConn(conn);
  }
}
