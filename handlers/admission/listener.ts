import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Logger } from "../../transports/log.ts";
import type { Conn, Listener } from "../../transports/types.ts";
import { addrIP } from "../matcher/ip.ts";
import type { Admitter } from "./admission.ts";

/**
 * Wraps a listener so that refused clients are closed before any byte is
 * read or written (gost checks the raw socket, then the service loop checks
 * again; one check on what the listener hands out covers both here, since
 * every dost listener reports the client's address on each conn or stream).
 */
export function admissionListener(ln: Listener, admitter: Admitter, log: Logger): Listener {
  return {
    get addr() {
      return ln.addr;
    },
    close: () => ln.close(),
    async accept(): Promise<Conn> {
      for (;;) {
        const conn = await ln.accept();
        const ip = addrIP(conn.remoteAddr);
        if (admitter.admit(ip)) return conn;
        log.debug(`admission: ${ip} refused`);
        closeQuietly(conn);
      }
    },
  };
}
