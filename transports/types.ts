/**
 * The wire-level interfaces every transport implements.
 *
 * `Conn` has the shape of `Deno.Conn` on purpose: plain TCP and TLS conns pass
 * through untouched, and every tunnel (WebSocket, smux stream, HTTP/2 stream,
 * PHT session) adapts to it. read/write with caller-owned buffers is the fast
 * path; web streams are only adapters.
 *
 * @module
 */

/** A network address as Deno reports it. */
export type Addr = Deno.Addr;

/** A bidirectional byte stream. */
export interface Conn {
  /** Reads into `p`; resolves to the byte count, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p` (at least one byte); resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
  /** Signals end of data to the peer while reads go on (half-close). */
  closeWrite(): Promise<void>;
  /** Releases the stream; pending reads and writes fail. Never throws twice. */
  close(): void;
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  /**
   * Optional, on conns that hold received bytes in user space (a parser's
   * read-ahead, queued frames or messages): copies what is already here into
   * `p` without waiting and returns the count, 0 when nothing is. End of
   * stream and errors are left for `read` to report. Lets a copy loop send
   * bytes that arrived in pieces as one write (see `copy` in _io/pipe.ts).
   */
  readReady?(p: Uint8Array): number;
}

/** Options every dial receives. */
export interface DialOptions {
  /** Aborts the dial (timeouts, shutdown). */
  signal?: AbortSignal;
}

/** Options of a {@linkcode RawDial}. */
export interface RawDialOptions extends DialOptions {
  /**
   * "udp" asks for a datagram conn (each write sends one datagram, each read
   * returns one), which the QUIC transports need through a tunnel.
   * @default "tcp"
   */
  network?: "tcp" | "udp";
}

/**
 * Opens the raw stream a dialer builds on. For the first hop of a chain this
 * is a TCP connect (and `direct` is true); for later hops it dials *through*
 * the previous hops, so a transport's handshake runs over whatever Conn it
 * gets.
 */
export type RawDial = ((addr: string, opts?: RawDialOptions) => Promise<Conn>) & { readonly direct?: boolean };

/** The client side of a transport (GOST: Dialer + Handshaker). */
export interface Dialer {
  /**
   * Returns a transport Conn to `addr`. Non-multiplexing dialers call `raw`
   * once and handshake over its Conn; multiplexing dialers call `raw` only when
   * they need a new session and otherwise open a stream on a cached one.
   */
  dial(addr: string, raw: RawDial, opts?: DialOptions): Promise<Conn>;
  /** True when conns share one underlying session (GOST's Multiplexer). */
  readonly multiplex?: boolean;
  /** Releases cached sessions. */
  close?(): void;
}

/** The server side of a transport. */
export interface Listener {
  /** Resolves to the next accepted Conn; rejects with `ClosedError` once closed. */
  accept(): Promise<Conn>;
  readonly addr: Addr;
  close(): void;
}

/** Raised by operations on a closed listener, session or stream. */
export class ClosedError extends Error {
  constructor(message = "Use of closed connection") {
    super(message);
    this.name = "ClosedError";
  }
}

/** Raised when a protocol handshake fails (bad bytes, rejected upgrade, …). */
export class HandshakeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
  }
}

/** Server-side TLS material, already loaded (PEM text). */
export interface ServerTLSConfig {
  cert: string;
  key: string;
  /** When set, clients must present a certificate signed by this CA. */
  ca?: string;
  /** ALPN protocols to offer. */
  alpn?: string[];
}

/** Client-side TLS settings. GOST verifies nothing unless `secure` is set. */
export interface ClientTLSConfig {
  /** SNI and, with `secure`, the name to verify. Defaults to the node host. */
  serverName?: string;
  /** Verify the server certificate chain and name. @default false */
  secure: boolean;
  /** Trust anchors (PEM). With `secure: false` the chain is checked but not the name. */
  ca?: string;
  /** Client certificate and key (PEM). */
  cert?: string;
  key?: string;
  alpn?: string[];
}

/**
 * Opens a listener on a remote host through a chain (relay BIND, SOCKS5
 * MBIND/UDP-TUN): what `rtcp`/`rudp` listeners accept from. `network` is
 * "tcp" or "udp"; `addr` is the address to bind on the far side.
 */
export type Binder = (network: string, addr: string, opts?: DialOptions) => Promise<Listener>;

/** Everything a listener factory gets. */
export interface ListenerOptions {
  /** `host:port` to listen on; an empty host means all interfaces. */
  addr: string;
  metadata: import("./metadata.ts").Metadata;
  /** Resolves the server certificate (service's own or the global default). */
  tls: () => Promise<ServerTLSConfig>;
  log: import("./log.ts").Logger;
  /** Set when the service has `listener.chain` (rtcp/rudp bind through it). */
  bind?: Binder;
}

/** Everything a dialer factory gets. */
export interface DialerOptions {
  metadata: import("./metadata.ts").Metadata;
  tls: ClientTLSConfig;
  log: import("./log.ts").Logger;
}

export type ListenerFactory = (opts: ListenerOptions) => Promise<Listener>;
export type DialerFactory = (opts: DialerOptions) => Dialer;
