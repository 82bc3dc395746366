/**
 * A QUIC connection to a chain node, for every QUIC transport (h3, quic, wt):
 * verified when the TLS config asks for it (`secure` or a CA), otherwise with
 * the certificate a probe handshake learned pinned by its hash.
 *
 * @module
 */
import { dialHost, splitHostPort } from "../addr.ts";
import { type ClientTLSConfig, HandshakeError, type RawDial } from "../types.ts";
import { UdpBridge } from "./_bridge.ts";
import { certificateHash, probeCertificate } from "./_probe.ts";

/** What differs between the QUIC transports' dials. */
export interface QuicNodeOptions {
  tls: ClientTLSConfig;
  /** Learned certificate hashes by node address, kept across dials. */
  pins: Map<string, Uint8Array>;
  alpn: string[];
  handshakeTimeout: number;
  keepAlivePeriod: number;
  maxIdleTimeout: number;
  /** Streams the server may open towards us. */
  maxUnidirectionalStreams: number;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An endpoint of the dial's own, so that closing the connection (or a failed handshake) frees its UDP socket. */
function clientEndpoint(hostname: string): Deno.QuicEndpoint {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) return new Deno.QuicEndpoint({ hostname: "0.0.0.0", port: 0 });
  try {
    return new Deno.QuicEndpoint({ hostname: "::", port: 0 });
  } catch {
    return new Deno.QuicEndpoint({ hostname: "0.0.0.0", port: 0 });
  }
}

/** Where the QUIC packets of one use (a probe, a connection) go: the node itself, or a bridge into a tunnel. */
type Route = <T>(
  use: (hostname: string, port: number) => Promise<T>,
  keep?: (t: T, bridge: UdpBridge) => void,
) => Promise<T>;

/**
 * A QUIC connection to `addr`, verified or pinned as the TLS config says.
 * With `via` (a later hop's raw dial) the packets go through a datagram
 * tunnel to the node instead of straight to it.
 */
export async function connectQuicNode(addr: string, o: QuicNodeOptions, via?: RawDial): Promise<Deno.QuicConn> {
  const { host, port: nodePort } = splitHostPort(addr);
  const nodeHost = dialHost(host).replace(/^\[|\]$/g, "");
  const route: Route = via
    ? async (use, keep) => {
      const bridge = new UdpBridge(await via(addr, { network: "udp" }));
      try {
        const t = await use("127.0.0.1", bridge.port);
        if (keep) keep(t, bridge);
        else bridge.close();
        return t;
      } catch (err) {
        bridge.close();
        throw err;
      }
    }
    : (use) => use(nodeHost, nodePort);
  // A tunnelled connection lives as long as its tunnel, and the tunnel as long as the connection.
  const tie = (conn: Deno.QuicConn, bridge: UdpBridge) => {
    bridge.onEnd = () => conn.close();
    conn.closed.then(() => bridge.close(), () => bridge.close());
  };
  const tls = o.tls;
  const base = {
    alpnProtocols: o.alpn,
    keepAliveInterval: o.keepAlivePeriod > 0 ? o.keepAlivePeriod : undefined,
    maxIdleTimeout: o.maxIdleTimeout,
    // GOST's servers never open bidirectional streams towards the client.
    maxConcurrentBidirectionalStreams: 0,
    maxConcurrentUnidirectionalStreams: o.maxUnidirectionalStreams,
  };
  const serverName = tls.serverName || nodeHost;
  if (tls.secure || tls.ca) {
    return await route((hostname, port) =>
      handshake(addr, o.handshakeTimeout, {
        ...base,
        hostname,
        port,
        serverName,
        caCerts: tls.ca ? [tls.ca] : undefined,
        ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
      }), tie);
  }
  let pin = o.pins.get(addr);
  const cached = pin !== undefined;
  for (let attempt = 0;; attempt++) {
    if (!pin) {
      const [leaf] = await route((hostname, port) =>
        probeCertificate(hostname, port, { serverName, timeout: o.handshakeTimeout })
      );
      pin = await certificateHash(leaf);
      o.pins.set(addr, pin);
    }
    try {
      const value = pin;
      return await route((hostname, port) =>
        handshake(addr, o.handshakeTimeout, {
          ...base,
          hostname,
          port,
          serverName,
          serverCertificateHashes: [{ algorithm: "sha-256", value }],
        }), tie);
    } catch (err) {
      // The server's certificate changed since it was pinned (a restarted gost makes a new one): learn it again, once.
      if (!cached || attempt > 0 || !/certificate|UnknownIssuer/i.test(errText(err))) throw err;
      o.pins.delete(addr);
      pin = undefined;
    }
  }
}

async function handshake(addr: string, timeoutMs: number, options: Record<string, unknown>): Promise<Deno.QuicConn> {
  const endpoint = clientEndpoint(String(options.hostname));
  const pending = Deno.connectQuic({ ...options, endpoint } as unknown as Deno.ConnectQuicOptions<false>);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HandshakeError(`QUIC handshake with ${addr} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([pending, timeout]);
  } catch (err) {
    pending.then((c) => c.close(), () => {}).finally(() => endpoint.close());
    if (err instanceof HandshakeError) throw err;
    throw new HandshakeError(`QUIC handshake with ${addr} failed: ${errText(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
