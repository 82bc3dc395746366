/**
 * dost's HTTP/3 against a real one: ngtcp2's example client and server
 * (Debian `ngtcp2-client` / `ngtcp2-server`: `gtlsclient`, `gtlsserver`,
 * built on nghttp3 for HTTP/3 and QPACK, GnuTLS for TLS 1.3).
 *
 * - gtlsclient → dost's HTTP/3 server: GET, POST bodies, many streams on one
 *   connection, a 2 MB response; nghttp3 opens QPACK encoder/decoder
 *   streams, which dost must accept.
 * - gtlsclient → dost's h3 listener: a whole PHT session (authorize, push,
 *   pull) from a foreign HTTP/3 stack.
 * - dost's fetcher and certificate probe → gtlsserver (RSA and ECDSA
 *   certificates, verification off as in GOST): files, 404, concurrency,
 *   a 1 MB body, POST.
 *
 * Ignored, with the reason, when the binaries are missing.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { run } from "../../e2e/_dost.ts";
import { h3Fetcher, serveH3 } from "../../../transports/_h3/mod.ts";
import { certificateHash, type H3Listener, listenH3, probeCertificate } from "../../../transports/h3/mod.ts";
import { Metadata } from "../../../transports/metadata.ts";
import { generateCertificate } from "../../../transports/tls/mod.ts";
import { writeAll } from "../../../transports/_io/write_all.ts";
import { quietLogger } from "../../../transports/ws/_testing.ts";

const CLIENT = "/usr/bin/gtlsclient";
const SERVER = "/usr/sbin/gtlsserver";
const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};
const noClient = !exists(CLIENT);
const noServer = !exists(SERVER) || !exists("/usr/bin/openssl");
if (noClient) console.error(`h3 interop: ${CLIENT} missing (apt-get install ngtcp2-client); client tests ignored`);
if (noServer) console.error(`h3 interop: ${SERVER} or openssl missing (apt-get install ngtcp2-server openssl)`);

const enc = new TextEncoder();
const dec = new TextDecoder();

function freeUdpPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/** Runs gtlsclient against 127.0.0.1:port with `urls`; bodies land in a temp dir. */
async function gtlsclient(port: number, urls: string[], extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "dost-h3-ngtcp2-" });
  const r = await run(CLIENT, [
    "-q",
    "--exit-on-all-streams-close",
    "--timeout=10s",
    `--download=${dir}`,
    ...extra,
    "127.0.0.1",
    String(port),
    ...urls.map((u) => `https://127.0.0.1:${port}${u}`),
  ], { timeoutMs: 30_000 });
  return { ...r, dir };
}

async function withDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** dost's HTTP/3 server on a loopback QUIC endpoint, serving every connection. */
async function dostServer(handler: (req: Request) => Promise<Response>) {
  const { cert, key } = await generateCertificate({ dnsNames: ["localhost"] });
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({ cert, key, alpnProtocols: ["h3"] });
  const served: Promise<void>[] = [];
  const errors: unknown[] = [];
  const loop = (async () => {
    for (;;) {
      let conn: Deno.QuicConn;
      try {
        conn = await (await listener.incoming()).accept();
      } catch {
        return;
      }
      served.push(serveH3(conn, handler, { onError: (e) => errors.push(e) }));
    }
  })();
  return {
    port: endpoint.addr.port,
    errors,
    async close() {
      endpoint.close();
      await loop;
      await Promise.all(served);
    },
  };
}

Deno.test({
  name: "interop h3: ngtcp2 client → dost server: GET, POST, 8 streams, 2 MB",
  ignore: noClient,
  async fn() {
    const big = new Uint8Array(2_000_000).map((_, i) => (i * 7) & 0xff);
    const seen: string[] = [];
    const srv = await dostServer(async (req) => {
      const u = new URL(req.url);
      seen.push(`${req.method} ${u.pathname} ${req.headers.get("user-agent")}`);
      if (u.pathname === "/big") return new Response(big);
      const body = req.body ? await req.text() : "";
      return new Response(`${req.method} ${u.pathname} [${body}]`);
    });
    try {
      const get = await gtlsclient(srv.port, ["/one", "/two", "/big"]);
      await withDir(get.dir, async () => {
        assertEquals(get.code, 0, get.stderr);
        assertEquals(await Deno.readTextFile(`${get.dir}/one`), "GET /one []");
        assertEquals(await Deno.readTextFile(`${get.dir}/two`), "GET /two []");
        assertEquals(await Deno.readFile(`${get.dir}/big`), big);
      });
      const bodyFile = await Deno.makeTempFile();
      await Deno.writeTextFile(bodyFile, "posted by nghttp3");
      const post = await gtlsclient(srv.port, ["/p"], ["-m", "POST", "-d", bodyFile, "-n", "8"]);
      await Deno.remove(bodyFile);
      await withDir(post.dir, async () => {
        assertEquals(post.code, 0, post.stderr);
        assertEquals(await Deno.readTextFile(`${post.dir}/p`), "POST /p [posted by nghttp3]");
      });
      assertEquals(seen.filter((s) => s.startsWith("POST /p")).length, 8);
      assertStringIncludes(seen[0], "nghttp3");
      assertEquals(srv.errors, []);
    } finally {
      await srv.close();
    }
  },
});

Deno.test({
  name: "interop h3: ngtcp2 client runs a PHT session against dost's h3 listener",
  ignore: noClient,
  async fn() {
    const { cert, key } = await generateCertificate();
    const ln = await listenH3({
      addr: "127.0.0.1:0",
      metadata: new Metadata({}),
      tls: () => Promise.resolve({ cert, key }),
      log: quietLogger(),
    }) as H3Listener;
    const port = (ln.addr as Deno.NetAddr).port;
    // The session's handler: read "hello", answer "world", end (the pull then ends too).
    const handled = ln.accept().then(async (c) => {
      const buf = new Uint8Array(5);
      let n = 0;
      while (n < 5) n += (await c.read(buf.subarray(n))) ?? 5;
      await writeAll(c, enc.encode(dec.decode(buf) === "hello" ? "world" : "wrong"));
      await c.closeWrite();
    });
    try {
      const auth = await gtlsclient(port, ["/authorize"]);
      const token = await withDir(auth.dir, () => Deno.readTextFile(`${auth.dir}/authorize`));
      assert(/^token=[0-9a-zA-Z._~-]+$/.test(token), token);
      const t = token.slice(6);
      const line = await Deno.makeTempFile();
      await Deno.writeTextFile(line, `${btoa("hello")}\n`);
      const push = await gtlsclient(port, [`/push?token=${t}`], ["-m", "POST", "-d", line]);
      await Deno.remove(line);
      await withDir(push.dir, () => Promise.resolve(assertEquals(push.code, 0, push.stderr)));
      // The session's write completes when a pull takes the bytes, so pull before waiting for the handler.
      const pull = await gtlsclient(port, [`/pull?token=${t}`]);
      await handled;
      await withDir(pull.dir, async () => {
        assertEquals(pull.code, 0, pull.stderr);
        const files = [...Deno.readDirSync(pull.dir)].map((e) => e.name);
        const lines = (await Deno.readTextFile(`${pull.dir}/${files[0]}`)).split("\n").filter(Boolean);
        assertEquals(lines.map((l) => atob(l)).join(""), "world");
      });
    } finally {
      ln.close();
      await ln.done;
    }
  },
});

async function gtlsserver(kind: "rsa" | "ec") {
  const dir = await Deno.makeTempDir({ prefix: "dost-h3-gtls-" });
  const keyArgs = kind === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  const gen = await run("openssl", [
    "req",
    "-x509",
    ...keyArgs,
    "-nodes",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/cert.pem`,
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
  ]);
  assertEquals(gen.code, 0, gen.stderr);
  await Deno.mkdir(`${dir}/htdocs`);
  await Deno.writeTextFile(`${dir}/htdocs/index.html`, "hello from ngtcp2\n");
  const big = new Uint8Array(1_000_000).map((_, i) => (i * 13) & 0xff);
  await Deno.writeFile(`${dir}/htdocs/big.bin`, big);
  const port = freeUdpPort();
  const child = new Deno.Command(SERVER, {
    args: ["-q", "-d", `${dir}/htdocs`, "127.0.0.1", String(port), `${dir}/key.pem`, `${dir}/cert.pem`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((r) => setTimeout(r, 300));
  return {
    port,
    big,
    certPem: await Deno.readTextFile(`${dir}/cert.pem`),
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

for (const kind of ["ec", "rsa"] as const) {
  Deno.test({
    name: `interop h3: dost client (probe + pinned hash) → ngtcp2 server, ${kind} certificate`,
    ignore: noServer,
    async fn() {
      const srv = await gtlsserver(kind);
      try {
        const [leaf] = await probeCertificate("127.0.0.1", srv.port);
        const der = Uint8Array.from(atob(srv.certPem.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
        assertEquals(leaf, der, "probe returns the server's certificate");
        const conn = await Deno.connectQuic({
          hostname: "127.0.0.1",
          port: srv.port,
          alpnProtocols: ["h3"],
          serverCertificateHashes: [{ algorithm: "sha-256", value: await certificateHash(leaf) }],
        } as Deno.ConnectQuicOptions<false>);
        const fetch = h3Fetcher(conn);
        try {
          const base = `https://127.0.0.1:${srv.port}`;
          const r = await fetch(new Request(`${base}/index.html`));
          assertEquals([r.status, await r.text()], [200, "hello from ngtcp2\n"]);
          assertStringIncludes(r.headers.get("server") ?? "", "nghttp3");
          const b = await fetch(new Request(`${base}/big.bin`));
          assertEquals(new Uint8Array(await b.arrayBuffer()), srv.big);
          const nf = await fetch(new Request(`${base}/missing`));
          assertEquals(nf.status, 404);
          await nf.body?.cancel();
          const many = await Promise.all(
            Array.from({ length: 20 }, () => fetch(new Request(`${base}/index.html`)).then((x) => x.text())),
          );
          assert(many.every((t) => t === "hello from ngtcp2\n"));
          const post = await fetch(new Request(`${base}/index.html`, { method: "POST", body: "x".repeat(40_000) }));
          assertEquals(post.status, 200);
          await post.body?.cancel();
        } finally {
          fetch.close();
          await fetch.closed;
          conn.endpoint.close();
        }
      } finally {
        await srv.close();
      }
    },
  });
}
