import { closeQuietly } from "../../transports/_io/write_all.ts";
import type { Logger } from "../../transports/log.ts";
import type { Listener } from "../../transports/types.ts";
import { type ConnGate, gatedListener } from "../gate.ts";
import { addrIP } from "../matcher/ip.ts";
import type { Admitter } from "./admission.ts";

/**
 * Closes refused clients before any byte is read or written (gost checks the
 * raw socket, then the service loop checks again; one check on what the
 * listener hands out covers both here, since every dost listener reports
 * the client's address on each conn or stream).
 */
export function admissionGate(admitter: Admitter, log: Logger): ConnGate {
  return (conn) => {
    const ip = addrIP(conn.remoteAddr);
    if (admitter.admit(ip)) return conn;
    log.debug(`admission: ${ip} refused`);
    closeQuietly(conn);
    return undefined;
  };
}

/** {@linkcode admissionGate} as a listener wrapper. */
export function admissionListener(ln: Listener, admitter: Admitter, log: Logger): Listener {
  return gatedListener(ln, admissionGate(admitter, log));
}
