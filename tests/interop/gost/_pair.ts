/**
 * Helpers the gost interop tests share: start gost or dost, run a step with
 * processes stopped in reverse order, serve a known body from an HTTP origin
 * and check that curl fetched all of it, through a server/client pair.
 */
import { assertEquals } from "../../assert.ts";
import { freePort, run, startDost } from "../../e2e/_dost.ts";
import { startGost } from "../../e2e/_gost.ts";
import { sha256 } from "../../../transports/_testing.ts";

export type Impl = "dost" | "gost";
/** Server and client implementations, both ways round. */
export const BOTH: [server: Impl, client: Impl][] = [["gost", "dost"], ["dost", "gost"]];
export type Stop = () => Promise<unknown>;

/** Starts gost or dost and waits for `services` "listening on" lines (0: a client with no local port, e.g. rtcp). */
export async function start(impl: Impl, args: string[], services = 1): Promise<Stop> {
  if (impl === "gost") return (await startGost(args, services)).stop;
  // A gost PHT client keeps its session open: a short grace keeps the stop quick.
  const p = await startDost(args, { services, env: { DOST_SHUTDOWN_GRACE: "1s" } });
  return () => p.stop();
}

/** Runs `fn` with processes started in order, stopping them in reverse order afterwards. */
export async function withProcs(starts: (() => Promise<Stop>)[], fn: () => Promise<void>): Promise<void> {
  const stops: Stop[] = [];
  try {
    for (const s of starts) stops.push(await s());
    await fn();
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

/** A body of `size` bytes with a known pattern, and its SHA-256. */
export interface Body {
  bytes: Uint8Array<ArrayBuffer>;
  hash: string;
}

export async function makeBody(size: number): Promise<Body> {
  const bytes = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
  return { bytes, hash: await sha256(bytes) };
}

/** Runs `fn` with an HTTP origin on loopback that answers every request with `body`. */
export async function withOrigin(body: Body, fn: (port: number) => Promise<void>): Promise<void> {
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body.bytes));
  try {
    await fn(origin.addr.port);
  } finally {
    await origin.shutdown();
  }
}

/** Fetches `url` with curl (through `proxy` when given) and checks that the whole body arrived. */
export async function fetchChecked(body: Body, url: string, proxy?: string): Promise<void> {
  const r = await run("curl", ["-s", "--max-time", "60", ...(proxy ? ["-x", proxy] : []), url]);
  assertEquals(r.bytes.length, body.bytes.length, `curl exit ${r.code}: ${r.stderr}`);
  assertEquals(await sha256(r.bytes), body.hash);
}

/** A server on `serverUrl` and a client `-L http://… -F nodeUrl`; `fn` gets the client's proxy URL. */
export function proxyPair(
  server: Impl,
  client: Impl,
  serverUrl: (port: number) => string,
  nodeUrl: (port: number) => string,
  fn: (proxy: string) => Promise<void>,
): Promise<void> {
  const [s, c] = [freePort(), freePort()];
  return withProcs(
    [() => start(server, ["-L", serverUrl(s)]), () => start(client, ["-L", `http://127.0.0.1:${c}`, "-F", nodeUrl(s)])],
    () => fn(`http://127.0.0.1:${c}`),
  );
}
