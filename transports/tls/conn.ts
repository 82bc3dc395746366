/**
 * TLS over any {@linkcode Conn}: a TCP socket, a WebSocket tunnel, an smux
 * stream, or another TLS conn. Runs `node:tls` over a `node:stream` Duplex
 * adapter of the inner conn and hands back a Conn with backpressure both ways.
 *
 * Fast path: a client handshake that verifies the server (`secure`, no
 * private CA, no client certificate) over a plain Deno TCP conn uses
 * `Deno.startTls`, about twice as fast (see `mod.ts`).
 *
 * @module
 */
import * as tls from "node:tls";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
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
import { closeQuietly } from "../_io/write_all.ts";
import { shutdownConn } from "../tcp/sockopt.ts";
import type { DialOptions, RawDial } from "../types.ts";
import { ConnDuplex } from "./_duplex.ts";

/** How long a TLS handshake may take. @default 10000 (10 s) */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Bytes of decrypted data a TLS conn holds for its reader before it stops reading the inner conn. */
const READ_QUEUE_LIMIT = 256 * 1024;

/** Options for one TLS handshake. */
export interface TlsHandshakeOptions {
  /** Aborts the handshake; the inner conn is closed. */
  signal?: AbortSignal;
  /** Handshake timeout in milliseconds. @default 10000 */
  timeout?: number;
}

/** Options for {@linkcode dialTls}. */
export interface DialTlsOptions extends TlsHandshakeOptions {
  /**
   * For a long-lived conn (a multiplexed session): when no chain is pinned
   * for the node yet, learn it on a throwaway `node:tls` handshake first, so
   * the conn itself runs on `Deno.startTls`. @default false
   */
  learnPin?: boolean;
}

/** A Conn carrying TLS; knows what the handshake agreed on. */
export interface TlsConn extends Conn {
  /** The ALPN protocol both sides agreed on, or `null`. */
  readonly alpnProtocol: string | null;
}

const contexts = new WeakMap<object, tls.SecureContext>();

/** One secure context per config object: parsing the key is the costly part of a handshake. */
function secureContext(cfg: ServerTLSConfig | ClientTLSConfig): tls.SecureContext {
  let ctx = contexts.get(cfg);
  if (!ctx) {
    ctx = tls.createSecureContext({ cert: cfg.cert, key: cfg.key, ca: cfg.ca || undefined });
    contexts.set(cfg, ctx);
  }
  return ctx;
}

/** True for a socket from `Deno.connect`/`Deno.listen` (the only conns `Deno.startTls` takes). */
export function isDenoTcpConn(conn: Conn): conn is Deno.TcpConn {
  return conn.constructor?.name === "TcpConn" && typeof (conn as Deno.TcpConn).setNoDelay === "function" &&
    conn.remoteAddr?.transport === "tcp";
}

/**
 * Runs the server side of a TLS handshake over `conn`. With `cfg.ca` the
 * client must present a certificate signed by that CA. On failure the inner
 * conn is closed and a {@linkcode HandshakeError} is thrown.
 */
export function tlsServer(conn: Conn, cfg: ServerTLSConfig, opts: TlsHandshakeOptions = {}): Promise<TlsConn> {
  const requireClientCert = !!cfg.ca;
  const duplex = new ConnDuplex(conn);
  const sock = new tls.TLSSocket(duplex as unknown as Socket, {
    isServer: true,
    secureContext: secureContext(cfg),
    requestCert: requireClientCert,
    rejectUnauthorized: requireClientCert,
    ALPNProtocols: cfg.alpn,
  });
  return handshake(sock, duplex, "secure", conn, opts, () => {
    // Deno's node:tls insists on a client certificate but does not check it against `ca`: do that here.
    if (requireClientCert) verifyClientCertificate(sock, trustAnchors(cfg.ca!));
  });
}

const anchors = new Map<string, X509Certificate[]>();

/** The certificates of a PEM bundle, parsed once per bundle. */
function trustAnchors(pem: string): X509Certificate[] {
  let list = anchors.get(pem);
  if (!list) {
    list = (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) =>
      new X509Certificate(b)
    );
    if (anchors.size >= 64) anchors.clear();
    anchors.set(pem, list);
  }
  return list;
}

/** A certificate's subject on one line. */
function subjectOf(cert: X509Certificate): string {
  return cert.subject.replaceAll("\n", ", ");
}

function checkValidity(cert: X509Certificate, now: number): void {
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
    throw new Error(`certificate "${subjectOf(cert)}" is not valid now (${cert.validFrom} to ${cert.validTo})`);
  }
}

/**
 * Go's RequireAndVerifyClientCert: the client's certificate must chain (through
 * intermediates it sent) to one of `cas` and be valid now. (Deno's X509Certificate
 * does not expose extended key usage, so clientAuth EKU is not checked.)
 */
function verifyClientCertificate(sock: tls.TLSSocket, cas: X509Certificate[]): void {
  let peer = sock.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  if (!peer?.raw) throw new Error("client sent no certificate");
  const leaf = new X509Certificate(peer.raw);
  const now = Date.now();
  checkValidity(leaf, now);
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = cas.find((ca) => cur.checkIssued(ca) && cur.verify(ca.publicKey));
    if (anchor) {
      checkValidity(anchor, now);
      return;
    }
    const next: tls.DetailedPeerCertificate | undefined = peer?.issuerCertificate;
    if (!next?.raw || next === peer) break;
    const inter = new X509Certificate(next.raw);
    if (!inter.ca || !cur.checkIssued(inter) || !cur.verify(inter.publicKey)) break;
    checkValidity(inter, now);
    cur = inter;
    peer = next;
  }
  throw new Error(`client certificate "${subjectOf(leaf)}" is not signed by a trusted CA`);
}

/**
 * Server certificate chains (PEM) that `node:tls` handshakes saw, by node,
 * so later dials to the node can run on `Deno.startTls` (see {@linkcode dialTls}).
 */
const pins = new Map<string, string[]>();
/** Chains `Deno.startTls` refused although `node:tls` took them (e.g. X.509 v1): those stay on `node:tls`. */
const refusedPins = new Set<string>();
const MAX_PINS = 1024;

/**
 * Opens a TLS conn to `addr`: the raw stream, then a client handshake over it.
 *
 * GOST's default `secure: false` verifies nothing, which `Deno.startTls`
 * (rustls, about twice the throughput of `node:tls` over a Duplex) cannot
 * do. So the first dial to a node runs on `node:tls` and remembers the
 * chain the server presented; later dials over a first-hop TCP conn pin
 * that chain in `Deno.startTls` (`caCerts`, host name not checked), which
 * accepts exactly that server as `node:tls` did. When the pinned handshake
 * fails (the server's certificate changed, or rustls refuses it) the dial
 * is made again on `node:tls`, which pins the new chain.
 */
export async function dialTls(
  addr: string,
  raw: RawDial,
  cfg: ClientTLSConfig,
  opts: DialTlsOptions = {},
): Promise<TlsConn> {
  const dialOpts: DialOptions = { signal: opts.signal };
  const pinnable = raw.direct === true && !cfg.secure && !cfg.ca && !cfg.cert;
  const key = `${addr}|${cfg.serverName ?? ""}|${cfg.alpn?.join(",") ?? ""}`;
  /** A node:tls handshake over a new raw conn; pins the server's chain. */
  const viaNode = async () => {
    const tc = await tlsClient(await raw(addr, dialOpts), cfg, opts);
    if (pinnable && tc instanceof NodeTlsConn) {
      const chain = tc.peerCertificates();
      if (chain.length > 0 && !refusedPins.has(chain.join(""))) {
        if (pins.size >= MAX_PINS) pins.clear();
        pins.set(key, chain);
      }
    }
    return tc;
  };
  if (!pinnable) return await viaNode();
  if (!pins.has(key)) {
    const tc = await viaNode();
    if (!opts.learnPin || !pins.has(key)) return tc;
    tc.close();
  }
  const pin = pins.get(key)!;
  const conn = await raw(addr, dialOpts);
  if (!isDenoTcpConn(conn)) return await tlsClient(conn, cfg, opts);
  try {
    return await nativeClient(conn, cfg, opts, pin);
  } catch (err) {
    if (!(err instanceof HandshakeError) || opts.signal?.aborted) throw err;
    // The server's certificate changed, or rustls refuses one node:tls takes: redial on node:tls.
    if (pins.get(key) === pin) pins.delete(key);
    if (/certificate/i.test(String(err.cause ?? err))) refusedPins.add(pin.join(""));
    return await viaNode();
  }
}

/** Configs the `Deno.startTls` fast path takes (it can only verify, with the system roots). */
function verifiesNatively(cfg: ClientTLSConfig): boolean {
  return cfg.secure && !cfg.ca && !cfg.cert;
}

/**
 * The server handshake of a conn from `Deno.listenTls`. On failure the conn
 * is closed and a {@linkcode HandshakeError} is thrown.
 */
export async function nativeServer(conn: Deno.TlsConn, opts: TlsHandshakeOptions = {}): Promise<TlsConn> {
  const { localAddr, remoteAddr } = conn;
  // A pending handshake keeps the socket open through close(); shutdown(2) ends it (see sockopt.ts).
  const cancel = () => {
    shutdownConn(localAddr, remoteAddr);
    closeQuietly(conn);
  };
  try {
    const info = await guard(conn.handshake(), opts, cancel);
    return new NativeTlsConn(conn, info.alpnProtocol);
  } catch (err) {
    closeQuietly(conn);
    throw handshakeError(conn, err);
  }
}

/**
 * Runs the client side of a TLS handshake over `conn`. GOST semantics: with
 * `secure: false` nothing is verified unless `ca` is given, in which case the
 * chain is verified against that CA only but the host name is not. On
 * failure the inner conn is closed and a {@linkcode HandshakeError} is thrown.
 */
export function tlsClient(conn: Conn, cfg: ClientTLSConfig, opts: TlsHandshakeOptions = {}): Promise<TlsConn> {
  const name = cfg.serverName ?? "";
  if (verifiesNatively(cfg) && isDenoTcpConn(conn)) return nativeClient(conn, cfg, opts);
  const isIP = isIPv4(name) || isIPv6(name);
  const duplex = new ConnDuplex(conn);
  const sock = tls.connect({
    socket: duplex as unknown as Socket,
    // RFC 6066: no SNI for IP literals; the name is still checked against IP SANs.
    servername: name && !isIP ? name : undefined,
    host: name || undefined,
    secureContext: cfg.cert || cfg.ca ? secureContext(cfg) : undefined,
    rejectUnauthorized: cfg.secure || !!cfg.ca,
    checkServerIdentity: cfg.secure ? tls.checkServerIdentity : () => undefined,
    ALPNProtocols: cfg.alpn,
  });
  return handshake(sock, duplex, "secureConnect", conn, opts);
}

function handshakeError(inner: Pick<Conn, "remoteAddr">, err: unknown): HandshakeError {
  const msg = err instanceof Error ? err.message : String(err);
  return new HandshakeError(`TLS handshake with ${formatAddr(inner.remoteAddr)} failed: ${msg}`, { cause: err });
}

/** Runs `work` with a timeout and an abort signal; `cancel` runs (once) when either fires. */
function guard<T>(work: Promise<T>, opts: TlsHandshakeOptions, cancel: () => void): Promise<T> {
  const timeout = opts.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const { signal } = opts;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: unknown) => {
      if (done) return;
      finish();
      cancel();
      reject(err);
    };
    const onAbort = () => fail(signal?.reason ?? new Error("aborted"));
    const timer = setTimeout(() => fail(new Error(`timed out after ${timeout} ms`)), timeout);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    work.then((v) => {
      if (done) return;
      finish();
      resolve(v);
    }, fail);
  });
}

/** Waits for `sock` to finish its handshake (`check` may refuse it) and wraps it. */
function handshake(
  sock: tls.TLSSocket,
  duplex: ConnDuplex,
  event: "secure" | "secureConnect",
  inner: Pick<Conn, "localAddr" | "remoteAddr" | "close">,
  opts: TlsHandshakeOptions,
  check?: () => void,
): Promise<TlsConn> {
  let detach = () => {};
  const secured = new Promise<void>((resolve, reject) => {
    const onSecure = () => {
      try {
        check?.();
        resolve();
      } catch (err) {
        reject(err);
      }
    };
    const onClose = () => reject(new Error("connection closed by peer"));
    sock.once(event, onSecure);
    sock.on("error", reject);
    sock.once("close", onClose);
    detach = () => {
      sock.off(event, onSecure);
      sock.off("error", reject);
      sock.off("close", onClose);
    };
  });
  return guard(secured, opts, () => {}).then(
    () => {
      detach();
      return new NodeTlsConn(sock, duplex, inner);
    },
    (err) => {
      detach();
      sock.on("error", () => {}); // late errors from the teardown
      sock.destroy();
      closeQuietly(inner);
      throw handshakeError(inner, err);
    },
  );
}

/**
 * A `Deno.startTls` client handshake: verified against the system roots, or,
 * with `pin`, accepting the server whose chain that is whatever its name.
 */
async function nativeClient(
  conn: Deno.TcpConn,
  cfg: ClientTLSConfig,
  opts: TlsHandshakeOptions,
  pin?: string[],
): Promise<TlsConn> {
  const remote = conn.remoteAddr;
  let tlsConn: Deno.TlsConn | undefined;
  const work = (async () => {
    tlsConn = await Deno.startTls(conn, {
      hostname: cfg.serverName || remote.hostname,
      alpnProtocols: cfg.alpn,
      ...(pin ? { caCerts: pin, unsafelyDisableHostnameVerification: true } : {}),
    });
    return await tlsConn.handshake();
  })();
  try {
    const info = await guard(work, opts, () => closeQuietly(tlsConn ?? conn));
    return new NativeTlsConn(tlsConn!, info.alpnProtocol);
  } catch (err) {
    closeQuietly(tlsConn ?? conn);
    throw handshakeError(conn, err);
  }
}

/**
 * A Deno TLS conn (`Deno.listenTls`, `Deno.startTls`) as a {@linkcode TlsConn}.
 * A peer that closes without `close_notify` reads as end of stream, as with
 * the `node:tls` path: for a relay the TCP stream underneath ended either way.
 */
export class NativeTlsConn implements TlsConn {
  readonly conn: Deno.TlsConn;
  readonly alpnProtocol: string | null;

  constructor(conn: Deno.TlsConn, alpnProtocol: string | null) {
    this.conn = conn;
    this.alpnProtocol = alpnProtocol;
  }

  get localAddr(): Addr {
    return this.conn.localAddr;
  }
  get remoteAddr(): Addr {
    return this.conn.remoteAddr;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.conn.read(p).catch((err) => {
      if (err instanceof Deno.errors.UnexpectedEof) return null;
      throw err;
    });
  }
  write(p: Uint8Array): Promise<number> {
    return this.conn.write(p);
  }
  closeWrite(): Promise<void> {
    return this.conn.closeWrite();
  }
  close(): void {
    closeQuietly(this.conn);
  }
}

/** Maps node stream errors onto the Deno error classes the relay code knows. */
function mapError(err: Error): Error {
  const code = (err as { code?: string }).code;
  if (code === "ECONNRESET") return new Deno.errors.ConnectionReset(err.message, { cause: err });
  if (code === "EPIPE") return new Deno.errors.BrokenPipe(err.message, { cause: err });
  if (code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END") return new ClosedError(err.message);
  return err;
}

/**
 * A Conn over a connected `node:tls` socket. Reads come from a small queue
 * fed by `data` events; while the queue holds {@linkcode READ_QUEUE_LIMIT}
 * bytes or more the duplex below stops reading the inner conn (pausing the
 * TLS socket alone does not stop it in Deno), so a slow reader stops the
 * peer instead of buffering without bound. Writes copy the caller's bytes
 * (callers reuse buffers) and wait for `drain` while the TLS socket or the
 * duplex below it is full.
 */
export class NodeTlsConn implements TlsConn {
  readonly #sock: tls.TLSSocket;
  readonly #duplex: ConnDuplex;
  readonly #inner: Pick<Conn, "localAddr" | "remoteAddr" | "close">;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #eof = false;
  #error: Error | undefined;
  #closed = false;
  #writeClosed = false;
  #waiters: (() => void)[] = [];

  constructor(sock: tls.TLSSocket, duplex: ConnDuplex, inner: Pick<Conn, "localAddr" | "remoteAddr" | "close">) {
    this.#sock = sock;
    this.#duplex = duplex;
    this.#inner = inner;
    sock.on("data", (b: Buffer) => {
      this.#queue.push(b);
      this.#queued += b.length;
      if (this.#queued >= READ_QUEUE_LIMIT) duplex.hold();
      this.#wake();
    });
    duplex.on("drain", () => this.#wake());
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

  /** The chain the peer presented, leaf first, as PEM; empty when it sent none. */
  peerCertificates(): string[] {
    const chain: string[] = [];
    let cert = this.#sock.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
    while (cert?.raw && chain.length < 8) {
      chain.push(new X509Certificate(cert.raw).toString());
      if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
      cert = cert.issuerCertificate;
    }
    return chain;
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
        if (this.#queued < READ_QUEUE_LIMIT / 2) this.#duplex.release();
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
    if (this.#writeClosed) throw new Deno.errors.BrokenPipe("Write after closeWrite");
    if (this.#sock.destroyed) throw new Deno.errors.BrokenPipe("TLS connection closed");
    if (p.length === 0) return 0;
    const ok = this.#sock.write(Buffer.from(p), (err) => {
      if (err) {
        this.#error ??= mapError(err);
        this.#wake();
      }
    });
    while ((!ok && this.#sock.writableNeedDrain) || this.#duplex.writableNeedDrain) {
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
      const done = (err?: Error) => {
        this.#sock.off("finish", onFinish);
        this.#sock.off("error", onError);
        this.#sock.off("close", onClose);
        if (err) reject(mapError(err));
        else resolve();
      };
      const onFinish = () => done();
      const onError = (err: Error) => done(err);
      const onClose = () =>
        done(this.#sock.writableFinished ? undefined : new Deno.errors.BrokenPipe("TLS connection closed"));
      this.#sock.once("finish", onFinish);
      this.#sock.once("error", onError);
      this.#sock.once("close", onClose);
      this.#sock.end();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.destroy();
    closeQuietly(this.#inner);
    this.#wake();
  }
}
