/**
 * dost's smux against the real xtaci/smux, versions 1 and 2, both roles.
 *
 * The Go peer is built offline in GOPATH mode from Debian's packages
 * (golang-1.19-go, golang-github-xtaci-smux-dev); `.ci/run` can reproduce it:
 *
 * ```sh
 * GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$TMP/gocache" GOFLAGS= GOPROXY=off \
 *   /usr/lib/go-1.19/bin/go build -o "$TMP/peer" tests/interop/smux/peer.go
 * ```
 *
 * Overrides: `GO` (go binary), `SMUX_GOPATH` (a GOPATH holding
 * src/github.com/xtaci/smux). Without them the test is ignored, with a
 * message saying why.
 *
 * Run: `deno test --allow-all tests/interop/smux/`
 *
 * @module
 */
import { assert, assertEquals } from "../../assert.ts";
import { writeAll } from "../../../transports/_io/write_all.ts";
import { Session } from "../../../transports/_mux/session.ts";
import type { Stream } from "../../../transports/_mux/stream.ts";
import { pattern, readExactly, sha256, writeChunked } from "../../../transports/_mux/test_util.ts";

const GO = Deno.env.get("GO") ?? "/usr/lib/go-1.19/bin/go";
const GOPATH = Deno.env.get("SMUX_GOPATH") ?? "/usr/share/gocode";
const PEER_SRC = new URL("./peer.go", import.meta.url).pathname;
const MiB = 1024 * 1024;

function whyUnavailable(): string | null {
  try {
    Deno.statSync(GO);
  } catch {
    return `go not found at ${GO} (install golang-1.19-go or set GO)`;
  }
  try {
    Deno.statSync(`${GOPATH}/src/github.com/xtaci/smux/session.go`);
  } catch {
    return `xtaci/smux not found under ${GOPATH} (install golang-github-xtaci-smux-dev or set SMUX_GOPATH)`;
  }
  return null;
}

const unavailable = whyUnavailable();
if (unavailable) console.warn(`smux interop test ignored: ${unavailable}`);

async function buildPeer(dir: string): Promise<string> {
  const out = `${dir}/peer`;
  const { code, stderr } = await new Deno.Command(GO, {
    args: ["build", "-o", out, PEER_SRC],
    env: { GO111MODULE: "off", GOPATH, GOCACHE: `${dir}/gocache`, GOFLAGS: "", GOPROXY: "off" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`go build failed: ${new TextDecoder().decode(stderr)}`);
  return out;
}

/** Line reader over a child's stdout. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
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

  /** Reads to EOF; returns every line seen. */
  async rest(): Promise<string[]> {
    while (await this.next() !== null) {
      // collect
    }
    return this.all;
  }
}

function spawnPeer(peer: string, args: string[]): { child: Deno.ChildProcess; out: Lines } {
  const child = new Deno.Command(peer, { args, stdout: "piped", stderr: "inherit" }).spawn();
  return { child, out: new Lines(child.stdout) };
}

/** Writes `data` while reading the echo, checks it, then FINs and expects the peer's FIN. */
async function roundTrip(s: Stream, data: Uint8Array, chunk: number): Promise<void> {
  const [, got] = await Promise.all([writeChunked(s, data, chunk), readExactly(s, data.length)]);
  assertEquals(await sha256(got), await sha256(data));
  await s.closeWrite();
  assertEquals(await s.read(new Uint8Array(16)), null); // Go's io.Copy ended and closed
  s.close();
}

/** Echoes every accepted stream until EOF; resolves with the stream count when the session dies. */
async function echo(session: Session): Promise<number> {
  let count = 0;
  const jobs: Promise<void>[] = [];
  for (;;) {
    let s: Stream;
    try {
      s = await session.accept();
    } catch {
      break;
    }
    count++;
    jobs.push((async () => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await s.read(buf);
          if (n === null) break;
          await writeAll(s, buf.subarray(0, n));
        }
      } finally {
        s.close();
      }
    })());
  }
  await Promise.allSettled(jobs);
  return count;
}

Deno.test({
  name: "smux interop with xtaci/smux",
  ignore: unavailable !== null,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "dost-smux-" });
    try {
      const peer = await buildPeer(dir);

      for (const version of [1, 2]) {
        await t.step(`v${version}: dost client -> go server (1 x 32 MiB, then 8 x 2 MiB concurrent)`, async () => {
          const { child, out } = spawnPeer(peer, ["-mode", "server", "-version", String(version)]);
          const listen = (await out.next()) ?? "";
          assert(listen?.startsWith("LISTEN "), `peer said ${listen}`);
          const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          const session = new Session(conn, { client: true, version });
          const big = await session.open();
          assertEquals(big.id, 3);
          await roundTrip(big, pattern(32 * MiB, 11), 256 * 1024);
          await Promise.all(Array.from({ length: 8 }, async (_, i) => {
            const s = await session.open();
            await roundTrip(s, pattern(2 * MiB + i * 777, i + 20), 10_000 + i * 3333);
          }));
          session.close();
          await session.done;
          const lines = await out.rest();
          const status = await child.status;
          assertEquals(status.code, 0, lines.join("\n"));
          const total = 32 * MiB + Array.from({ length: 8 }, (_, i) => 2 * MiB + i * 777).reduce((a, b) => a + b);
          assertEquals(lines.at(-1), `DONE sessions=1 streams=9 bytes=${total}`);
        });

        await t.step(`v${version}: go client -> dost server (8 x 4 MiB concurrent)`, async () => {
          const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const args = ["-mode", "client", "-version", String(version), "-streams", "8", "-size", String(4 * MiB)];
          const { child, out } = spawnPeer(peer, [...args, "-addr", `127.0.0.1:${ln.addr.port}`]);
          const conn = await ln.accept();
          ln.close();
          const session = new Session(conn, { client: false, version });
          const echoed = echo(session);
          const lines = await out.rest();
          const status = await child.status;
          assertEquals(status.code, 0, lines.join("\n"));
          assertEquals(lines.at(-1), `OK streams=8 bytes=${8 * 4 * MiB}`);
          // The Go client closed its session: ours ends on transport EOF.
          await session.done;
          assertEquals(await echoed, 8);
        });
      }

      await t.step("keepalive NOPs are accepted both ways (100 ms interval, 300 ms timeout, idle 1 s)", async () => {
        const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const args = ["-mode", "client", "-version", "2", "-streams", "2", "-size", "100000"];
        const { child, out } = spawnPeer(peer, [
          ...args,
          ...["-keepalive", "100ms", "-idle", "1s", "-addr", `127.0.0.1:${ln.addr.port}`],
        ]);
        const conn = await ln.accept();
        ln.close();
        const session = new Session(conn, { client: false, version: 2, keepaliveInterval: 100, keepaliveTimeout: 300 });
        const echoed = echo(session);
        const lines = await out.rest();
        const status = await child.status;
        assertEquals(status.code, 0, lines.join("\n"));
        assertEquals(lines.at(-1), "OK streams=2 bytes=200000");
        await session.done;
        assertEquals(await echoed, 2);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
