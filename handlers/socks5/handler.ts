/**
 * The SOCKS5 handler (GOST `handler/socks/v5`): method selection with GOST's
 * TLS methods 0x80/0x82, RFC 1929 authentication, CONNECT, and (with
 * `bind=true` / `udp=true`) BIND, GOST's MBIND and UDP-TUN (bind.ts) and UDP
 * ASSOCIATE (udp.ts).
 *
 * @module
 */
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { tlsServer } from "../../transports/tls/mod.ts";
import { type MuxConfig, parseMuxMetadata } from "../../transports/_mux/mod.ts";
import { type Conn, HandshakeError } from "../../transports/types.ts";
import type { Authenticator, Handler, HandleResult, HandlerOptions } from "../types.ts";
import { AuthError, ForbiddenError, ProxyError } from "../types.ts";
import { serveBind, serveMbind, serveUdpTun, type Socks5BindOptions } from "./bind.ts";
import { type HandlerMetadata, parseHandlerMetadata } from "./metadata.ts";
import { serveUdpAssociate } from "./udp.ts";
import {
  AddressTypeError,
  AUTH_FAILURE,
  AUTH_SUCCESS,
  AUTH_VERSION,
  CMD_BIND,
  CMD_CONNECT,
  CMD_MBIND,
  CMD_UDP,
  CMD_UDP_TUN,
  encodeNetAddr,
  encodeReply,
  hex,
  type Message,
  METHOD_NO_ACCEPTABLE,
  METHOD_NO_AUTH,
  METHOD_TLS,
  METHOD_TLS_AUTH,
  METHOD_USER_PASS,
  readGreeting,
  readMessage,
  readUserPass,
  REP_ADDR_UNSUPPORTED,
  REP_CMD_UNSUPPORTED,
  REP_CONN_REFUSED,
  REP_HOST_UNREACHABLE,
  REP_NET_UNREACHABLE,
  REP_NOT_ALLOWED,
  REP_SUCCEEDED,
  VERSION,
} from "./protocol.ts";
import { Watchdog } from "./watchdog.ts";

/**
 * Picks the method to answer a greeting with. This is GOST HEAD's
 * RFC-compliant selector (`handler/socks/v5/selector.go`): only an offered
 * method is ever chosen, TLS first unless `notls`, 0xFF when nothing fits.
 *
 * GOST v3.2.6 instead turns 0x00/0x80 into 0x02/0x82 whenever auth is on, even
 * if the client did not offer them. For what v3.2.6 *clients* send
 * (`00 80`, or `00 02 80 82` with credentials) both selectors give the same
 * answer, so GOST clients of either version work against this one.
 */
export function selectMethod(offered: Uint8Array, hasAuth: boolean, noTLS: boolean): number {
  const has = (m: number) => offered.includes(m);
  if (hasAuth) {
    if (!noTLS && has(METHOD_TLS_AUTH)) return METHOD_TLS_AUTH;
    if (has(METHOD_USER_PASS)) return METHOD_USER_PASS;
    return METHOD_NO_ACCEPTABLE;
  }
  if (!noTLS && has(METHOD_TLS)) return METHOD_TLS;
  if (has(METHOD_NO_AUTH)) return METHOD_NO_AUTH;
  return METHOD_NO_ACCEPTABLE;
}

/** Maps a dial error to a reply code: refused → 05, host unreachable or unknown → 04, else GOST's 03. */
export function replyForDialError(err: unknown): number {
  if (err instanceof ForbiddenError) return REP_NOT_ALLOWED;
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof Deno.errors.ConnectionRefused) return REP_CONN_REFUSED;
    if (e instanceof Deno.errors.NotFound) return REP_HOST_UNREACHABLE;
    if (/host ?unreachable|no route to host|failed to lookup address|name or service not known/i.test(e.message)) {
      return REP_HOST_UNREACHABLE;
    }
  }
  return REP_NET_UNREACHABLE;
}

/** Returns the socket under a BufferedConn that holds nothing, so the relay copies from it directly. */
export function unwrapConn(conn: Conn): Conn {
  return conn instanceof BufferedConn ? conn.unwrap() : conn;
}

class Socks5Handler implements Handler {
  readonly #opts: HandlerOptions;
  readonly #md: HandlerMetadata;
  readonly #auther?: Authenticator;
  /** smux options of MBIND sessions (`mux.*`). */
  readonly #mux: MuxConfig;

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.#md = parseHandlerMetadata(opts.metadata);
    this.#auther = opts.auther;
    this.#mux = parseMuxMetadata(opts.metadata);
  }

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const result: HandleResult = {};
    // `client` becomes the TLS conn after method 0x80/0x82; closing it closes `conn` too.
    let client: Conn = conn;
    let target: Conn | undefined;
    const watchdog = new Watchdog(this.#md.readTimeout, "SOCKS5 negotiation", () => {
      closeQuietly(client);
      closeQuietly(conn);
    }, signal);
    try {
      // 1. Method selection.
      const offered = await readGreeting(client);
      const method = selectMethod(offered, this.#auther !== undefined, this.#md.noTLS);
      await writeAll(client, new Uint8Array([VERSION, method]));
      if (method === METHOD_NO_ACCEPTABLE) {
        const msg = `No acceptable SOCKS5 method among [${Array.from(offered, hex).join(" ")}]`;
        throw this.#auther ? new AuthError(msg) : new HandshakeError(msg);
      }
      if (method === METHOD_TLS || method === METHOD_TLS_AUTH) {
        client = await tlsServer(unwrapConn(client), await this.#opts.tls(), { signal });
      }

      // 2. RFC 1929 sub-negotiation (plain or inside TLS).
      if (method === METHOD_USER_PASS || method === METHOD_TLS_AUTH) {
        const { username, password } = await readUserPass(client);
        result.fields = { user: username };
        const ok = this.#auther!.authenticate(username, password);
        await writeAll(client, new Uint8Array([AUTH_VERSION, ok ? AUTH_SUCCESS : AUTH_FAILURE]));
        if (!ok) throw new AuthError(`SOCKS5 authentication failed for user "${username}"`);
      }

      // 3. The request.
      let req: Message;
      try {
        req = await readMessage(client);
      } catch (err) {
        if (err instanceof AddressTypeError) await writeAll(client, encodeReply(REP_ADDR_UNSUPPORTED));
        throw err;
      }
      watchdog.stop();
      result.target = req.addr;

      switch (req.code) {
        case CMD_CONNECT:
          break;
        case CMD_BIND:
        case CMD_MBIND:
        case CMD_UDP:
        case CMD_UDP_TUN: {
          // GOST answers 02 (not allowed) while the feature flag is off.
          const port = Number(req.addr.slice(req.addr.lastIndexOf(":") + 1));
          const enabled = req.code === CMD_UDP
            ? this.#md.enableUDP
            : req.code === CMD_UDP_TUN
            ? (port === 0 ? this.#md.enableUDP : this.#md.enableBind)
            : this.#md.enableBind;
          if (!enabled) {
            await writeAll(client, encodeReply(REP_NOT_ALLOWED));
            throw new ProxyError(`SOCKS5 command 0x${hex(req.code)} for ${req.addr} is not enabled`);
          }
          const control = unwrapConn(client);
          if (req.code === CMD_UDP) {
            await serveUdpAssociate(control, {
              router: this.#opts.router,
              publicAddr: this.#md.publicAddr,
              bufferSize: this.#md.udpBufferSize,
              signal,
              log: this.#opts.log,
            }, result);
            return result;
          }
          const bindOpts: Socks5BindOptions = {
            mux: this.#mux,
            publicAddr: this.#md.publicAddr,
            compatibilityMode: this.#md.compatibilityMode,
            signal,
            log: this.#opts.log,
          };
          if (req.code === CMD_MBIND) await serveMbind(control, req.addr, bindOpts, result);
          else if (req.code === CMD_BIND) await serveBind(control, req.addr, bindOpts, result);
          else await serveUdpTun(control, req.addr, bindOpts, result);
          return result;
        }
        default:
          await writeAll(client, encodeReply(REP_CMD_UNSUPPORTED));
          throw new ProxyError(`Unknown SOCKS5 command 0x${hex(req.code)}`);
      }

      // 4. CONNECT: dial first, answer with the outbound local address in a write of its own.
      try {
        target = await this.#opts.router.dial("tcp", req.addr, { signal });
      } catch (err) {
        await writeAll(client, encodeReply(replyForDialError(err))).catch(() => {});
        throw err;
      }
      await writeAll(client, encodeReply(REP_SUCCEEDED, encodeNetAddr(target.localAddr)));

      const r = await pipe(unwrapConn(client), target, signal);
      result.inBytes = r.aToB;
      result.outBytes = r.bToA;
      if (r.error !== undefined) result.error = r.error;
    } catch (err) {
      result.error = watchdog.error(err);
    } finally {
      watchdog.stop();
      closeQuietly(target);
      closeQuietly(client);
      closeQuietly(conn);
    }
    return result;
  }
}

/** Creates a SOCKS5 handler (GOST names `socks5`, `socks`). */
export function socks5Handler(opts: HandlerOptions): Handler {
  return new Socks5Handler(opts);
}
