/**
 * The `grpc` listener (shared/spec/h2-and-grpc.md §2.4): a gRPC server with
 * the one bidirectional-streaming method `/GostTunel/Tunnel` (or the
 * configured path); every call is one accepted conn. TLS with ALPN `h2` by
 * default, plaintext HTTP/2 with `grpcInsecure=true`.
 *
 * Requests that are not a call of that method are answered the way grpc-go
 * answers them: a wrong method path gets status UNIMPLEMENTED (12), a wrong
 * content type HTTP 415, a method other than POST HTTP 405, and an HTTP/1.x
 * request `400`; other calls and connections are not affected.
 *
 * @module
 */
import { formatAddr, type Logger } from "../log.ts";
import { TcpListener } from "../tcp/mod.ts";
import { listenTls } from "../tls/mod.ts";
import type { Listener, ListenerOptions } from "../types.ts";
import {
  clientAddrFromHeaders,
  H2QueueListener,
  type H2SessionOptions,
  type H2Stream,
  serverTLSWithAlpn,
} from "../h2/mod.ts";
import { encodeGrpcMessage, GrpcConn } from "./conn.ts";
import { Status } from "./_proto.ts";
import { type GrpcListenerOptions, parseListenerMetadata } from "./metadata.ts";

/** ALPN of the gRPC server (gRPC adds only `h2`). */
export const GRPC_ALPN = ["h2"];

/** True for `application/grpc` and its `+proto` / `;params` variants. */
export function isGrpcContentType(ct: string | undefined): boolean {
  return ct !== undefined && /^application\/grpc(?:$|[+;])/.test(ct);
}

/** Session settings of a gRPC server: keepalive pings and the ping policy per the options. */
function sessionOptions(o: GrpcListenerOptions): Omit<H2SessionOptions, "client" | "onStream" | "log"> {
  return {
    // grpc-go sets no limit; a large one keeps a misbehaving client in check.
    maxConcurrentStreams: 10_000,
    pingPolicy: { minTime: o.minTime, permitWithoutStream: o.permitWithoutStream },
    keepalive: o.keepalive
      ? { interval: o.keepaliveTime, timeout: o.keepaliveTimeout, permitWithoutStream: true }
      : undefined,
    maxIdle: o.maxConnectionIdle > 0 ? o.maxConnectionIdle : undefined,
  };
}

/** Tunnel calls from every HTTP/2 connection of an inner listener. */
export class GrpcListener extends H2QueueListener<GrpcConn> {
  readonly #opts: GrpcListenerOptions;
  readonly #log: Logger;

  constructor(inner: Listener, opts: GrpcListenerOptions, log: Logger) {
    super(inner, opts.backlog, { log, session: sessionOptions(opts), onStream: (s) => this.#route(s) });
    this.#opts = opts;
    this.#log = log;
  }

  #route(s: H2Stream): void {
    const method = s.header(":method");
    const path = s.header(":path");
    const ct = s.header("content-type");
    const remote = formatAddr(s.remoteAddr);
    if (method !== "POST") {
      this.#refuse(s, [[":status", "405"], ["content-length", "0"]], `method ${method}`);
      return;
    }
    if (!isGrpcContentType(ct)) {
      this.#refuse(s, [
        [":status", "415"],
        ["content-type", "application/grpc"],
        ["grpc-status", String(Status.INTERNAL)],
        ["grpc-message", encodeGrpcMessage(`invalid gRPC request content-type "${ct ?? ""}"`)],
      ], `content-type ${ct}`);
      return;
    }
    if (path !== this.#opts.methodPath) {
      this.#refuse(s, [
        [":status", "200"],
        ["content-type", "application/grpc"],
        ["grpc-status", String(Status.UNIMPLEMENTED)],
        ["grpc-message", encodeGrpcMessage(`unknown method ${path ?? ""}`)],
      ], `path ${path}`);
      return;
    }
    s.remoteAddrOverride = clientAddrFromHeaders(s.requestHeaders);
    s.respond([[":status", "200"], ["content-type", "application/grpc"]]);
    const conn = new GrpcConn(s, true);
    if (!this.enqueue(conn)) {
      conn.close(); // status OK at once, as GOST
      this.#log.warn(`connection queue is full, client ${remote} discarded`, { remote });
    }
  }

  #refuse(s: H2Stream, headers: [string, string][], why: string): void {
    this.#log.debug(`grpc request refused: ${why}`, { remote: formatAddr(s.remoteAddr) });
    s.respond(headers, true);
    s.close();
  }
}

/** The `grpc` listener: TLS (ALPN `h2`) unless `grpcInsecure=true`. */
export async function listenGrpc(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  const inner = md.insecure
    ? TcpListener.listen(opts.addr)
    : await listenTls({ ...opts, tls: serverTLSWithAlpn(opts.tls, GRPC_ALPN) });
  return new GrpcListener(inner, md, opts.log);
}
