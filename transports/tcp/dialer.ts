import type { Conn, Dialer, DialOptions, RawDial } from "../types.ts";

/** The plain TCP dialer: the raw stream is the transport. */
export class TcpDialer implements Dialer {
  dial(addr: string, raw: RawDial, opts?: DialOptions): Promise<Conn> {
    return raw(addr, opts);
  }
}

export function tcpDialer(): Dialer {
  return new TcpDialer();
}
