/**
 * dost's ws/wss/mws/mwss listeners and dialers against a Go peer built on
 * the libraries GOST uses for these transports, gorilla/websocket and
 * xtaci/smux (smux versions 1 and 2), in both roles.
 *
 * The peer is built offline in GOPATH mode from Debian's packages
 * (golang-1.19-go, golang-github-gorilla-websocket-dev,
 * golang-github-xtaci-smux-dev):
 *
 * ```sh
 * GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$TMP/gocache" GOFLAGS= GOPROXY=off \
 *   /usr/lib/go-1.19/bin/go build -o "$TMP/peer" tests/interop/ws/peer.go
 * ```
 *
 * Overrides: `GO` (go binary), `WS_GOPATH` (a GOPATH holding both
 * libraries). Without them the tests are ignored, with a message saying why.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../../assert.ts";
import { Metadata } from "../../../transports/metadata.ts";
import { netDial } from "../../../transports/tcp/mod.ts";
import { listenWs, listenWss, parseDialerMetadata as wsDialerMd, WsDialer } from "../../../transports/ws/mod.ts";
import { listenMws, listenMwss, MwsDialer, parseDialerMetadata as mwsDialerMd } from "../../../transports/mws/mod.ts";
import { generateCertificate } from "../../../transports/tls/mod.ts";
import type { Listener } from "../../../transports/types.ts";
import { addrOf, echoRoundTrip, listenerOptions, pattern, serve, sha256 } from "../../../transports/ws/_testing.ts";

const GO = Deno.env.get("GO") ?? "/usr/lib/go-1.19/bin/go";
const GOPATH = Deno.env.get("WS_GOPATH") ?? "/usr/share/gocode";
const PEER_SRC = new URL("./peer.go", import.meta.url).pathname;
const MiB = 1024 * 1024;

function whyUnavailable(): string | null {
  try {
    Deno.statSync(GO);
  } catch {
    return `go not found at ${GO} (install golang-1.19-go or set GO)`;
  }
  for (
    const [lib, pkg] of [["gorilla/websocket/conn.go", "golang-github-gorilla-websocket-dev"], [
      "xtaci/smux/session.go",
      "golang-github-xtaci-smux-dev",
    ]]
  ) {
    try {
      Deno.statSync(`${GOPATH}/src/github.com/${lib}`);
    } catch {
      return `${lib} not found under ${GOPATH} (install ${pkg} or set WS_GOPATH)`;
    }
  }
  return null;
}

const unavailable = whyUnavailable();
if (unavailable) console.warn(`ws interop tests ignored: ${unavailable}`);

let built: Promise<{ peer: string; dir: string; cert: string; key: string }> | undefined;
/** Removed when the test module unloads. */
let builtDir: string | undefined;

/** Builds the peer once per run, and writes a certificate for its TLS server. */
function peerBuild(): Promise<{ peer: string; dir: string; cert: string; key: string }> {
  built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "dost-ws-interop-" });
    builtDir = dir;
    const peer = `${dir}/peer`;
    const { code, stderr } = await new Deno.Command(GO, {
      args: ["build", "-o", peer, PEER_SRC],
      env: { GO111MODULE: "off", GOPATH, GOCACHE: `${dir}/gocache`, GOFLAGS: "", GOPROXY: "off" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) throw new Error(`go build failed: ${new TextDecoder().decode(stderr)}`);
    const pair = await generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    await Deno.writeTextFile(`${dir}/cert.pem`, pair.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, pair.key);
    return { peer, dir, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  })();
  return built;
}

/** Line reader over a child's stdout. */
class Lines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  readonly all: string[] = [];

  constructor(stdout: ReadableStream<Uint8Array>) {
    this.#reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  async next(): Promise<string | null> {
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        this.all.push(line);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buf += value;
    }
  }

  /** Reads the rest (until the child exits). */
  async drain(): Promise<void> {
    while ((await this.next()) !== null);
  }
}

interface GoServer {
  addr: string;
  lines: Lines;
  stop(): Promise<void>;
}

async function startGoServer(opts: { mux?: boolean; tls?: boolean; version?: number }): Promise<GoServer> {
  const b = await peerBuild();
  const args = ["-mode", "server", "-version", String(opts.version ?? 1)];
  if (opts.mux) args.push("-mux");
  if (opts.tls) args.push("-tls", "-cert", b.cert, "-key", b.key);
  const child = new Deno.Command(b.peer, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const lines = new Lines(child.stdout);
  const first = await lines.next();
  const m = /^LISTEN (\S+)$/.exec(first ?? "");
  if (!m) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`peer server did not start: ${first}`);
  }
  let stopped: Promise<void> | undefined;
  return {
    addr: m[1],
    lines,
    stop() {
      stopped ??= (async () => {
        child.kill("SIGKILL");
        await child.status;
        await lines.drain();
      })();
      return stopped;
    },
  };
}

async function runGoClient(
  addr: string,
  opts: { mux?: boolean; tls?: boolean; version?: number; streams?: number; size?: number },
): Promise<string> {
  const b = await peerBuild();
  const args = ["-mode", "client", "-addr", addr, "-version", String(opts.version ?? 1)];
  if (opts.mux) args.push("-mux", "-streams", String(opts.streams ?? 1));
  if (opts.tls) args.push("-tls");
  args.push("-size", String(opts.size ?? MiB));
  const out = await new Deno.Command(b.peer, { args, stdout: "piped", stderr: "inherit" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

for (const tls of [false, true]) {
  const kind = tls ? "wss" : "ws";

  Deno.test({
    name: `interop ${kind}: dost dialer -> gorilla/websocket server, 5 MiB echoed; GOST's request line and headers`,
    ignore: unavailable !== null,
    async fn() {
      const go = await startGoServer({ tls });
      try {
        const d = new WsDialer(wsDialerMd(new Metadata({})), tls ? { secure: false } : undefined);
        const conn = await d.dial(go.addr, netDial);
        const data = pattern(5 * MiB, 3);
        assertEquals(await echoRoundTrip(conn, data), await sha256(data));
        conn.close();
        const req = await go.lines.next();
        assertEquals(req, `REQ path=/ws host=${go.addr} ua="Go-http-client/1.1"`);
      } finally {
        await go.stop();
      }
    },
  });

  Deno.test({
    name: `interop ${kind}: gorilla/websocket client -> dost listener, 5 MiB echoed`,
    ignore: unavailable !== null,
    async fn() {
      const ln: Listener = await (tls ? listenWss : listenWs)(listenerOptions({}));
      const srv = serve(ln);
      try {
        const out = await runGoClient(addrOf(ln), { tls, size: 5 * MiB });
        assertEquals(out, `OK streams=1 bytes=${5 * MiB}`);
        assertEquals(srv.accepted(), 1);
      } finally {
        await srv.stop();
      }
    },
  });
}

for (const tls of [false, true]) {
  for (const version of [1, 2]) {
    const kind = tls ? "mwss" : "mws";

    Deno.test({
      name: `interop ${kind} smux v${version}: dost dialer -> gorilla + xtaci/smux server, 20 streams on one WebSocket`,
      ignore: unavailable !== null,
      async fn() {
        const go = await startGoServer({ mux: true, tls, version });
        const d = new MwsDialer(
          mwsDialerMd(new Metadata({ "mux.version": version })),
          tls ? { secure: false } : undefined,
        );
        try {
          await Promise.all(Array.from({ length: 20 }, async (_, i) => {
            const conn = await d.dial(go.addr, netDial);
            const data = pattern(MiB + i, i + 1);
            assertEquals(await echoRoundTrip(conn, data, false), await sha256(data));
            conn.close();
          }));
          // 20 more, one after another, on the same session.
          for (let i = 0; i < 20; i++) {
            const conn = await d.dial(go.addr, netDial);
            assertEquals(await echoRoundTrip(conn, pattern(1000, i), false), await sha256(pattern(1000, i)));
            conn.close();
          }
          d.close();
          await go.stop();
          const reqs = go.lines.all.filter((l) => l.startsWith("REQ "));
          assertEquals(reqs.length, 1, "one WebSocket for all streams");
          assertMatch(reqs[0], /^REQ path=\/ws host=127\.0\.0\.1:\d+ ua="Go-http-client\/1\.1"$/);
        } finally {
          d.close();
          await go.stop();
        }
      },
    });

    Deno.test({
      name: `interop ${kind} smux v${version}: gorilla + xtaci/smux client -> dost listener, 16 streams x 1 MiB`,
      ignore: unavailable !== null,
      async fn() {
        const ln: Listener = await (tls ? listenMwss : listenMws)(listenerOptions({ "mux.version": version }));
        const srv = serve(ln);
        try {
          const out = await runGoClient(addrOf(ln), { mux: true, tls, version, streams: 16, size: MiB });
          assertEquals(out, `OK streams=16 bytes=${16 * MiB}`);
          assertEquals(srv.accepted(), 16);
        } finally {
          await srv.stop();
        }
      },
    });
  }
}

Deno.test({
  name: "interop: a gorilla client asking for the wrong path gets dost's 404",
  ignore: unavailable !== null,
  async fn() {
    const ln: Listener = await listenWs(listenerOptions({ path: "/other" }));
    const srv = serve(ln);
    try {
      const out = await runGoClient(addrOf(ln), { size: 10 });
      assert(out.startsWith("FAIL dial: websocket: bad handshake"), out);
      assertEquals(srv.accepted(), 0);
    } finally {
      await srv.stop();
    }
  },
});

globalThis.addEventListener("unload", () => {
  if (builtDir) Deno.removeSync(builtDir, { recursive: true });
});
