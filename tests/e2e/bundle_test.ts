/**
 * The one-file bundle (`deno task bundle`, scripts/bundle.ts) runs on its
 * own: built into a temp directory, copied nowhere near the repo's
 * `deno.json`, and run with an empty `DENO_DIR` and an unreachable npm
 * registry, it prints its version and serves real traffic, including a TLS
 * hop whose self-signed certificate comes from the bundled `@peculiar/x509`.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { freePort, runDost, startDost } from "./_dost.ts";
import { startEcho } from "./_servers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Rejects with `what` if `p` has not settled within `ms`; calls `onTimeout` first (to unblock `p`). */
async function within<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} took over ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads from `conn` until `want` bytes arrived or EOF. */
async function readN(conn: Deno.Conn, want: number): Promise<Uint8Array> {
  const out = new Uint8Array(want);
  let got = 0;
  while (got < want) {
    const n = await conn.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return out.subarray(0, got);
}

/** Opens a CONNECT tunnel through the HTTP proxy on `proxyPort` to `target`, checks the 200, echoes `payload`. */
async function connectEcho(proxyPort: number, target: number, payload: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  try {
    return await within(
      (async () => {
        await conn.write(enc.encode(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: 127.0.0.1:${target}\r\n\r\n`));
        let head = "";
        const buf = new Uint8Array(1);
        // Byte by byte so nothing after the response head is consumed here.
        while (!head.endsWith("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) throw new Error(`Proxy closed during the CONNECT response: ${JSON.stringify(head)}`);
          head += String.fromCharCode(buf[0]);
        }
        assertMatch(head, /^HTTP\/1\.[01] 200 /);
        const [, echoed] = await Promise.all([conn.write(payload), readN(conn, payload.length)]);
        return echoed;
      })(),
      15_000,
      `CONNECT through 127.0.0.1:${proxyPort}`,
      () => conn.close(),
    );
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the timeout
    }
  }
}

Deno.test("e2e bundle: dist/dost.js built by scripts/bundle.ts runs from an empty directory", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "dost-bundle-test-" });
  const entry = `${dir}/dost.js`;
  // No deno.json, lockfile or npm cache to fall back on; any npm fetch fails.
  const env = { DENO_DIR: `${dir}/deno_dir`, NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/" };
  const echo = startEcho();
  try {
    await t.step("deno task bundle writes one executable file", async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", `${ROOT}scripts/bundle.ts`, "--out", entry, "--no-verify"],
        cwd: ROOT,
        stdin: "null",
        env: { NO_COLOR: "1" },
      }).output();
      assertEquals(out.code, 0, dec.decode(out.stderr));
      const st = await Deno.stat(entry);
      assert(st.isFile && st.size > 10_000, `bundle is ${st.size} bytes`);
      assert(((st.mode ?? 0) & 0o111) !== 0, "bundle is executable");
      const text = await Deno.readTextFile(entry);
      assert(text.startsWith("#!/usr/bin/env -S deno run "), "bundle starts with a shebang");
      assert(!/from\s*"(npm|jsr):|import\(\s*"(npm|jsr):/.test(text), "no npm: or jsr: imports are left in the bundle");
    });

    await t.step("-V prints the version", async () => {
      const r = await runDost(["-V"], { entry, cwd: dir });
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /^dost \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+ /);
    });

    await t.step("an HTTP proxy from the bundle carries a CONNECT tunnel and exits 0 on SIGTERM", async () => {
      const port = freePort();
      const dost = await startDost(["-L", `http://127.0.0.1:${port}`], { entry, cwd: dir, env });
      try {
        const payload = enc.encode("hello from the bundle\n".repeat(1000));
        assertEquals(await connectEcho(port, echo.port, payload), payload);
      } finally {
        assertEquals(await dost.stop("SIGTERM"), 0, dost.logs.join("\n"));
      }
    });

    await t.step("a relay+tls hop from the bundle (bundled x509 self-signed certificate)", async () => {
      const relay = freePort();
      const http = freePort();
      const server = await startDost(["-L", `relay+tls://127.0.0.1:${relay}`], { entry, cwd: dir, env });
      try {
        const client = await startDost(
          ["-L", `http://127.0.0.1:${http}`, "-F", `relay+tls://127.0.0.1:${relay}`],
          { entry, cwd: dir, env },
        );
        try {
          const payload = new Uint8Array(256 * 1024).map((_, i) => (i * 131) & 0xff);
          assertEquals(await connectEcho(http, echo.port, payload), payload);
        } finally {
          assertEquals(await client.stop(), 0, client.logs.join("\n"));
        }
      } finally {
        assertEquals(await server.stop(), 0, server.logs.join("\n"));
      }
    });
  } finally {
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
