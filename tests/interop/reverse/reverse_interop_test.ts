/**
 * dost's reverse tunnels against an independent Go implementation built on
 * the real xtaci/smux (`peer.go`), in both roles: the Go peer as the rtcp
 * client (relay BIND, SOCKS5 MBIND; smux server) against a dost server, and
 * as the relay server with bind (smux client) against a dost rtcp client.
 * curl fetches a local origin through the bound port each time.
 *
 * The peer is built offline in GOPATH mode from Debian's packages
 * (golang-1.19-go, golang-github-xtaci-smux-dev), as in tests/interop/smux.
 * Overrides: `GO`, `SMUX_GOPATH`. Without them the test is ignored.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../../assert.ts";
import { freePort, hasCommand, run, startDost } from "../../e2e/_dost.ts";
import { startOrigin } from "../../e2e/_servers.ts";

const GO = Deno.env.get("GO") ?? "/usr/lib/go-1.19/bin/go";
const GOPATH = Deno.env.get("SMUX_GOPATH") ?? "/usr/share/gocode";
const PEER_SRC = new URL("./peer.go", import.meta.url).pathname;

function whyUnavailable(): string | null {
  if (!hasCommand(GO)) return `go not found at ${GO} (install golang-1.19-go or set GO)`;
  if (!hasCommand(`${GOPATH}/src/github.com/xtaci/smux/session.go`)) {
    return `xtaci/smux not found under ${GOPATH} (install golang-github-xtaci-smux-dev or set SMUX_GOPATH)`;
  }
  if (!hasCommand("curl")) return "curl not found";
  return null;
}
const unavailable = whyUnavailable();
if (unavailable) console.warn(`reverse interop test ignored: ${unavailable}`);

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

/** Spawns the peer and collects its stdout lines. */
function spawn(peer: string, args: string[]) {
  const child = new Deno.Command(peer, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const lines: string[] = [];
  const pump = (async () => {
    let carry = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      carry += chunk;
      const parts = carry.split("\n");
      carry = parts.pop()!;
      lines.push(...parts);
    }
  })();
  return {
    lines,
    async waitFor(re: RegExp, ms = 15_000): Promise<string> {
      const until = Date.now() + ms;
      for (;;) {
        const l = lines.find((x) => re.test(x));
        if (l) return l;
        if (Date.now() > until) throw new Error(`peer never printed ${re}: ${lines.join(" | ")}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await child.status;
      await pump;
    },
  };
}

const CURL = ["-s", "-S", "--max-time", "10"];

Deno.test({
  name: "reverse interop with an xtaci/smux peer: relay BIND and SOCKS5 MBIND, both roles",
  ignore: unavailable !== null,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    const origin = startOrigin();
    try {
      const peer = await buildPeer(dir);

      for (const proto of ["relay", "socks5"]) {
        await t.step(`Go rtcp client (${proto}) → dost server`, async () => {
          const s = freePort(), bound = freePort();
          const server = await startDost(["-L", `${proto}://127.0.0.1:${s}?bind=true`]);
          const client = spawn(peer, [
            "-mode",
            "client",
            "-proto",
            proto,
            "-server",
            `127.0.0.1:${s}`,
            "-bind",
            `127.0.0.1:${bound}`,
            "-target",
            `127.0.0.1:${origin.port}`,
          ]);
          try {
            assertMatch(await client.waitFor(/^BOUND /), new RegExp(`^BOUND 127\\.0\\.0\\.1:${bound}$`));
            for (const path of ["/a", "/b"]) {
              assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${bound}${path}`])).stdout, `origin:${path}`);
            }
            assertMatch(await client.waitFor(/^PEER /), /^PEER 127\.0\.0\.1:\d+$/);
          } finally {
            await client.stop();
            await server.stop("SIGKILL");
          }
        });
      }

      await t.step("dost rtcp client → Go relay server (smux client, header frames)", async () => {
        const server = spawn(peer, ["-mode", "server"]);
        try {
          const addr = (await server.waitFor(/^LISTEN /)).slice(7);
          const bound = freePort();
          const client = await startDost([
            "-L",
            `rtcp://127.0.0.1:${bound}/127.0.0.1:${origin.port}`,
            "-F",
            `relay://${addr}`,
          ]);
          try {
            await server.waitFor(new RegExp(`^BOUND 127\\.0\\.0\\.1:${bound}$`));
            assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${bound}/go`])).stdout, "origin:/go");
            const many = Array.from({ length: 10 }, (_, i) => `http://127.0.0.1:${bound}/m${i}`);
            const r = await run("curl", [...CURL, "-Z", "-H", "Connection: close", ...many]);
            for (let i = 0; i < 10; i++) assertMatch(r.stdout, new RegExp(`origin:/m${i}(?!\\d)`));
          } finally {
            await client.stop("SIGKILL");
          }
        } finally {
          await server.stop();
        }
      });
    } finally {
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
