/**
 * A read-only Conn over bytes already read (for parsing a head a sniffer
 * has buffered), with another conn's addresses.
 *
 * @module
 */
import type { Conn } from "../types.ts";

/** Reads `bytes`, then end of stream; writes are refused. */
export function bytesConn(bytes: Uint8Array, like: Conn): Conn {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, bytes.length - off);
      p.set(bytes.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
    write: () => Promise.reject(new Error("read-only")),
    closeWrite: () => Promise.resolve(),
    close: () => {},
    localAddr: like.localAddr,
    remoteAddr: like.remoteAddr,
  };
}
