/**
 * The relay handler (GOST `handler/relay`): reads one relay request,
 * authenticates it, connects to the requested address (or, in forward mode,
 * to a forwarder target) and relays raw bytes, or length-prefixed datagrams
 * for UDP. The OK response is deferred and glued to the first bytes from the
 * target unless `nodelay` is set (`relay.md` §2). With `bind=true` it serves
 * BIND: remote port forwarding over smux for TCP, the UDP-tunnel framing for
 * UDP (bind.ts).
 *
 * @module
 */
import { closeQuietly, concat, writeAll } from "../../transports/_io/write_all.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { type MuxConfig, parseMuxMetadata } from "../../transports/_mux/mod.ts";
import { pipeDatagrams } from "../../transports/udp/pipe.ts";
import type { Addr, Conn } from "../../transports/types.ts";
import {
  AuthError,
  ForbiddenError,
  type Handler,
  type HandleResult,
  type HandlerOptions,
  ProxyError,
} from "../types.ts";
import { serveRelayTcpBind, serveRelayUdpBind } from "./bind.ts";
import { parseHandlerMetadata, type RelayHandlerMetadata } from "./metadata.ts";
import { RelayDatagramConn } from "./udp.ts";
import {
  type AddrFeature,
  addrString,
  CMD_BIND,
  CMD_CONNECT,
  CMD_MASK,
  FLAG_UDP,
  networkName,
  readRequest,
  STATUS_BAD_REQUEST,
  STATUS_FORBIDDEN,
  STATUS_HOST_UNREACHABLE,
  STATUS_NETWORK_UNREACHABLE,
  STATUS_OK,
  STATUS_SERVICE_UNAVAILABLE,
  STATUS_UNAUTHORIZED,
  statusResponse,
} from "./protocol.ts";

/** Creates a relay handler. Throws TypeError on bad metadata. */
export function relayHandler(opts: HandlerOptions): Handler {
  return new RelayHandler(opts);
}

class RelayHandler implements Handler {
  readonly #opts: HandlerOptions;
  readonly #md: RelayHandlerMetadata;
  /** smux options of BIND sessions (`mux.*`). */
  readonly #mux: MuxConfig;

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.#md = parseHandlerMetadata(opts.metadata);
    this.#mux = parseMuxMetadata(opts.metadata);
  }

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const result: HandleResult = {};
    try {
      await this.#serve(conn, signal, result);
    } catch (err) {
      result.error ??= err;
    } finally {
      closeQuietly(conn);
    }
    return result;
  }

  async #serve(conn: Conn, signal: AbortSignal, result: HandleResult): Promise<void> {
    // A bad version, malformed features or a timeout end here without a
    // response (as GOST does); the error says why and the service logs it.
    const req = await withReadDeadline(conn, this.#md.readTimeout, signal, readRequest(conn));
    if (req === null) throw new Deno.errors.UnexpectedEof("Client closed the connection before sending a request");

    // GOST takes the last UserAuth / Addr / Network; unknown (opaque)
    // features are ignored, as relay HEAD does.
    let user = "";
    let pass = "";
    let addr: AddrFeature | undefined;
    let netId: number | undefined;
    for (const f of req.features) {
      if (f.kind === "userAuth") [user, pass] = [f.username, f.password];
      else if (f.kind === "addr") addr = f;
      else if (f.kind === "network") netId = f.network;
    }
    if (user !== "") result.fields = { user };

    if (this.#opts.auther && !this.#opts.auther.authenticate(user, pass)) {
      await reply(conn, STATUS_UNAUTHORIZED);
      throw new AuthError(`Relay authentication failed for user "${user}"`);
    }

    let network = netId === undefined ? "tcp" : networkName(netId);
    if (req.cmd & FLAG_UDP) network = "udp";
    let address = "";
    if (addr) address = network === "unix" || network === "serial" ? addr.host : addrString(addr);

    if (this.#opts.forwarder) return await this.#forward(conn, signal, network, result);

    const cmd = req.cmd & CMD_MASK;
    if (cmd === 0 || cmd === CMD_CONNECT) return await this.#connect(conn, signal, network, address, result);
    if (cmd === CMD_BIND) return await this.#bind(conn, signal, network, address, result);
    await reply(conn, STATUS_BAD_REQUEST);
    throw new ProxyError(`Unknown relay command 0x${req.cmd.toString(16).padStart(2, "0")}`);
  }

  async #connect(
    conn: Conn,
    signal: AbortSignal,
    network: string,
    address: string,
    result: HandleResult,
  ): Promise<void> {
    result.target = address || undefined;
    if (address === "") {
      await reply(conn, STATUS_BAD_REQUEST);
      throw new ProxyError("Relay CONNECT without a target address");
    }
    await this.#checkNetwork(conn, network);
    let target: Conn;
    try {
      target = await this.#opts.router.dial(network, address, { signal });
    } catch (err) {
      await reply(conn, err instanceof ForbiddenError ? STATUS_FORBIDDEN : STATUS_NETWORK_UNREACHABLE);
      throw new ProxyError(`Dial ${address}/${network} failed: ${errText(err)}`, { cause: err });
    }
    this.#opts.log.debug(`relay connect ${address}/${network}`);
    await this.#relay(conn, target, network, signal, result);
  }

  async #forward(conn: Conn, signal: AbortSignal, network: string, result: HandleResult): Promise<void> {
    // Forward mode ignores the command and the Addr feature (clients send `:0`).
    const fwd = this.#opts.forwarder!;
    const node = fwd.select();
    if (!node) {
      await reply(conn, STATUS_SERVICE_UNAVAILABLE);
      throw new ProxyError("No forward target available");
    }
    result.target = node.addr;
    await this.#checkNetwork(conn, network);
    let target: Conn;
    try {
      target = await this.#opts.router.dial(network, node.addr, { signal });
    } catch (err) {
      if (err instanceof ForbiddenError) {
        await reply(conn, STATUS_FORBIDDEN);
        throw err;
      }
      fwd.markFailed(node);
      await reply(conn, STATUS_HOST_UNREACHABLE);
      throw new ProxyError(`Dial forward target ${node.name} (${node.addr}/${network}) failed: ${errText(err)}`, {
        cause: err,
      });
    }
    fwd.markOk(node);
    this.#opts.log.debug(`relay forward to ${node.addr}/${network}`);
    await this.#relay(conn, target, network, signal, result);
  }

  async #bind(
    conn: Conn,
    signal: AbortSignal,
    network: string,
    address: string,
    result: HandleResult,
  ): Promise<void> {
    result.target = address || undefined;
    if (!this.#md.bind) {
      await reply(conn, STATUS_FORBIDDEN);
      throw new ProxyError(`Relay BIND ${address}/${network} refused: bind is disabled (set bind=true)`);
    }
    const opts = { mux: this.#mux, signal, log: this.#opts.log };
    if (network === "tcp") return await serveRelayTcpBind(conn, address, opts, result);
    if (network === "udp") return await serveRelayUdpBind(conn, address, opts, result);
    await reply(conn, STATUS_BAD_REQUEST);
    throw new ProxyError(`Relay BIND ${address}/${network}: network "${network}" cannot be bound`);
  }

  /** TCP and UDP are relayed; anything else (unix, serial, ip) is answered Bad Request. */
  async #checkNetwork(conn: Conn, network: string): Promise<void> {
    if (network === "tcp" || network === "udp") return;
    await reply(conn, STATUS_BAD_REQUEST);
    throw new ProxyError(`Relay network "${network}" is not supported`);
  }

  /** Sends (or defers) the OK response and relays until both directions end. */
  async #relay(conn: Conn, target: Conn, network: string, signal: AbortSignal, result: HandleResult): Promise<void> {
    if (network === "udp") {
      // Length-prefixed datagrams; the OK response rides in front of the first one back (relay.md §2.1).
      if (this.#md.nodelay) {
        try {
          await writeAll(conn, OK);
        } catch (err) {
          closeQuietly(target);
          throw err;
        }
      }
      const r = await pipeDatagrams(new RelayDatagramConn(conn, this.#md.nodelay ? null : OK), target, signal);
      result.inBytes = r.aToB;
      result.outBytes = r.bToA;
      if (r.error !== undefined) result.error = r.error;
      return;
    }
    let client: Conn = conn;
    if (this.#md.nodelay) {
      try {
        await writeAll(conn, OK);
      } catch (err) {
        closeQuietly(target);
        throw err;
      }
    } else {
      client = new DeferredResponseConn(conn, OK);
    }
    const r = await pipe(client, target, signal);
    result.inBytes = r.aToB;
    result.outBytes = r.bToA;
    if (r.error !== undefined) result.error = r.error;
  }
}

const OK = statusResponse(STATUS_OK);

/** Writes a bare status response; a client that is already gone is not an error here. */
async function reply(conn: Conn, status: number): Promise<void> {
  try {
    await writeAll(conn, statusResponse(status));
  } catch {
    // the client left; the caller reports the reason for the failed request
  }
}

/**
 * Awaits `op` (a read on `conn`), closing `conn` when `ms` pass or `signal`
 * aborts first, which makes the pending read fail.
 */
async function withReadDeadline<T>(conn: Conn, ms: number, signal: AbortSignal, op: Promise<T>): Promise<T> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, ms);
  const onAbort = () => closeQuietly(conn);
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    const v = await op;
    if (timedOut) throw new Deno.errors.TimedOut(`No relay request within ${ms} ms`);
    signal.throwIfAborted();
    return v;
  } catch (err) {
    if (timedOut) throw new Deno.errors.TimedOut(`No relay request within ${ms} ms`);
    if (signal.aborted) throw signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * The client conn with the OK response held back: the first write sends
 * response ‖ data in one write (GOST's deferred response); a half-close
 * before any data still sends the response, so the client learns the status
 * before its EOF. Reads, and writes after the first, are the inner conn's own
 * bound methods, so the relay's hot path pays nothing for the wrapper.
 */
class DeferredResponseConn implements Conn {
  readonly read: (p: Uint8Array) => Promise<number | null>;
  readonly readReady?: (p: Uint8Array) => number;
  readonly close: () => void;
  write: (p: Uint8Array) => Promise<number>;
  readonly #inner: Conn;
  #head: Uint8Array | null;

  constructor(inner: Conn, head: Uint8Array) {
    this.#inner = inner;
    this.#head = head;
    this.read = inner.read.bind(inner);
    this.readReady = inner.readReady?.bind(inner);
    // Through closeQuietly, so the handler's own close of `inner` later is a no-op rather than a BadResource.
    this.close = () => closeQuietly(inner);
    this.write = this.#firstWrite;
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }

  /** Takes the pending head and switches `write` to the inner conn's. */
  #takeHead(): Uint8Array | null {
    const head = this.#head;
    this.#head = null;
    this.write = this.#inner.write.bind(this.#inner);
    return head;
  }

  #firstWrite = async (p: Uint8Array): Promise<number> => {
    const head = this.#takeHead();
    if (head === null) return await this.write(p);
    await writeAll(this.#inner, concat(head, p));
    return p.length;
  };

  async closeWrite(): Promise<void> {
    const head = this.#takeHead();
    if (head !== null) await writeAll(this.#inner, head);
    await this.#inner.closeWrite();
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
