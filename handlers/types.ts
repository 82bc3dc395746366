/**
 * Protocol interfaces on top of a Conn: a Handler serves accepted conns, a
 * Connector speaks the client side over a transport Conn.
 *
 * @module
 */
import type { Logger } from "../transports/log.ts";
import type { Ingress } from "./ingress/mod.ts";
import type { Metadata } from "../transports/metadata.ts";
import type { Binder, ClientTLSConfig, Conn, DialOptions, ServerTLSConfig } from "../transports/types.ts";

/** Checks credentials. */
export interface Authenticator {
  authenticate(username: string, password: string): boolean;
}

/** User name and password of a connector or handler (`user:pass@`). */
export interface Auth {
  username: string;
  password: string;
}

/** Dials targets for a handler: directly, or through its chain. */
export interface Router {
  /** Connects to `addr` over `network` ("tcp" or "udp"). */
  dial(network: string, addr: string, opts?: DialOptions): Promise<Conn>;
  /** True when a chain is attached (affects e.g. the address a reply reports). */
  readonly hasChain: boolean;
  /** Binds `addr` on the far end of the chain (rtcp/rudp); absent when the chain cannot bind. */
  bind?: Binder;
}

/** A forwarding target (`forwarder.nodes[]`); weight, backup and fail limits come from its metadata. */
export interface Target {
  name: string;
  addr: string;
  network?: string;
  weight?: number;
  backup?: boolean;
  maxFails?: number;
  failTimeout?: number;
}

/** Picks forwarder targets and remembers failures (GOST's selector). */
export interface TargetSelector {
  select(): Target | undefined;
  markFailed(t: Target): void;
  markOk(t: Target): void;
  readonly size: number;
}

/** What a handler reports about one served connection; the service logs it. */
export interface HandleResult {
  /** The target the client asked for or was forwarded to. */
  target?: string;
  /** Bytes client → target and target → client. */
  inBytes?: number;
  outBytes?: number;
  /** Why the connection ended badly, if it did. */
  error?: unknown;
  /** Extra log fields (e.g. `user`, never a password). */
  fields?: Record<string, unknown>;
}

export interface HandlerOptions {
  metadata: Metadata;
  /** Set when the handler must authenticate clients. */
  auther?: Authenticator;
  router: Router;
  /** Set when the service has forward targets (path targets or `forwarder:`). */
  forwarder?: TargetSelector;
  /** The server certificate for handler-level TLS (SOCKS5 0x80/0x82). */
  tls: () => Promise<ServerTLSConfig>;
  log: Logger;
  /** The config's `ingresses:` by name (the tunnel handler routes by them). */
  ingresses?: ReadonlyMap<string, Ingress>;
}

/** Serves one accepted connection. Never rejects; always closes `conn`. */
export interface Handler {
  handle(conn: Conn, signal: AbortSignal): Promise<HandleResult>;
}

export type HandlerFactory = (opts: HandlerOptions) => Handler;

export interface ConnectorOptions {
  metadata: Metadata;
  auth?: Auth;
  /** TLS for connector-level encryption (SOCKS5 0x80/0x82). */
  tls: ClientTLSConfig;
  log: Logger;
}

/** The client side of a proxy protocol. */
export interface Connector {
  /** Per-connection handshake after the transport is up (e.g. SOCKS5 methods). */
  handshake?(conn: Conn, opts?: DialOptions): Promise<Conn>;
  /** Asks the server on `conn` to connect to `addr`; resolves to the tunnel. */
  connect(conn: Conn, network: string, addr: string, opts?: DialOptions): Promise<Conn>;
}

export type ConnectorFactory = (opts: ConnectorOptions) => Connector;

/** Raised when credentials are rejected (407, SOCKS5 01 01, relay 0x02). */
export class AuthError extends Error {
  constructor(message = "Authentication failed") {
    super(message);
    this.name = "AuthError";
  }
}

/** Raised when a proxy refuses or fails a request (with the protocol's reason). */
export class ProxyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProxyError";
  }
}

/** Raised by a router when a service's bypass refuses the target (HTTP 403, SOCKS5 0x02, relay 0x03). */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForbiddenError";
  }
}
