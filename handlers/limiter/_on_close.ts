/**
 * A conn that runs a callback once when it is closed.
 *
 * @module
 */
import type { Addr, Conn } from "../../transports/types.ts";

/** Wraps `conn` so that closing it also calls `release` (once, even if closing throws). */
export function onClose(conn: Conn, release: () => void): Conn {
  let done = false;
  return {
    read: (p) => conn.read(p),
    write: (p) => conn.write(p),
    closeWrite: () => conn.closeWrite(),
    close() {
      try {
        conn.close();
      } finally {
        if (!done) {
          done = true;
          release();
        }
      }
    },
    get localAddr(): Addr {
      return conn.localAddr;
    },
    get remoteAddr(): Addr {
      return conn.remoteAddr;
    },
  };
}
