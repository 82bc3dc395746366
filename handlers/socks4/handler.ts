/**
 * The SOCKS4/4a handler (GOST `handler/socks/v4`, names `socks4`, `socks4a`):
 * CONNECT only. With an authenticator the user id is checked as a user name
 * with an empty password.
 *
 * @module
 */
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Conn } from "../../transports/types.ts";
import type { Handler, HandleResult, HandlerOptions } from "../types.ts";
import { AuthError, ForbiddenError, ProxyError } from "../types.ts";
import { hex, unwrapConn, Watchdog } from "../socks5/mod.ts";
import { type HandlerMetadata, parseHandlerMetadata } from "./metadata.ts";
import {
  CMD_CONNECT,
  encodeReply,
  readRequest,
  REP_FAILED,
  REP_GRANTED,
  REP_REJECTED,
  REP_REJECTED_USERID,
} from "./protocol.ts";

class Socks4Handler implements Handler {
  readonly #opts: HandlerOptions;
  readonly #md: HandlerMetadata;

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.#md = parseHandlerMetadata(opts.metadata);
  }

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const result: HandleResult = {};
    let target: Conn | undefined;
    const br = new BufferedConn(conn, 1024);
    const watchdog = new Watchdog(this.#md.readTimeout, "SOCKS4 request", () => closeQuietly(conn), signal);
    try {
      const req = await readRequest(br);
      watchdog.stop();
      result.target = req.addr;
      if (req.userid !== "") result.fields = { user: req.userid };

      const auther = this.#opts.auther;
      if (auther && !auther.authenticate(req.userid, "")) {
        await writeAll(br, encodeReply(REP_REJECTED_USERID));
        throw new AuthError(`SOCKS4 user id "${req.userid}" rejected`);
      }
      if (req.cmd !== CMD_CONNECT) {
        await writeAll(br, encodeReply(REP_FAILED));
        throw new ProxyError(`SOCKS4 command 0x${hex(req.cmd)} is not supported`);
      }

      try {
        target = await this.#opts.router.dial("tcp", req.addr, { signal });
      } catch (err) {
        // gost answers a bypassed target with 92, other dial errors with 91.
        await writeAll(br, encodeReply(err instanceof ForbiddenError ? REP_REJECTED : REP_FAILED)).catch(() => {});
        throw err;
      }
      // The reply is a write of its own, never glued to tunnel data.
      await writeAll(br, encodeReply(REP_GRANTED));

      const r = await pipe(unwrapConn(br), target, signal);
      result.inBytes = r.aToB;
      result.outBytes = r.bToA;
      if (r.error !== undefined) result.error = r.error;
    } catch (err) {
      result.error = watchdog.error(err);
    } finally {
      watchdog.stop();
      closeQuietly(target);
      closeQuietly(conn);
    }
    return result;
  }
}

/** Creates a SOCKS4/4a handler (GOST names `socks4`, `socks4a`). */
export function socks4Handler(opts: HandlerOptions): Handler {
  return new Socks4Handler(opts);
}
