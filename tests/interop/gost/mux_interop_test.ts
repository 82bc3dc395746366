/**
 * Wire compatibility with gost 3.2.6 (`GOST_BIN`) on the smux-over-TCP/TLS
 * transports `mtcp` and `mtls`, both directions (gost server + dost client,
 * dost server + gost client): relay, socks5 and http with 32 MiB bodies
 * hash-checked, 20 concurrent requests that must share one session (one TCP
 * connection between the pair), socks5 requests one after another over one
 * session, and garbage sent to a dost listener before a gost client uses it.
 * Skipped without `GOST_BIN` or curl.
 */
import { assert, assertEquals } from "../../assert.ts";
import { freePort } from "../../e2e/_dost.ts";
import { hasCurl } from "../../e2e/_common.ts";
import { GOST_BIN } from "../../e2e/_gost.ts";
import { tlsClient } from "../../../transports/tls/mod.ts";
import type { Conn } from "../../../transports/types.ts";
import { BOTH, fetchChecked, type Impl, makeBody, proxyPair, start, withOrigin, withProcs } from "./_pair.ts";

const TRANSPORTS = ["mtcp", "mtls"];
const PROTOCOLS = ["relay", "socks5", "http"];
const big = await makeBody(32 << 20);
const small = await makeBody(1 << 20);

/** Established TCP connections whose remote end is loopback `port` (the client side of each pair's sessions). */
async function connectionsTo(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = await Deno.readTextFile(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[2]: remote address:port, f[3]: state (01 = ESTABLISHED)
      if (f.length > 3 && f[2].endsWith(`:${hex}`) && f[3] === "01") n++;
    }
  }
  return n;
}

for (const transport of TRANSPORTS) {
  Deno.test({
    name: `interop gost: relay, socks5 and http over ${transport}, both directions, 32 MiB hash-checked`,
    ignore: !GOST_BIN || !hasCurl,
    fn: (t) =>
      withOrigin(big, async (port) => {
        for (const proto of PROTOCOLS) {
          const url = (p: number) => `${proto}+${transport}://127.0.0.1:${p}`;
          for (const [server, client] of BOTH) {
            await t.step(`${proto}+${transport}: ${server} server, ${client} client`, () =>
              proxyPair(server, client, url, url, (proxy) => fetchChecked(big, `http://127.0.0.1:${port}/`, proxy)));
          }
        }
      }),
  });
}

Deno.test({
  name: "interop gost: 20 concurrent requests over one mtcp/mtls session, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const scheme of ["relay+mtcp", "relay+mtls", "http+mtls"]) {
        for (const [server, client] of BOTH) {
          await t.step(`${scheme}: ${server} server, ${client} client`, () => {
            const [s, c] = [freePort(), freePort()];
            const url = `${scheme}://127.0.0.1:${s}`;
            return withProcs([
              () => start(server, ["-L", url]),
              () => start(client, ["-L", `http://127.0.0.1:${c}`, "-F", url]),
            ], async () => {
              const proxy = `http://127.0.0.1:${c}`;
              // The first request opens the session; the next 20 run on it at once.
              await fetchChecked(small, `http://127.0.0.1:${port}/`, proxy);
              await Promise.all(
                Array.from({ length: 20 }, () => fetchChecked(small, `http://127.0.0.1:${port}/`, proxy)),
              );
              assertEquals(await connectionsTo(s), 1, "one TCP connection carries every stream");
            });
          });
        }
      }
    }),
});

/**
 * A gost 3.2.6 peer (client or server) kills its smux session when a socks5 stream that negotiated gost's TLS
 * method (0x80) closes: the stream's TLS close_notify sets a write deadline of "now" on the session's TCP conn
 * (internal/util/mux's streamConn passes deadlines through), so the next request on that session fails. Only
 * `notls=true` on the client avoids it. Over mtls (a TLS mux dialer) dost's client sets it on its own
 * (config/build.ts); over plain mtcp it offers the method as gost does, as over mws, so the node needs it.
 */
Deno.test({
  name: "interop gost: socks5 over mtcp/mtls, three requests one after another on one session, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      const steps: [Impl, Impl, string, string][] = [
        ["gost", "dost", "mtls", ""], // dost's default: no TLS method inside a TLS mux session
        ["gost", "dost", "mtcp", "?notls=true"],
        ["dost", "gost", "mtls", "?notls=true"], // gost's client breaks its own session otherwise
        ["dost", "gost", "mtcp", "?notls=true"],
      ];
      for (const [server, client, transport, query] of steps) {
        await t.step(`socks5+${transport}${query}: ${server} server, ${client} client`, () =>
          proxyPair(server, client, (p) =>
            `socks5+${transport}://127.0.0.1:${p}`, (p) =>
            `socks5+${transport}://127.0.0.1:${p}${query}`, async (proxy) => {
            for (let i = 0; i < 3; i++) {
              await fetchChecked(small, `http://127.0.0.1:${port}/`, proxy);
            }
          }));
      }
    }),
});

/**
 * Connects to `port` (TLS on top when `tls`, verifying nothing), writes `bytes`, half-closes, and resolves to
 * whether the server ended the conn within 10 s (EOF or an error).
 */
async function serverDrops(port: number, bytes: Uint8Array, tls: boolean): Promise<boolean> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  let conn: Conn = tcp;
  try {
    if (tls) conn = await tlsClient(tcp, { secure: false, serverName: "localhost" });
    await conn.write(bytes);
    await conn.closeWrite();
    const buf = new Uint8Array(1024);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), 10_000)));
    const ended = (async () => {
      try {
        while ((await conn.read(buf)) !== null) { /* drain */ }
      } catch {
        // a reset
      }
      return true;
    })();
    const got = await Promise.race([ended, timeout]);
    clearTimeout(timer);
    conn.close();
    await ended;
    return got;
  } catch {
    conn.close();
    return true; // the TLS handshake itself was refused
  }
}

Deno.test({
  name: "interop gost: garbage to a dost mtcp/mtls listener ends only that session; a gost client is served after",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const transport of TRANSPORTS) {
        await t.step(`relay+${transport}: dost server, gost client`, () => {
          const tls = transport === "mtls";
          const v = tls ? 1 : 2; // gost's default smux version of the scheme
          // A SYN for stream 3, then a PSH announcing 65535 bytes of which 1000 come before the end.
          const cut = new Uint8Array(16 + 1000);
          cut.set([v, 0, 0, 0, 3, 0, 0, 0, v, 2, 0xff, 0xff, 3, 0, 0, 0]);
          const cases: [string, Uint8Array, boolean][] = [
            ["an HTTP request", new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), tls],
            ["an unknown smux command", new Uint8Array([v, 9, 0, 0, 3, 0, 0, 0]), tls],
            ["a frame cut short", cut, tls],
          ];
          if (tls) cases.push(["plain bytes to the TLS port", new TextEncoder().encode("hello"), false]);
          const [s, c] = [freePort(), freePort()];
          return withProcs([
            () => start("dost", ["-L", `relay+${transport}://127.0.0.1:${s}`]),
            () => start("gost", ["-L", `http://127.0.0.1:${c}`, "-F", `relay+${transport}://127.0.0.1:${s}`]),
          ], async () => {
            for (const [what, bytes, overTls] of cases) assert(await serverDrops(s, bytes, overTls), what);
            const proxy = `http://127.0.0.1:${c}`;
            await Promise.all(Array.from({ length: 5 }, () => fetchChecked(small, `http://127.0.0.1:${port}/`, proxy)));
          });
        });
      }
    }),
});
