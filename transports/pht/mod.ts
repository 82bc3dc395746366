/**
 * PHT, the Plain HTTP Tunnel (`pht`, `phts`; shared/spec/pht.md): a byte
 * stream carried by ordinary HTTP requests — `GET authorize` for a token,
 * one `POST push` per write with a base64 line, a long `GET pull` streaming
 * base64 lines back — so it passes proxies and CDNs that allow neither
 * CONNECT nor WebSocket.
 *
 * The protocol is in two cores that know nothing about the HTTP layer:
 *
 * - {@linkcode PhtServer}: `handle(req, info?)` is a web-standard handler
 *   `(Request) => Promise<Response>`; `accept()` yields one Conn
 *   ({@linkcode PhtSession}) per tunnel. `close()` stops new sessions,
 *   `drained` resolves when the last one ended.
 * - {@linkcode PhtClient}: `new PhtClient(fetcher, opts).connect()` resolves
 *   to a Conn; `fetcher` is `(Request) => Promise<Response>` and must return
 *   once the response head is in, with the body streaming (pulls are
 *   long-lived).
 *
 * Plugging in another HTTP layer (e.g. HTTP/3 for `h3`/`http3`):
 *
 * ```ts
 * // server: every request of the HTTP/3 server goes to the core
 * const pht = new PhtServer({ authorizePath, pushPath, pullPath, backlog, log });
 * onRequest = (req: Request) => pht.handle(req, { remoteAddr, localAddr });
 * listener.accept = () => pht.accept();          // close(): pht.close()
 *
 * // client: a fetcher over the HTTP/3 connection
 * const conn = await new PhtClient((req) => h3.fetch(req), {
 *   url: "https://example.com:443", authorizePath, pushPath, pullPath, header,
 *   onClose: () => h3.release(),                 // after the close POST
 * }).connect(signal);
 * ```
 *
 * Keep `pushWindow` at 1 unless the fetcher preserves the order of
 * concurrent requests (HTTP/1.1 pipelining on one connection does; separate
 * HTTP/2 or HTTP/3 streams do not, and PHT pushes must arrive in order).
 * Pull responses must be streamed without buffering: the core sends
 * `X-Accel-Buffering: no` and `Cache-Control: no-cache` and yields one body
 * chunk per batch of lines, each of which the HTTP layer should write out at
 * once.
 *
 * dost's own HTTP layer for `pht`/`phts` is HTTP/1.1 on conns it owns
 * (`transports/_http1`): the listener serves any Conn (TCP, or TLS via
 * `tlsServer` for phts), and the dialer's lanes run over conns from the
 * chain's raw dial (TLS via `tlsClient` for phts), so pht can be any hop.
 *
 * @module
 */
export { listenPht, listenPhts, PhtListener } from "./listener.ts";
export { PhtDialer, phtDialer, phtsDialer } from "./dialer.ts";
export { type Fetcher, PhtClient, PhtClientConn, type PhtClientOptions } from "./client.ts";
export { type PhtRequestInfo, PhtServer, type PhtServerOptions } from "./server.ts";
export { PhtSession } from "./session.ts";
export {
  DEFAULT_AUTHORIZE_PATH,
  DEFAULT_BACKLOG,
  DEFAULT_HEARTBEAT,
  DEFAULT_PULL_PATH,
  DEFAULT_PUSH_PATH,
  parseDialerMetadata,
  parseListenerMetadata,
  type PhtDialerOptions,
  type PhtListenerOptions,
} from "./metadata.ts";
