/**
 * DNS over HTTPS (RFC 8484): the query is POSTed as `application/dns-message`.
 *
 * GOST does not check the server's certificate (`InsecureSkipVerify`).
 * `fetch` cannot do that in Deno 2.9.6: `Deno.createHttpClient` can add CAs
 * but not turn verification off (only the process-wide
 * `--unsafely-ignore-certificate-errors` flag can). So this runs on
 * `node:https` with `rejectUnauthorized: false` and a keep-alive agent of
 * its own, which means HTTP/1.1 only where GOST would try HTTP/2 first.
 *
 * @module
 */
import * as https from "node:https";
import { Buffer } from "node:buffer";
import { isIPv4, isIPv6 } from "../../transports/addr.ts";
import { type Exchanger, MAX_REPLY, onAbort } from "./exchanger.ts";

/** POSTs each query to one DoH URL over pooled, unverified TLS connections. */
export class DohExchanger implements Exchanger {
  readonly #url: URL;
  readonly #agent: https.Agent;

  constructor(url: string) {
    this.#url = new URL(url);
    this.#agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
  }

  exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    signal.throwIfAborted();
    const url = this.#url;
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    return new Promise<Uint8Array>((resolve, reject) => {
      let done = false;
      let off = () => {};
      const finish = (err: unknown, body?: Uint8Array) => {
        if (done) return;
        done = true;
        off();
        if (err === undefined) resolve(body!);
        else {
          req.destroy();
          reject(err);
        }
      };
      const req = https.request({
        protocol: "https:",
        host,
        port: url.port || 443,
        path: url.pathname + url.search,
        method: "POST",
        agent: this.#agent,
        rejectUnauthorized: false,
        // RFC 6066: no SNI for IP literals.
        servername: isIPv4(host) || isIPv6(host) ? undefined : host,
        headers: {
          "content-type": "application/dns-message",
          "accept": "application/dns-message",
          "content-length": String(query.length),
        },
      }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          finish(new Error(`DoH server "${url.href}" answered HTTP ${res.statusCode}`));
          return;
        }
        const chunks: Uint8Array[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY) {
            finish(new RangeError(`DoH reply from "${url.href}" is over ${MAX_REPLY} bytes`));
            return;
          }
          chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        });
        res.on("end", () => {
          const body = new Uint8Array(size);
          let pos = 0;
          for (const c of chunks) {
            body.set(c, pos);
            pos += c.length;
          }
          finish(undefined, body);
        });
        res.on("error", (err) => finish(err));
        res.on("aborted", () => finish(new Error(`DoH reply from "${url.href}" was cut short`)));
      });
      req.on("error", (err) => finish(err));
      off = onAbort(signal, () => finish(signal.reason));
      req.end(Buffer.from(query.buffer, query.byteOffset, query.length));
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}
