/**
 * Scaffolding shared by the end-to-end tests: curl through a client dost,
 * seed ports moved to free loopback ports, seed YAML looked up and run with
 * `-C`, and the standard traffic check through an HTTP proxy port.
 *
 * @module
 */
import { assertEquals } from "../assert.ts";
import { type DostProcess, freePort, hasCommand, run, startDost } from "./_dost.ts";
import { SEED_CASES, shellSplit } from "../fixtures/config/seeds.ts";

export const hasCurl = hasCommand("curl");

/** The result of {@linkcode run}. */
export type RunResult = Awaited<ReturnType<typeof run>>;
/** curl with `-s -S -o - -w "\n%{http_code}"` before `args`: the body, a newline, then the status code. */
export type Curl = (...args: string[]) => Promise<RunResult>;

export interface CurlOptions {
  /** curl's `--max-time`, in seconds. @default 15 */
  maxTime?: number;
  /** The {@linkcode run} timeout; `run`'s own default when left out. */
  timeoutMs?: number;
}

/** A {@linkcode Curl} with the given time limits. */
export function curlWith(o: CurlOptions = {}): Curl {
  const base = ["-s", "-S", "-o", "-", "-w", "\n%{http_code}", "--max-time", String(o.maxTime ?? 15)];
  const opts = o.timeoutMs === undefined ? undefined : { timeoutMs: o.timeoutMs };
  return async (...args) => await run("curl", [...base, ...args], opts);
}

/**
 * Moves a seed's ports to free loopback ports, consistently within one
 * scenario (a server and its client agree on `:8443`). Rewrites `:PORT` after
 * `//`, `@` or `/` in command lines and `addr: :PORT` in YAML.
 */
export class Ports {
  readonly #map = new Map<string, number>();
  port(seedPort: string): number {
    let p = this.#map.get(seedPort);
    if (p === undefined) {
      p = freePort();
      this.#map.set(seedPort, p);
    }
    return p;
  }
  args(cmd: string): string[] {
    const args = shellSplit(cmd);
    assertEquals(args[0], "gost");
    return args.slice(1).map((a) => a.replace(/(?<=\/\/|@|\/):(\d{2,5})\b/g, (_, p) => `127.0.0.1:${this.port(p)}`));
  }
  yaml(y: string): string {
    return y.replace(/addr: "?:(\d{2,5})"?/g, (_, p) => `addr: 127.0.0.1:${this.port(p)}`);
  }
}

/** The seed's YAML for `cmd`. */
export function seedYaml(cmd: string): string {
  const c = SEED_CASES.find((s) => s.cmd === cmd);
  if (!c) throw new Error(`no seed case for ${cmd}`);
  return c.yaml;
}

/** Writes `yaml` to a temp file (directory named `prefix…`) and starts dost with `-C` on it. */
export async function startYaml(
  yaml: string,
  extra: string[] = [],
  prefix = "dost-e2e-",
): Promise<DostProcess & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.writeTextFile(`${dir}/gost.yaml`, yaml);
  const services = (yaml.match(/^- name: service-/gm) ?? []).length;
  try {
    const p = await startDost(["-C", `${dir}/gost.yaml`, ...extra], { services });
    return Object.assign(p, { dir });
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
}

/** Absolute URI, CONNECT, and 3 MB through the client's HTTP proxy port (using `curl`); all must arrive intact. */
export async function assertTraffic(curl: Curl, proxyPort: number, originPort: number, tag: string): Promise<void> {
  const proxy = `http://127.0.0.1:${proxyPort}`;
  const url = `http://127.0.0.1:${originPort}/${tag}`;
  assertEquals((await curl("-x", proxy, url)).stdout, `origin:/${tag}\n200`, `${tag}: absolute URI`);
  assertEquals((await curl("-p", "-x", proxy, url)).stdout, `origin:/${tag}\n200`, `${tag}: CONNECT`);
  const big = await run("curl", [
    "-s",
    "--max-time",
    "30",
    "-x",
    proxy,
    `http://127.0.0.1:${originPort}/bytes/3000000`,
  ]);
  assertEquals(big.bytes.length, 3_000_000, `${tag}: 3 MB`);
}

/** The client's HTTP port: the first `-L http://:PORT` of its command line. */
export function clientPort(ports: Ports, client: string): number {
  const m = /-L http:\/\/:(\d+)/.exec(client);
  if (!m) throw new Error(`client has no -L http://: ${client}`);
  return ports.port(m[1]);
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Opens a CONNECT tunnel to `127.0.0.1:target` through the HTTP proxy on `proxy`; fails unless it gets a 200. */
export async function openTunnel(proxy: number, target: number): Promise<Deno.TcpConn> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy });
  await c.write(enc.encode(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: x\r\n\r\n`));
  const buf = new Uint8Array(1024);
  const n = await c.read(buf);
  const head = dec.decode(buf.subarray(0, n ?? 0));
  if (!/^HTTP\/1\.[01] 200/.test(head)) {
    c.close();
    throw new Error(`CONNECT through ${proxy} failed: ${JSON.stringify(head)}`);
  }
  return c;
}

/** True when `text` written to an echoing tunnel comes back whole. */
export async function echoes(c: Deno.TcpConn, text: string): Promise<boolean> {
  try {
    await c.write(enc.encode(text));
    const buf = new Uint8Array(text.length);
    let got = 0;
    while (got < text.length) {
      const n = await c.read(buf.subarray(got));
      if (n === null) return false;
      got += n;
    }
    return dec.decode(buf) === text;
  } catch {
    return false;
  }
}
