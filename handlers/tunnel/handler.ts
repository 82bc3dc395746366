/**
 * The tunnel handler (x v0.8.1 `handler/tunnel`): gost's Cloudflare-Tunnel
 * shape on the relay wire format (`relay.md` §4).
 *
 * - A **connector** (a client exposing a service: `-L rtcp://:0/127.0.0.1:3000
 *   -F tunnel+wss://server?tunnel.id=UUID`) sends BIND with its tunnel id; the
 *   server answers OK + Addr(endpoint) + Tunnel(connector id) and the conn
 *   becomes an smux session in which the server opens one stream per visitor.
 *   A tunnel may have many connectors (several clients, or one client's
 *   reconnects); visitors take them in turn.
 * - A **visitor** sends CONNECT with Addr(src), Addr(dst), Tunnel(id): routed
 *   by the ingress rule of dst's host (which must name that tunnel, unless
 *   `tunnel.direct`), or, when its id is `entrypoint.id`, by the ingress alone.
 * - **Entrypoints** (`entrypoint=:80`, `entrypoints:`) take public traffic and
 *   route it by HTTP Host or TLS SNI (entrypoint.ts).
 *
 * @module
 */
import { joinHostPort, splitHostPort } from "../../transports/addr.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { Session } from "../../transports/_mux/mod.ts";
import type { Stream } from "../../transports/_mux/stream.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import type { Conn, Listener } from "../../transports/types.ts";
import { formatUuid, Ingress, type IngressMatch, randomUuid } from "../ingress/mod.ts";
import {
  addrFeature,
  addrString,
  CMD_BIND,
  CMD_CONNECT,
  CMD_MASK,
  encodeResponse,
  FLAG_UDP,
  networkName,
  readRequest,
  type Request,
  STATUS_BAD_REQUEST,
  STATUS_FORBIDDEN,
  STATUS_HOST_UNREACHABLE,
  STATUS_NETWORK_UNREACHABLE,
  STATUS_OK,
  STATUS_SERVICE_UNAVAILABLE,
  STATUS_UNAUTHORIZED,
  statusResponse,
} from "../relay/protocol.ts";
import { AuthError, type Handler, type HandleResult, type HandlerOptions, ProxyError } from "../types.ts";
import { serveEntrypoint } from "./entrypoint.ts";
import { parseHandlerMetadata, type TunnelHandlerMetadata } from "./metadata.ts";
import { MAX_CONNECTORS_PER_TUNNEL, TunnelConnector, TunnelPool } from "./pool.ts";
import { endpointOf, streamHeader, within } from "./_wire.ts";

export { endpointOf, streamHeader };

/** Attempts to open a stream to a tunnel (each on the next connector). */
const DIAL_RETRIES = 3;

/** Raised when a tunnel has no connector that can take a stream. */
export class TunnelUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TunnelUnavailableError";
  }
}

/** What a visitor asked for, parsed from the relay request. */
interface Visit {
  user: string;
  pass: string;
  src: string;
  dst: string;
  network: string;
  tunnel?: Uint8Array;
}

/** Creates a tunnel handler. Throws TypeError on bad metadata or an unknown ingress name. */
export function tunnelHandler(opts: HandlerOptions): TunnelHandler {
  return new TunnelHandler(opts);
}

export class TunnelHandler implements Handler {
  readonly #opts: HandlerOptions;
  readonly #md: TunnelHandlerMetadata;
  /** The handler's own ingress (`ingress` or the inline `tunnel=` rules). */
  readonly #ingress?: Ingress;
  /** Shared with the handler this one replaced on a reload. */
  #pool = new TunnelPool();
  /** Bound entrypoints (host "" = every address) and the ingress that routes each. */
  #entrypoints: { host: string; port: number; ingress?: Ingress }[] = [];
  /** Bound entrypoint addresses in spec order (what a successor adopts). */
  #bound: { host: string; port: number }[] = [];

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.#md = parseHandlerMetadata(opts.metadata);
    const named = (name: string, what: string) => {
      const ing = opts.ingresses?.get(name);
      if (!ing) throw new TypeError(`${what}: no ingress named "${name}"`);
      return ing;
    };
    if (this.#md.ingress) this.#ingress = named(this.#md.ingress, "ingress");
    else if (this.#md.rules.length) this.#ingress = new Ingress("@internal", this.#md.rules);
    for (const [i, ep] of this.#md.entrypoints.entries()) {
      if (ep.ingress) named(ep.ingress, `entrypoints[${i}].ingress`);
      splitHostPort(ep.addr);
    }
  }

  /** The registry of live connectors (for tests and stats). */
  get pool(): TunnelPool {
    return this.#pool;
  }

  /** Entrypoint addresses, as configured. */
  get entrypointSpecs(): readonly { addr: string; ingress?: string }[] {
    return this.#md.entrypoints;
  }

  /** Binds every entrypoint (TCP); the service accepts from them beside its own listener. */
  openEntrypoints(): Listener[] {
    const out: Listener[] = [];
    try {
      for (const ep of this.#md.entrypoints) out.push(TcpListener.listen(ep.addr));
    } catch (err) {
      for (const l of out) l.close();
      throw err;
    }
    this.#bound = out.map((l, i) => ({
      host: wildcard(this.#md.entrypoints[i].addr) ? "" : ("hostname" in l.addr ? l.addr.hostname : ""),
      port: "port" in l.addr ? l.addr.port : 0,
    }));
    this.#bindPorts();
    for (const l of out) this.#opts.log.info(`entrypoint: ${fmt(l.addr)}`);
    return out;
  }

  /** A reload kept the service: take over its live tunnels and entrypoints. */
  adopt(prev: Handler): void {
    if (!(prev instanceof TunnelHandler)) return;
    this.#pool = prev.#pool;
    this.#bound = prev.#bound;
    this.#bindPorts();
  }

  #bindPorts(): void {
    this.#entrypoints = this.#bound.map((b, i) => {
      const name = this.#md.entrypoints[i]?.ingress;
      return { ...b, ingress: name ? this.#opts.ingresses?.get(name) : this.#ingress };
    });
  }

  /** The entrypoint `conn` came in on (by its local address), or undefined for the service's own listener. */
  #entrypointOf(conn: Conn): { ingress?: Ingress } | undefined {
    const a = conn.localAddr;
    if (!("port" in a) || a.transport !== "tcp") return undefined;
    return this.#entrypoints.find((e) => e.port === a.port && (e.host === "" || e.host === a.hostname));
  }

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    const result: HandleResult = {};
    try {
      const ep = this.#entrypointOf(conn);
      if (ep) {
        await serveEntrypoint(conn, {
          ingress: ep.ingress,
          auther: this.#opts.auther,
          dial: (tunnel, network, header) => this.dialTunnel(tunnel, network, header),
          readTimeout: this.#md.entrypointReadTimeout,
          relayTimeout: this.#md.readTimeout,
          signal,
          log: this.#opts.log,
        }, result);
      } else await this.#serve(conn, signal, result);
    } catch (err) {
      result.error ??= err;
    } finally {
      closeQuietly(conn);
    }
    return result;
  }

  async #serve(conn: Conn, signal: AbortSignal, result: HandleResult): Promise<void> {
    const req = await within(conn, this.#md.readTimeout, signal, readRequest(conn));
    if (req === null) throw new Deno.errors.UnexpectedEof("Client closed the connection before sending a request");
    const v = parseVisit(req);
    if (v.user !== "") result.fields = { user: v.user };
    if (!v.tunnel || v.tunnel.subarray(0, 16).every((b) => b === 0)) {
      await reply(conn, STATUS_BAD_REQUEST);
      throw new ProxyError("Tunnel request without a tunnel id");
    }
    const tunnel = formatUuid(v.tunnel);
    result.fields = { ...result.fields, tunnel };
    if (this.#opts.auther && !this.#opts.auther.authenticate(v.user, v.pass)) {
      await reply(conn, STATUS_UNAUTHORIZED);
      throw new AuthError(`Tunnel authentication failed for user "${v.user}"`);
    }
    const cmd = req.cmd & CMD_MASK;
    if (cmd === 0 || cmd === CMD_CONNECT) return await this.#connect(conn, v, tunnel, signal, result);
    if (cmd === CMD_BIND) return await this.#bind(conn, v, tunnel, signal, result);
    await reply(conn, STATUS_BAD_REQUEST);
    throw new ProxyError(`Unknown tunnel command 0x${req.cmd.toString(16).padStart(2, "0")}`);
  }

  /** A visitor: route it to a tunnel and relay through one of its connectors. */
  async #connect(conn: Conn, v: Visit, tunnel: string, signal: AbortSignal, result: HandleResult): Promise<void> {
    result.target = v.dst || undefined;
    // The service's bypass refuses visitors' targets, as gost's does (03 Forbidden).
    const bypass = (this.#opts.router as { policy?: { bypass?: { contains(addr: string): boolean } } }).policy?.bypass;
    if (v.dst && bypass?.contains(v.dst)) {
      await reply(conn, STATUS_FORBIDDEN);
      throw new ProxyError(`Target ${v.dst} is refused by the service's bypass`);
    }
    let host = "";
    try {
      host = v.dst ? splitHostPort(v.dst).host : "";
    } catch {
      host = "";
    }
    const rule: IngressMatch | undefined = host ? this.#ingress?.getRule(host) : undefined;
    let target: string;
    if (this.#md.entrypointId && sameId(v.tunnel!, this.#md.entrypointId)) {
      // An external public entrypoint: the ingress alone decides.
      if (!rule) {
        await reply(conn, STATUS_NETWORK_UNREACHABLE);
        throw new ProxyError(`No route to host "${host}"`);
      }
      if (rule.private) {
        await reply(conn, STATUS_HOST_UNREACHABLE);
        throw new ProxyError(`Tunnel ${formatUuid(rule.id)} is private for host "${host}"`);
      }
      target = formatUuid(rule.id);
    } else {
      target = this.#md.direct ? tunnel : rule ? formatUuid(rule.id) : "";
      if (target !== tunnel) {
        await reply(conn, STATUS_HOST_UNREACHABLE);
        throw new ProxyError(`No route to host "${host}" through tunnel ${tunnel}`);
      }
    }
    let stream: Stream;
    try {
      stream = await this.dialTunnel(target, v.network, streamHeader(v.src, v.dst));
    } catch (err) {
      await reply(conn, STATUS_SERVICE_UNAVAILABLE);
      throw err;
    }
    try {
      await writeAll(conn, OK);
    } catch (err) {
      closeQuietly(stream);
      throw err;
    }
    this.#opts.log.debug(`tunnel connect ${v.dst}/${v.network} via ${target}`);
    const r = await pipe(conn, stream, signal);
    result.inBytes = r.aToB;
    result.outBytes = r.bToA;
    if (r.error !== undefined) result.error = r.error;
  }

  /**
   * Opens a stream on a connector of `tunnel` and writes `header` (the relay
   * response naming the visitor) on it. Rejects with TunnelUnavailableError.
   */
  async dialTunnel(tunnel: string, network: string, header: Uint8Array): Promise<Stream> {
    let last: unknown;
    for (let i = 0; i < DIAL_RETRIES; i++) {
      const c = this.#pool.next(tunnel, network);
      if (!c) break;
      try {
        const s = await c.open();
        try {
          await writeAll(s, header);
        } catch (err) {
          closeQuietly(s);
          throw err;
        }
        return s;
      } catch (err) {
        last = err;
      }
    }
    const why = last instanceof Error ? `: ${last.message}` : "";
    throw new TunnelUnavailableError(`Tunnel ${tunnel} (${network}) is not available${why}`);
  }

  /** A connector registration: serve its smux session until it ends. */
  async #bind(conn: Conn, v: Visit, tunnel: string, signal: AbortSignal, result: HandleResult): Promise<void> {
    const udp = v.network === "udp";
    if (v.network !== "tcp" && !udp) {
      await reply(conn, STATUS_BAD_REQUEST);
      throw new ProxyError(`Tunnel network "${v.network}" cannot be bound`);
    }
    const weight = v.tunnel!.length >= 20 ? v.tunnel![19] : 0;
    const cid = new Uint8Array(20);
    cid.set(randomUuid());
    if (udp) cid[16] = 0x01;
    cid[19] = weight;
    const endpoint = endpointOf(tunnel);
    let host = "";
    let port = 0;
    try {
      ({ host, port } = splitHostPort(v.dst || ":0"));
    } catch {
      host = "";
    }
    if (host === "" || !this.#ingress) host = endpoint;
    else if (host !== endpoint) {
      const rule = this.#ingress.getRule(host);
      if (rule && formatUuid(rule.id) !== tunnel) host = endpoint;
    }
    if (this.#pool.count(tunnel) >= MAX_CONNECTORS_PER_TUNNEL) {
      await reply(conn, STATUS_SERVICE_UNAVAILABLE);
      throw new ProxyError(`Tunnel ${tunnel} already has ${MAX_CONNECTORS_PER_TUNNEL} connectors`);
    }
    const session = new Session(conn, { ...this.#md.mux, client: true });
    const c = new TunnelConnector(cid, tunnel, udp, weight || 1, session);
    this.#pool.add(c);
    // The reply goes out before the session's first frame: the session has not written yet.
    try {
      await writeAll(
        conn,
        encodeResponse({
          status: STATUS_OK,
          features: [addrFeature(joinHostPort(host, port)), { kind: "tunnel", id: cid }],
        }),
      );
    } catch (err) {
      this.#pool.remove(c);
      session.close();
      throw err;
    }
    const connector = formatUuid(cid);
    result.target = `${joinHostPort(host, port)}/${v.network}`;
    result.fields = { ...result.fields, connector, weight: weight || 1 };
    this.#opts.log.info(`tunnel ${tunnel}: connector ${connector} (${v.network}, weight ${weight || 1}) established`, {
      tunnel,
      connector,
      connectors: this.#pool.count(tunnel),
    });
    const onAbort = () => session.close();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    // Streams the client opens are refused (gost closes them too).
    (async () => {
      for (;;) {
        try {
          (await session.accept()).close();
        } catch {
          return;
        }
      }
    })();
    try {
      await session.done;
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#pool.remove(c);
      this.#opts.log.info(`tunnel ${tunnel}: connector ${connector} closed`, {
        tunnel,
        connector,
        connectors: this.#pool.count(tunnel),
      });
    }
  }
}

const OK = statusResponse(STATUS_OK);

function parseVisit(req: Request): Visit {
  const v: Visit = { user: "", pass: "", src: "", dst: "", network: "tcp" };
  let addrs = 0;
  for (const f of req.features) {
    if (f.kind === "userAuth") [v.user, v.pass] = [f.username, f.password];
    else if (f.kind === "addr") {
      // The first Addr is the source, any later one the destination (as gost).
      if (addrs++ === 0) v.src = addrString(f);
      else v.dst = addrString(f);
    } else if (f.kind === "tunnel") v.tunnel = f.id;
    else if (f.kind === "network") v.network = networkName(f.network);
  }
  if (req.cmd & FLAG_UDP) v.network = "udp";
  return v;
}

function sameId(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function reply(conn: Conn, status: number): Promise<void> {
  try {
    await writeAll(conn, statusResponse(status));
  } catch {
    // the client left
  }
}

/** True when `addr` listens on every address (`:80`, `0.0.0.0:80`, `[::]:80`). */
function wildcard(addr: string): boolean {
  const { host } = splitHostPort(addr);
  return host === "" || host === "0.0.0.0" || host === "::";
}

function fmt(a: Deno.Addr): string {
  return "hostname" in a ? joinHostPort(a.hostname, a.port) : String(a);
}
