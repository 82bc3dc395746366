/**
 * TLS over any {@linkcode Conn}: a TCP socket, a WebSocket tunnel, an smux
 * stream, or another TLS conn. Runs `node:tls` over a `node:stream` Duplex
 * adapter of the inner conn and hands back a Conn with backpressure both ways.
 *
 * @module
 */
import * as tls from "node:tls";
import { Buffer } from "node:buffer";
import {
  type Addr,
  type ClientTLSConfig,
  ClosedError,
  type Conn,
  HandshakeError,
  type ServerTLSConfig,
} from "../types.ts";
import { formatAddr } from "../log.ts";
import { isIPv4, isIPv6 } from "../addr.ts";
import { ConnDuplex } from "./_duplex.ts";

/** How long a TLS handshake may take. @default 10000 (10 s, as GOST) */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Bytes of decrypted data a TLS conn holds for a reader before it stops reading the inner conn. */
const READ_QUEUE_LIMIT = 256 * 1024;

/** Options for one TLS handshake. */
export interface TlsHandshakeOptions {
  /** Aborts the handshake; the inner conn is closed. */
  signal?: AbortSignal;
  /** Handshake timeout in milliseconds. @default 10000 */
  timeout?: number;
}

/** A Conn carrying TLS; knows what the handshake agreed on. */
export interface TlsConn extends Conn {
  /** The ALPN protocol both sides agreed on, or `null`. */
  readonly alpnProtocol: string | null;
  /** The negotiated protocol version, e.g. `"TLSv1.3"`. */
  readonly protocol: string | null;
}

const contexts = new WeakMap<object, tls.SecureContext>();

/** One secure context per config object: parsing the key is the costly part of a handshake. */
function secureContext(cfg: ServerTLSConfig | ClientTLSConfig): tls.SecureContext {
  let ctx = contexts.get(cfg);
  if (!ctx) {
    ctx = tls.createSecureContext({ cert: cfg.cert, key: cfg.key, ca: cfg.ca });
    contexts.set(cfg, ctx);
  }
  return ctx;
}

/**
 * Runs the server side of a TLS handshake over `conn`. With `cfg.ca` the
 * client must present a certificate signed by that CA. On failure the inner
 * conn is closed and a {@linkcode HandshakeError} is thrown.
 */
export function tlsServer(conn: Conn, cfg: ServerTLSConfig, opts: TlsHandshakeOptions = {}): Promise<TlsConn> {
  const requireClientCert = cfg.ca !== undefined && cfg.ca !== "";
  const sock = new tls.TLSSocket(new ConnDuplex(conn), {
    isServer: true,
    secureContext: secureContext(cfg),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
    ALPNProtocols: cfg.alpn,
  });
  return handshake(sock, "secure", conn, opts, () => {
    if (requireClientCert && !sock.authorized) {
      throw new Error(`client certificate rejected: ${sock.authorizationError ?? "no certificate"}`);
    }
  });
}

/**
 * Runs the client side of a TLS handshake over `conn`. GOST semantics: with
 * `secure: false` nothing is verified unless `ca` is given, in which case the
 * chain is verified but not the host name. On failure the inner conn is
 * closed and a {@linkcode HandshakeError} is thrown.
 */
export function tlsClient(conn: Conn, cfg: ClientTLSConfig, opts: TlsHandshakeOptions = {}): Promise<TlsConn> {
  const name = cfg.serverName ?? "";
  const isIP = isIPv4(name) || isIPv6(name);
  const verifyChain = cfg.secure || (cfg.ca !== undefined && cfg.ca !== "");
  const sock = tls.connect({
    socket: new ConnDuplex(conn) as unknown as import("node:net").Socket,
    // RFC 6066: no SNI for IP literals; the name is still checked against IP SANs.
    servername: name && !isIP ? name : undefined,
    host: name || undefined,
    secureContext: cfg.cert || cfg.ca ? secureContext(cfg) : undefined,
    rejectUnauthorized: verifyChain,
    checkServerIdentity: cfg.secure ? tls.checkServerIdentity : () => undefined,
    ALPNProtocols: cfg.alpn,
  });
  return handshake(sock, "secureConnect", conn, opts);
}

function handshake(
  sock: tls.TLSSocket,
  event: "secure" | "secureConnect",
  inner: Conn,
  opts: TlsHandshakeOptions,
  check?: () => void,
): Promise<TlsConn> {
  const timeout = opts.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const { signal } = opts;
  return new Promise<TlsConn>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      sock.off(event, onSecure);
      sock.off("error", fail);
      sock.off("close", onClose);
    };
    const fail = (err: unknown) => {
      cleanup();
      sock.destroy();
      const msg = err instanceof Error ? err.message : String(err);
      reject(new HandshakeError(`TLS handshake with ${formatAddr(inner.remoteAddr)} failed: ${msg}`, { cause: err }));
    };
    const onSecure = () => {
      try {
        check?.();
      } catch (err) {
        fail(err);
        return;
      }
      cleanup();
      resolve(new NodeTlsConn(sock, inner));
    };
    const onClose = () => fail(new Error("connection closed by peer"));
    const onAbort = () => fail(signal?.reason ?? new Error("aborted"));
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeout} ms`)), timeout);
    sock.once(event, onSecure);
    sock.on("error", fail);
    sock.once("close", onClose);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Maps node stream errors onto the Deno error classes the relay code knows. */
function mapError(err: Error): Error {
  const code = (err as { code?: string }).code;
  if (code === "ECONNRESET") return new Deno.errors.ConnectionReset(err.message, { cause: err });
  if (code === "EPIPE") return new Deno.errors.BrokenPipe(err.message, { cause: err });
  if (code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END") {
    return new ClosedError(err.message);
  }
  return err;
}

/**
 * A Conn over a connected `node:tls` socket. Reads come from a small queue
 * fed by `data` events; the socket is paused while the queue is over
 * {@linkcode READ_QUEUE_LIMIT}, so a slow reader stops the peer instead of
 * buffering without bound. Writes copy the caller's bytes (callers reuse
 * buffers) and wait for `drain` when the socket says it is full.
 */
export class NodeTlsConn implements TlsConn {
  readonly #sock: tls.TLSSocket;
  readonly #inner: Pick<Conn, "localAddr" | "remoteAddr" | "close">;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #eof = false;
  #error: Error | undefined;
  #closed = false;
  #writeClosed = false;
  #waiters: (() => void)[] = [];

  constructor(sock: tls.TLSSocket, inner: Pick<Conn, "localAddr" | "remoteAddr" | "close">) {
    this.#sock = sock;
    this.#inner = inner;
    sock.on("data", (b: Buffer) => {
      this.#queue.push(b);
      this.#queued += b.length;
      if (this.#queued >= READ_QUEUE_LIMIT) sock.pause();
      this.#wake();
    });
    sock.on("end", () => {
      this.#eof = true;
      this.#wake();
    });
    sock.on("error", (err: Error) => {
      this.#error ??= mapError(err);
      this.#wake();
    });
    sock.on("drain", () => this.#wake());
    sock.on("close", () => {
      this.#eof = true;
      this.#wake();
    });
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }
  get alpnProtocol(): string | null {
    return this.#sock.alpnProtocol || null;
  }
  get protocol(): string | null {
    return this.#sock.getProtocol();
  }

  #wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  #wait(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new ClosedError();
      if (this.#queue.length > 0) {
        const head = this.#queue[0];
        const n = Math.min(head.length, p.length);
        p.set(n === head.length ? head : head.subarray(0, n));
        if (n === head.length) this.#queue.shift();
        else this.#queue[0] = head.subarray(n);
        this.#queued -= n;
        if (this.#queued < READ_QUEUE_LIMIT / 2 && this.#sock.isPaused()) this.#sock.resume();
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#eof) return null;
      await this.#wait();
    }
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new ClosedError();
    if (this.#error) throw this.#error;
    if (this.#writeClosed || this.#sock.writableEnded) throw new Deno.errors.BrokenPipe("Write after closeWrite");
    if (p.length === 0) return 0;
    const ok = this.#sock.write(Buffer.from(p), (err) => {
      if (err) {
        this.#error ??= mapError(err);
        this.#wake();
      }
    });
    while (!ok && this.#sock.writableNeedDrain) {
      if (this.#closed) throw new ClosedError();
      if (this.#error) throw this.#error;
      if (this.#sock.destroyed) throw new Deno.errors.BrokenPipe("TLS connection closed");
      await this.#wait();
    }
    return p.length;
  }

  async closeWrite(): Promise<void> {
    if (this.#closed) throw new ClosedError();
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    if (this.#error) throw this.#error;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        this.#sock.off("finish", onFinish);
        reject(mapError(err));
      };
      const onFinish = () => {
        this.#sock.off("error", onError);
        resolve();
      };
      this.#sock.once("finish", onFinish);
      this.#sock.once("error", onError);
      this.#sock.end();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.destroy();
    try {
      this.#inner.close();
    } catch {
      // already closed by the duplex
    }
    this.#wake();
  }
}
