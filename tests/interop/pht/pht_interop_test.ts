/**
 * Interop of dost's PHT server with an independent client: client.py
 * (python3-requests, Debian) drives authorize, push and pull by hand as
 * both GOST client generations do, and sends bad requests; over pht and
 * phts. The server side is dost's listener with an echo handler that
 * half-closes after the client's close POST.
 *
 * @module
 */
import { assertEquals } from "../../assert.ts";
import { Logger } from "../../../transports/log.ts";
import { Metadata } from "../../../transports/metadata.ts";
import { closeQuietly, writeAll } from "../../../transports/_io/write_all.ts";
import { generateCertificate } from "../../../transports/tls/mod.ts";
import type { Conn, Listener, ListenerOptions } from "../../../transports/types.ts";
import { listenPht, listenPhts, type PhtListener } from "../../../transports/pht/mod.ts";

const PYTHON = "/usr/bin/python3";
const HERE = new URL(".", import.meta.url).pathname;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
const havePython = await exists(PYTHON) && await exists("/usr/lib/python3/dist-packages/requests");

function options(): ListenerOptions {
  return {
    addr: "127.0.0.1:0",
    metadata: new Metadata({ heartbeat: "300ms" }),
    tls: () => generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }),
    log: new Logger({}, { level: "error", sink: () => {} }),
  };
}

/** Echoes each session; half-closes at EOF. */
function serveEcho(ln: Listener) {
  const tasks = new Set<Promise<void>>();
  const conns = new Set<Conn>();
  const loop = (async () => {
    for (;;) {
      let c: Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      conns.add(c);
      const t = (async () => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await c.read(buf);
            if (n === null) break;
            await writeAll(c, buf.subarray(0, n));
          }
          await c.closeWrite();
        } catch {
          // closed
        } finally {
          closeQuietly(c);
          conns.delete(c);
        }
      })();
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  return {
    async stop() {
      ln.close();
      for (const c of conns) closeQuietly(c);
      await loop;
      await Promise.all([...tasks]);
      await (ln as PhtListener).done;
    },
  };
}

for (const scheme of ["pht", "phts"] as const) {
  Deno.test({
    name: `interop ${scheme}: python3-requests drives authorize/push/pull by hand (both generations, bad requests)`,
    ignore: !havePython,
    async fn() {
      const ln = await (scheme === "pht" ? listenPht : listenPhts)(options());
      const srv = serveEcho(ln);
      const { port } = ln.addr as Deno.NetAddr;
      try {
        const out = await new Deno.Command(PYTHON, {
          args: [`${HERE}client.py`, `${scheme === "pht" ? "http" : "https"}://127.0.0.1:${port}`, "--insecure"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assertEquals(out.code, 0, stderr);
        const results: Record<string, unknown> = JSON.parse(new TextDecoder().decode(out.stdout));
        const failed = Object.entries(results).filter(([, v]) => v !== true);
        assertEquals(failed, [], JSON.stringify(results, null, 1));
        assertEquals(Object.keys(results).length, 24, "every check ran");
      } finally {
        await srv.stop();
      }
    },
  });
}
