/**
 * The tunnel connector (x v0.8.1 `connector/tunnel`), both client roles:
 *
 * - **bind** (the side that exposes a service, through an `rtcp`/`rudp`
 *   listener): BIND with [Network(udp)], [UserAuth], Addr(local), Addr(bind
 *   address), Tunnel(id ‖ flag ‖ rsv ‖ weight); the answer names the endpoint
 *   and this connector's id; the conn then becomes an smux session (this side
 *   is the smux server) whose streams each start with a relay response
 *   naming the visitor. UDP streams carry length-prefixed datagrams.
 *   The rtcp/rudp listener rebinds with back-off when the session drops.
 * - **connect** (a visitor or an external entrypoint): CONNECT with Addr(src),
 *   Addr(dst), Tunnel(id); the response is read at once (not deferred).
 *
 * @module
 */
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { MuxBindListener } from "../../transports/rtcp/mod.ts";
import type { BindOptions } from "../../transports/rtcp/reverse.ts";
import { type Addr, ClosedError, type Conn, type DialOptions, type Listener } from "../../transports/types.ts";
import { HandshakeError } from "../../transports/types.ts";
import type { BindConnector } from "../chain/binder.ts";
import { formatUuid } from "../ingress/mod.ts";
import {
  addrFeature,
  CMD_BIND,
  CMD_CONNECT,
  encodeRequest,
  type Feature,
  FLAG_UDP,
  NETWORK_TCP,
  NETWORK_UDP,
  networkId,
  readResponse,
  STATUS_OK,
  STATUS_UNAUTHORIZED,
  statusText,
} from "../relay/protocol.ts";
import { RelayDatagramConn } from "../relay/udp.ts";
import { AuthError, type ConnectorOptions, ProxyError } from "../types.ts";
import { parseConnectorMetadata, type TunnelConnectorMetadata } from "./metadata.ts";
import { within } from "./_wire.ts";

/** Creates a tunnel connector. Throws TypeError/RangeError on bad metadata. */
export function tunnelConnector(opts: ConnectorOptions): BindConnector {
  return new TunnelConnector(opts);
}

class TunnelConnector implements BindConnector {
  readonly #opts: ConnectorOptions;
  readonly #md: TunnelConnectorMetadata;
  readonly #tunnel: Uint8Array;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
    this.#tunnel = new Uint8Array(20);
    this.#tunnel.set(this.#md.tunnelId);
    this.#tunnel[19] = this.#md.weight;
    if (this.#md.generated) opts.log.info(`tunnel.id not set: using ${formatUuid(this.#md.tunnelId)}`);
  }

  #features(network: string, src: string, dst: string): { udp: boolean; features: Feature[] } {
    const id = networkId(network);
    if (id !== NETWORK_TCP && id !== NETWORK_UDP) {
      throw new TypeError(`Network "${network}" is not supported by the tunnel connector`);
    }
    const udp = id === NETWORK_UDP;
    const features: Feature[] = [];
    if (udp) features.push({ kind: "network", network: NETWORK_UDP });
    const auth = this.#opts.auth;
    if (auth) features.push({ kind: "userAuth", username: auth.username, password: auth.password });
    features.push(addrFeature(src), addrFeature(dst), { kind: "tunnel", id: this.#tunnel });
    return { udp, features };
  }

  async connect(conn: Conn, network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    const { udp, features } = this.#features(network, addrText(conn.remoteAddr), addr);
    const request = encodeRequest({ cmd: udp ? CMD_CONNECT | FLAG_UDP : CMD_CONNECT, features });
    await within(
      conn,
      this.#md.connectTimeout,
      opts.signal,
      (async () => {
        await writeAll(conn, request);
        await expectOk(conn, `Tunnel CONNECT ${addr}`);
      })(),
    );
    return udp ? new RelayDatagramConn(conn, null) : conn;
  }

  async bind(conn: Conn, network: string, addr: string, opts: BindOptions = {}): Promise<Listener> {
    const { udp, features } = this.#features(network, addrText(conn.localAddr), addr);
    const request = encodeRequest({ cmd: udp ? CMD_BIND | FLAG_UDP : CMD_BIND, features });
    const tunnel = formatUuid(this.#md.tunnelId);
    let bound: Addr = { transport: udp ? "udp" : "tcp", hostname: "0.0.0.0", port: 0 };
    let connector = "";
    try {
      await within(
        conn,
        this.#md.connectTimeout,
        opts.signal,
        (async () => {
          await writeAll(conn, request);
          const resp = await expectOk(conn, `Create tunnel ${tunnel}`);
          for (const f of resp) {
            if (f.kind === "addr") bound = { transport: udp ? "udp" : "tcp", hostname: f.host, port: f.port };
            else if (f.kind === "tunnel") connector = formatUuid(f.id);
          }
        })(),
      );
    } catch (err) {
      closeQuietly(conn);
      throw err;
    }
    const endpoint = "hostname" in bound ? bound.hostname : "";
    this.#opts.log.info(
      `create tunnel on ${addrText(bound)}/${network} OK, tunnel=${tunnel}, connector=${connector}, weight=${
        this.#md.weight || 1
      }`,
      { endpoint, tunnel },
    );
    const ln = new MuxBindListener(conn, this.#md.mux, readStreamHeader, bound);
    return udp ? new DatagramListener(ln) : ln;
  }
}

/** Reads a response; throws unless it is OK. Resolves to its features. */
async function expectOk(conn: Conn, what: string): Promise<Feature[]> {
  const resp = await readResponse(conn);
  if (resp === null) {
    throw new Deno.errors.UnexpectedEof(`${what}: the server closed the connection without a response`);
  }
  if (resp.status === STATUS_UNAUTHORIZED) throw new AuthError(`${what}: server answered ${statusText(resp.status)}`);
  if (resp.status !== STATUS_OK) throw new ProxyError(`${what}: server answered ${statusText(resp.status)}`);
  return resp.features;
}

/** Strips the relay response that starts every stream; resolves to the visitor it names (the first Addr). */
async function readStreamHeader(stream: Conn): Promise<Addr> {
  const resp = await readResponse(stream);
  if (resp === null) throw new Deno.errors.UnexpectedEof("Tunnel stream ended before its header");
  if (resp.status !== STATUS_OK) throw new HandshakeError(`Tunnel stream header has status ${statusText(resp.status)}`);
  const a = resp.features.find((f) => f.kind === "addr");
  return { transport: "tcp", hostname: a?.kind === "addr" ? a.host : "0.0.0.0", port: a?.kind === "addr" ? a.port : 0 };
}

/** The streams of a UDP tunnel as datagram conns (one per visitor). */
class DatagramListener implements Listener {
  constructor(readonly inner: MuxBindListener) {}
  get addr(): Addr {
    return this.inner.addr;
  }
  async accept(): Promise<Conn> {
    const c = await this.inner.accept().catch((err) => {
      throw err instanceof ClosedError ? err : new ClosedError(String(err));
    });
    return new RelayDatagramConn(c, null);
  }
  close(): void {
    this.inner.close();
  }
}

function addrText(a: Addr): string {
  if (!("hostname" in a)) return "";
  const h = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  return `${h}:${a.port}`;
}
