/**
 * Interop of dost's HTTP/2 (transports/h2) and its h2/h2c/http2 transports
 * with other implementations: python3-h2 as client and server, nghttp and
 * curl (nghttp2) as clients, Node's http2 module (as shipped in Deno) as
 * client and server, and python3-hpack as an HPACK oracle.
 *
 * @module
 */
import http2 from "node:http2";
import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { hasCommand } from "../../e2e/_dost.ts";
import { startEcho } from "../../e2e/_servers.ts";
import { closeQuietly, writeAll } from "../../../transports/_io/write_all.ts";
import { Logger } from "../../../transports/log.ts";
import { Metadata } from "../../../transports/metadata.ts";
import { netDial } from "../../../transports/tcp/mod.ts";
import type { Conn, ServerTLSConfig } from "../../../transports/types.ts";
import { generateCertificate } from "../../../transports/tls/mod.ts";
import {
  H2Dialer,
  type H2Listener,
  type HeaderField,
  HpackDecoder,
  HpackEncoder,
  listenH2,
  listenH2c,
  parseDialerMetadata,
} from "../../../transports/h2/mod.ts";
import { type Http2Listener, listenHttp2 } from "../../../transports/http2/mod.ts";
import { http2Handler } from "../../../handlers/http2/mod.ts";
import { StaticAuthenticator } from "../../../handlers/auth.ts";
import { ChainRouter } from "../../../handlers/chain/chain.ts";
import { Service } from "../../../handlers/service.ts";
import { echoRoundTrip, pattern, serve, sha256 } from "../../../transports/ws/_testing.ts";

const PYTHON = "/usr/bin/python3";
const HERE = new URL(".", import.meta.url).pathname;
const dec = new TextDecoder();
const enc = new TextEncoder();
const quiet = new Logger({}, { level: "fatal", sink: () => {} });

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}
const hasPyH2 = exists(PYTHON) && exists("/usr/lib/python3/dist-packages/h2");
const hasNghttp = hasCommand("nghttp");
const hasCurl = hasCommand("curl");

let certP: Promise<ServerTLSConfig> | undefined;
/** A CA-flagged self-signed certificate for localhost / 127.0.0.1 (peers verify it). */
function tls(): Promise<ServerTLSConfig> {
  certP ??= generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], isCA: true });
  return certP;
}

function opts(md: Record<string, unknown> = {}) {
  return { addr: "127.0.0.1:0", metadata: new Metadata(md), tls, log: quiet };
}

function addr(ln: { addr: Deno.Addr }): string {
  const a = ln.addr as Deno.NetAddr;
  return `${a.hostname}:${a.port}`;
}

async function py(script: string, args: string[], stdin?: string): Promise<{ out: string; err: string }> {
  const child = new Deno.Command(PYTHON, {
    args: [HERE + script, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(enc.encode(stdin));
    await w.close();
  }
  const o = await child.output();
  return { out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

interface PyStream {
  status: number | null;
  headers: Record<string, string>;
  sent: string;
  received: string;
  bytes: number;
  reset: number | null;
}

async function pyClient(args: string[]): Promise<{ alpn: string | null; streams: PyStream[] }> {
  const r = await py("peer.py", ["client", ...args]);
  try {
    return JSON.parse(r.out);
  } catch {
    throw new Error(`peer.py client failed: ${r.out}\n${r.err}`);
  }
}

/** Starts peer.py server; resolves to its port and a stopper. */
async function pyServer(withTls: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "dost-h2-peer-" });
  const cfg = await tls();
  await Deno.writeTextFile(`${dir}/cert.pem`, cfg.cert);
  await Deno.writeTextFile(`${dir}/key.pem`, cfg.key);
  const child = new Deno.Command(PYTHON, {
    args: [HERE + "peer.py", "server", ...(withTls ? ["--tls", `${dir}/cert.pem`, `${dir}/key.pem`] : [])],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("peer.py server exited");
    line += dec.decode(value);
  }
  reader.releaseLock();
  return {
    port: Number(line.trim()),
    async stop() {
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const KINDS = [
  { name: "h2c", tls: false, listen: (md = {}) => listenH2c(opts(md)) },
  { name: "h2", tls: true, listen: (md = {}) => listenH2(opts(md)) },
];

for (const k of KINDS) {
  Deno.test({
    name: `interop ${k.name}: python-h2 client, 3 concurrent CONNECT tunnels and a GET <path> tunnel`,
    ignore: !hasPyH2,
    async fn() {
      const plain = (await k.listen()) as H2Listener;
      const withPath = (await k.listen({ path: "/tun" })) as H2Listener;
      const s1 = serve(plain);
      const s2 = serve(withPath);
      try {
        const t = k.tls ? ["--tls"] : [];
        const r = await pyClient([addr(plain), ...t, "--streams", "3", "--size", "300000"]);
        assertEquals(r.alpn, k.tls ? "h2" : null);
        for (const s of r.streams) {
          assertEquals(s.status, 200);
          assertEquals(s.received, s.sent);
          assertEquals(s.bytes, 300000);
        }
        const g = await pyClient([addr(withPath), ...t, "--method", "GET", "--path", "/tun", "--size", "5000"]);
        assertEquals(g.streams[0].status, 200);
        assertEquals(g.streams[0].received, g.streams[0].sent);
        const bad = await pyClient([addr(plain), ...t, "--method", "GET", "--path", "/x", "--size", "0"]);
        assertEquals(bad.streams[0].status, 405);
      } finally {
        await s1.stop();
        await s2.stop();
      }
    },
  });

  Deno.test({
    name: `interop ${k.name}: dost's dialer against a python-h2 echo server`,
    ignore: !hasPyH2,
    async fn() {
      const server = await pyServer(k.tls);
      const d = new H2Dialer(parseDialerMetadata(new Metadata({})), k.tls ? { secure: false } : undefined);
      try {
        const data = pattern(3 << 20, 7);
        const conns = await Promise.all([0, 1].map(() => d.dial(`127.0.0.1:${server.port}`, netDial)));
        for (const h of await Promise.all(conns.map((c) => echoRoundTrip(c, data)))) {
          assertEquals(h, await sha256(data));
        }
        for (const c of conns) c.close();
      } finally {
        d.close();
        await server.stop();
      }
    },
  });

  Deno.test({
    name: `interop ${k.name}: nghttp and curl fetch a GET <path> tunnel whose server speaks first`,
    ignore: !hasNghttp || !hasCurl,
    async fn() {
      const ln = (await k.listen({ path: "/tun" })) as H2Listener;
      const srv = serve(ln, async (c) => {
        await writeAll(c, enc.encode("banner from dost\n"));
      });
      const url = `${k.tls ? "https" : "http"}://${addr(ln)}/tun`;
      try {
        const ng = await new Deno.Command("nghttp", { args: ["-v", url], stdout: "piped", stderr: "piped" }).output();
        const out = dec.decode(ng.stdout);
        assertStringIncludes(out, "banner from dost");
        assertStringIncludes(out, ":status: 200");
        const curlArgs = ["-s", "-k", "--max-time", "10", ...(k.tls ? ["--http2"] : ["--http2-prior-knowledge"]), url];
        const cu = await new Deno.Command("curl", { args: curlArgs, stdout: "piped" }).output();
        assertEquals(dec.decode(cu.stdout), "banner from dost\n");
        const wrong = await new Deno.Command("curl", {
          args: [...curlArgs.slice(0, -1), "-o", "/dev/null", "-w", "%{http_code}", url.replace("/tun", "/x")],
          stdout: "piped",
        }).output();
        assertEquals(dec.decode(wrong.stdout), "400");
      } finally {
        await srv.stop();
      }
    },
  });
}

Deno.test({
  name: "interop h2c: curl --http2 and nghttp -u reach a tunnel through the HTTP/1.1 Upgrade: h2c handshake",
  ignore: !hasNghttp || !hasCurl,
  async fn() {
    const ln = (await listenH2c(opts({ path: "/tun" }))) as H2Listener;
    const srv = serve(ln, async (c) => {
      await writeAll(c, enc.encode("banner after upgrade\n"));
    });
    const url = `http://${addr(ln)}/tun`;
    try {
      const cu = await new Deno.Command("curl", {
        args: ["-s", "--http2", "--max-time", "10", "-w", "%{http_version}", url],
        stdout: "piped",
      }).output();
      assertEquals(dec.decode(cu.stdout), "banner after upgrade\n2", "curl upgraded to HTTP/2");
      const ng = await new Deno.Command("nghttp", { args: ["-uv", url], stdout: "piped" }).output();
      const out = dec.decode(ng.stdout);
      assertStringIncludes(out, "HTTP Upgrade success");
      assertStringIncludes(out, "banner after upgrade");
    } finally {
      await srv.stop();
    }
  },
});

Deno.test({
  name: "interop http2 proxy: python-h2 CONNECT client with and without credentials",
  ignore: !hasPyH2,
  async fn() {
    const echo = startEcho();
    const ln = (await listenHttp2(opts())) as Http2Listener;
    const svc = new Service(
      "t",
      ln,
      http2Handler({
        metadata: new Metadata({}),
        auther: new StaticAuthenticator([{ username: "user", password: "pass" }]),
        router: new ChainRouter(),
        tls,
        log: quiet,
      }),
      quiet,
    );
    svc.serve();
    try {
      const target = `127.0.0.1:${echo.port}`;
      const ok = await pyClient([
        addr(ln),
        "--tls",
        "--authority",
        target,
        "--header",
        `proxy-authorization:Basic ${btoa("user:pass")}`,
        "--streams",
        "4",
        "--size",
        "200000",
      ]);
      assertEquals(ok.alpn, "h2");
      for (const s of ok.streams) {
        assertEquals(s.status, 200);
        assertEquals(s.received, s.sent);
      }
      const denied = await pyClient([addr(ln), "--tls", "--authority", target, "--size", "0"]);
      assertEquals(denied.streams[0].status, 407);
      assertEquals(denied.streams[0].headers["proxy-authenticate"], 'Basic realm="gost"');
    } finally {
      await svc.shutdown(0);
      await echo.close();
    }
  },
});

Deno.test("interop h2c: node:http2 client and server against dost's listener and dialer", async () => {
  // node:http2 client -> dost h2c listener (echo).
  const ln = (await listenH2c(opts())) as H2Listener;
  const srv = serve(ln);
  const client = http2.connect(`http://${addr(ln)}`);
  try {
    const req = client.request({ ":method": "CONNECT", ":authority": "example.com:443" }, { endStream: false });
    const status = await new Promise<number>((resolve) => req.once("response", (h) => resolve(Number(h[":status"]))));
    assertEquals(status, 200);
    const chunks: Uint8Array[] = [];
    const ended = new Promise<void>((resolve) => req.on("end", () => resolve()));
    req.on("data", (d: Uint8Array) => chunks.push(d));
    const data = pattern(1 << 20, 3);
    req.end(data);
    await ended;
    const got = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      got.set(c, off);
      off += c.length;
    }
    assertEquals(await sha256(got), await sha256(data));
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()));
    await srv.stop();
  }

  // dost h2c dialer -> node:http2 server (echo).
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.pipe(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  const d = new H2Dialer(parseDialerMetadata(new Metadata({})));
  let conn: Conn | undefined;
  try {
    conn = await d.dial(`127.0.0.1:${port}`, netDial);
    const data = pattern(2 << 20, 4);
    assertEquals(await echoRoundTrip(conn, data), await sha256(data));
  } finally {
    closeQuietly(conn);
    d.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const HEADER_SETS: HeaderField[][] = [
  [[":method", "GET"], [":scheme", "https"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "CONNECT"], [":authority", "example.com:443"], ["proxy-authorization", "Basic dXNlcjpwYXNz"]],
  [[":method", "POST"], [":path", "/GostTunel/Tunnel"], ["content-type", "application/grpc"], ["te", "trailers"]],
  [[":status", "200"], ["date", "Sun, 22 Nov 2026 05:02:26 GMT"], ["x-long", "z".repeat(3000)]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/"], [":authority", "www.example.com"], ["cookie", "a=b"]],
  [["x-bytes", "\x00\x01\x7f~%é"], ["user-agent", "Go-http-client/2.0"], ["accept-encoding", "gzip"]],
];

Deno.test({
  name: "interop hpack: python3-hpack blocks (dynamic table, Huffman) decode here, and ours decode there",
  ignore: !exists(PYTHON) || !exists("/usr/lib/python3/dist-packages/hpack"),
  async fn() {
    // Repeat the sets so python's encoder refers back to its dynamic table.
    const sets = [...HEADER_SETS, ...HEADER_SETS, ...HEADER_SETS.slice().reverse()];
    const asText = (h: HeaderField[]) => h.map(([k, v]) => [k, dec.decode(Uint8Array.from(v, (c) => c.charCodeAt(0)))]);
    const utf8 = sets.map((h) => h.map(([k, v]) => [k, v]));
    const r = await py("hpack_oracle.py", [], JSON.stringify({ encode: utf8 }));
    const blocks: string[] = JSON.parse(r.out).blocks;
    const d = new HpackDecoder();
    blocks.forEach((b, i) => {
      const bytes = Uint8Array.from(b.match(/../g) ?? [], (x) => parseInt(x, 16));
      assertEquals(asText(d.decode(bytes).headers), utf8[i], `block ${i}`);
    });
    assert(d.tableLength > 0, "python's encoder used the dynamic table");

    const e = new HpackEncoder();
    // Byte strings: UTF-8 values go over the wire as their bytes.
    const ours = sets.map((h) =>
      Array.from(
        e.encode(h.map(([k, v]) => [k, String.fromCharCode(...enc.encode(v))])),
        (x) => x.toString(16).padStart(2, "0"),
      ).join("")
    );
    const back = JSON.parse((await py("hpack_oracle.py", [], JSON.stringify({ decode: ours }))).out).headers;
    assertEquals(back, utf8);
  },
});
