/**
 * Helpers shared by the HTTP/2 and gRPC end-to-end tests.
 *
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import { freePort, run, startDost } from "./_dost.ts";
import { curlWith, hasCurl } from "./_common.ts";
import { startOrigin } from "./_servers.ts";

export { hasCurl };
export const curl = curlWith();

/** Absolute-URI and CONNECT requests through the HTTP proxy on `port`, plus a 5 MB body. */
export async function checkProxy(port: number, originPort: number, what: string): Promise<void> {
  const url = `http://127.0.0.1:${originPort}/p`;
  assertEquals((await curl("-x", `http://127.0.0.1:${port}`, url)).stdout, "origin:/p\n200", `${what}: absolute URI`);
  assertEquals((await curl("-p", "-x", `http://127.0.0.1:${port}`, url)).stdout, "origin:/p\n200", `${what}: CONNECT`);
  const big = await run("curl", [
    "-s",
    "--max-time",
    "30",
    "-x",
    `http://127.0.0.1:${port}`,
    `http://127.0.0.1:${originPort}/bytes/5000000`,
  ]);
  assertEquals(big.bytes.length, 5_000_000, `${what}: 5 MB body`);
}

let tempDir: string | undefined;
let tempCount = 0;

/** Writes `text` to a temporary config file; returns its path. The folder goes when the test process ends. */
export async function configFile(text: string, ext = "yaml"): Promise<string> {
  if (!tempDir) {
    const dir = tempDir = await Deno.makeTempDir({ prefix: "dost-e2e-h2-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  }
  const path = `${tempDir}/config-${tempCount++}.${ext}`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** The seed's ":8443" / ":8000" addresses on loopback ports. */
export function substitute(yaml: string, server: number, client?: number): string {
  let out = yaml.replaceAll('":8443"', `"127.0.0.1:${server}"`).replaceAll("addr: :8443", `addr: 127.0.0.1:${server}`);
  if (client !== undefined) out = out.replaceAll('":8000"', `"127.0.0.1:${client}"`);
  return out;
}

/** The password (plain or Basic-encoded for `user`) appears in no log line. */
export function assertNoSecrets(logs: string[], secret: string): void {
  const all = logs.join("\n");
  assert(!all.includes(secret), "the password must never be logged");
  assert(!all.includes(btoa(`user:${secret}`)), "the encoded credentials must never be logged");
}

/**
 * Every proxy protocol over each transport: one server dost with a service
 * per (protocol, transport), one client dost with an HTTP front per pair,
 * each with its own chain. `forward` is the server-decides-the-target form.
 */
export async function protocolMatrix(transports: { name: string; query?: string }[]): Promise<void> {
  const origin = startOrigin();
  const protocols = ["http", "socks5", "relay", "auto", "forward"];
  const serverArgs: string[] = [];
  const clients: { label: string; args: string[]; port: number }[] = [];
  for (const t of transports) {
    for (const proto of protocols) {
      const p = freePort(), c = freePort();
      const q = t.query ? `?${t.query}` : "";
      if (proto === "forward") {
        serverArgs.push("-L", `${t.name}://127.0.0.1:${p}/127.0.0.1:${origin.port}${q}`);
        clients.push({
          label: `forward+${t.name}${q}`,
          port: c,
          args: ["-L", `tcp://127.0.0.1:${c}`, "-F", `forward+${t.name}://127.0.0.1:${p}${q}`],
        });
      } else {
        serverArgs.push("-L", `${proto}+${t.name}://u:pw@127.0.0.1:${p}${q}`);
        // The auto handler serves HTTP, SOCKS4 and SOCKS5; an http connector talks to it.
        const connector = proto === "auto" ? "http" : proto;
        clients.push({
          label: `${proto}+${t.name}${q}`,
          port: c,
          args: ["-L", `http://127.0.0.1:${c}`, "-F", `${connector}+${t.name}://u:pw@127.0.0.1:${p}${q}`],
        });
      }
    }
  }
  const server = await startDost(serverArgs);
  const started: Awaited<ReturnType<typeof startDost>>[] = [];
  try {
    for (const c of clients) started.push(await startDost(c.args));
    await Promise.all(clients.map(async (c) => {
      if (c.label.startsWith("forward+")) {
        // The client's TCP bytes reach the origin unchanged: a plain HTTP request to the client port.
        assertEquals((await curl(`http://127.0.0.1:${c.port}/fw`)).stdout, "origin:/fw\n200", c.label);
        return;
      }
      const url = `http://127.0.0.1:${origin.port}/m`;
      assertEquals((await curl("-x", `http://127.0.0.1:${c.port}`, url)).stdout, "origin:/m\n200", c.label);
      assertEquals((await curl("-p", "-x", `http://127.0.0.1:${c.port}`, url)).stdout, "origin:/m\n200", c.label);
    }));
  } finally {
    for (const d of started) await d.stop();
    await server.stop();
    await origin.close();
  }
}
