/**
 * The metrics service (gost `-metrics` / `metrics:`; go-gost/x v0.8.1
 * `metrics/service/service.go`, shared/spec/operations.md §3.1): an HTTP
 * server that answers one path with the scrape of a {@linkcode Metrics}.
 *
 * - The path is matched as Go's `ServeMux` matches a pattern: exactly, so
 *   with `/metrics` both `/metrics/` and any other path are 404 (a path
 *   that ends in `/` is a subtree, as in Go).
 * - With `auth` or `auther` (which replaces `auth`) a request needs Basic
 *   credentials; a failure is 401 with an empty body and no
 *   `WWW-Authenticate`, as gost answers.
 * - Only GET and HEAD are served (405 otherwise); request bodies are never
 *   read and a scrape is rendered synchronously, so a request costs one
 *   render and nothing else.
 *
 * @module
 */
import { StaticAuthenticator } from "../handlers/auth.ts";
import type { Metrics } from "../handlers/metrics/mod.ts";
import type { Authenticator } from "../handlers/types.ts";
import { listenHost, splitHostPort } from "../transports/addr.ts";
import { errText } from "../handlers/service.ts";
import { formatAddr, type Logger } from "../transports/log.ts";

/** The path served when none is given. */
export const DEFAULT_METRICS_PATH = "/metrics";

/** The text exposition format's media type. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsServerOptions {
  /** `host:port` to listen on; an empty host means all interfaces. */
  addr: string;
  /** @default {@linkcode DEFAULT_METRICS_PATH} */
  path?: string;
  /**
   * One user (`-metrics user:pass@addr`, `metrics.auth`). As everywhere in
   * dost, an empty password matches only an empty password.
   */
  auth?: { username: string; password?: string };
  /** Checks credentials instead of `auth` (`metrics.auther`). */
  auther?: Authenticator;
  metrics: Metrics;
  log: Logger;
}

export interface MetricsServer {
  readonly addr: Deno.NetAddr;
  /** Stops listening and waits for requests in progress. */
  close(): Promise<void>;
}

const decoder = new TextDecoder();

/** Go's `Request.BasicAuth`: the credentials of a `Basic` Authorization header, or undefined. */
export function parseBasicAuth(header: string | null): [user: string, pass: string] | undefined {
  if (header === null || header.length < 6 || header.slice(0, 6).toLowerCase() !== "basic ") return undefined;
  let bin: string;
  try {
    bin = atob(header.slice(6));
  } catch {
    return undefined;
  }
  const s = decoder.decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  const i = s.indexOf(":");
  return i < 0 ? undefined : [s.slice(0, i), s.slice(i + 1)];
}

function notFound(): Response {
  // Go's http.NotFound.
  return new Response("404 page not found\n", {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
  });
}

/** Starts the metrics service; rejects when it cannot listen on `addr`. */
export function serveMetrics(opts: MetricsServerOptions): Promise<MetricsServer> {
  const path = opts.path || DEFAULT_METRICS_PATH;
  const auther = opts.auther ??
    (opts.auth
      ? new StaticAuthenticator(
        opts.auth.username ? [{ username: opts.auth.username, password: opts.auth.password ?? "" }] : [],
      )
      : undefined);
  const matches = path.endsWith("/") ? (p: string) => p.startsWith(path) : (p: string) => p === path;
  const log = opts.log;

  const handler = (req: Request): Response => {
    if (!matches(new URL(req.url).pathname)) return notFound();
    if (auther) {
      const [user, pass] = parseBasicAuth(req.headers.get("authorization")) ?? ["", ""];
      if (!auther.authenticate(user, pass)) return new Response(null, { status: 401 });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const body = opts.metrics.render();
    return new Response(req.method === "HEAD" ? null : body, { headers: { "content-type": METRICS_CONTENT_TYPE } });
  };

  try {
    const { host, port } = splitHostPort(opts.addr);
    const server = Deno.serve({
      hostname: listenHost(host),
      port,
      onListen: () => {},
      onError: (err) => {
        log.error(`metrics: ${errText(err)}`);
        return new Response(null, { status: 500 });
      },
    }, handler);
    const addr = server.addr;
    log.info(`metrics service listening on ${formatAddr(addr)}${path}`);
    return Promise.resolve({
      addr,
      close: async () => {
        await server.shutdown();
      },
    });
  } catch (err) {
    return Promise.reject(err);
  }
}
