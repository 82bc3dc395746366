/**
 * Interop of dost's grpc transport with real gRPC: python3-grpcio (gRPC
 * C-core) as client of the grpc listener and as server for the grpc dialer,
 * and nginx `grpc_pass` (plaintext and TLS on either side) in front of the
 * listener, with both dost's dialer and grpcio as clients.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { Logger } from "../../../transports/log.ts";
import { Metadata } from "../../../transports/metadata.ts";
import { netDial } from "../../../transports/tcp/mod.ts";
import type { ServerTLSConfig } from "../../../transports/types.ts";
import { generateCertificate } from "../../../transports/tls/mod.ts";
import { GrpcDialer, type GrpcListener, listenGrpc, parseDialerMetadata } from "../../../transports/grpc/mod.ts";
import { echoRoundTrip, pattern, serve, sha256 } from "../../../transports/ws/_testing.ts";
import { hasNginx, startNginx } from "../../e2e/_nginx.ts";

const PYTHON = "/usr/bin/python3";
const HERE = new URL(".", import.meta.url).pathname;
const dec = new TextDecoder();
const quiet = new Logger({}, { level: "fatal", sink: () => {} });

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}
const hasGrpcio = exists(PYTHON) && exists("/usr/lib/python3/dist-packages/grpc");

let certP: Promise<ServerTLSConfig> | undefined;
/** A CA-flagged self-signed certificate for localhost / 127.0.0.1 (grpcio verifies it). */
function tls(): Promise<ServerTLSConfig> {
  certP ??= generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], isCA: true });
  return certP;
}

async function certFiles(): Promise<{ dir: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "dost-grpc-peer-" });
  const cfg = await tls();
  await Deno.writeTextFile(`${dir}/cert.pem`, cfg.cert);
  await Deno.writeTextFile(`${dir}/key.pem`, cfg.key);
  return { dir, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

async function listen(md: Record<string, unknown> = {}): Promise<GrpcListener> {
  return (await listenGrpc({ addr: "127.0.0.1:0", metadata: new Metadata(md), tls, log: quiet })) as GrpcListener;
}

function addr(ln: { addr: Deno.Addr }): string {
  const a = ln.addr as Deno.NetAddr;
  return `${a.hostname}:${a.port}`;
}

interface Call {
  sent: string;
  received: string;
  bytes: number;
  code: string;
  details: string;
}

/** grpcio client: `calls` concurrent Tunnel calls of `count` chunks of `size` bytes. */
async function pyClient(target: string, args: string[] = []): Promise<Call[]> {
  const o = await new Deno.Command(PYTHON, {
    args: [HERE + "peer.py", "client", target, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  try {
    return JSON.parse(dec.decode(o.stdout)).calls;
  } catch {
    throw new Error(`peer.py client failed: ${dec.decode(o.stdout)}\n${dec.decode(o.stderr)}`);
  }
}

/** grpcio echo server; resolves to its port and a stopper. */
async function pyServer(args: string[] = []) {
  const child = new Deno.Command(PYTHON, {
    args: [HERE + "peer.py", "server", ...args],
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
    },
  };
}

for (const secure of [false, true]) {
  const mode = secure ? "TLS" : "plaintext";

  Deno.test({
    name: `interop grpc (${mode}): grpcio client against dost's listener, custom and wrong paths`,
    ignore: !hasGrpcio,
    async fn() {
      const files = await certFiles();
      const ln = await listen({ grpcInsecure: !secure });
      const custom = await listen({ grpcInsecure: !secure, path: "/proxy/stream" });
      const s1 = serve(ln);
      const s2 = serve(custom);
      const t = secure ? ["--tls", files.cert, "--authority", "localhost"] : [];
      try {
        const calls = await pyClient(addr(ln), [...t, "--calls", "3", "--count", "20", "--size", "70000"]);
        for (const c of calls) {
          assertEquals(c.code, "OK", c.details);
          assertEquals(c.received, c.sent);
          assertEquals(c.bytes, 20 * 70000);
        }
        const [ok] = await pyClient(addr(custom), [...t, "--path", "/proxy/stream"]);
        assertEquals([ok.code, ok.received === ok.sent], ["OK", true]);
        const [wrong] = await pyClient(addr(custom), t);
        assertEquals(wrong.code, "UNIMPLEMENTED");
        assertStringIncludes(wrong.details, "/GostTunel/Tunnel");
      } finally {
        await s1.stop();
        await s2.stop();
        await Deno.remove(files.dir, { recursive: true });
      }
    },
  });

  Deno.test({
    name: `interop grpc (${mode}): dost's dialer against a grpcio server`,
    ignore: !hasGrpcio,
    async fn() {
      const files = await certFiles();
      const server = await pyServer(secure ? ["--tls", files.cert, files.key, "--path", "/a/b"] : ["--path", "/a/b"]);
      const d = new GrpcDialer(
        parseDialerMetadata(new Metadata({ grpcInsecure: !secure, path: "/a/b", host: "localhost" })),
        { secure: false },
      );
      try {
        const data = pattern(5 << 20, 2);
        const conns = await Promise.all([0, 1].map(() => d.dial(`127.0.0.1:${server.port}`, netDial)));
        for (const h of await Promise.all(conns.map((c) => echoRoundTrip(c, data)))) {
          assertEquals(h, await sha256(data));
        }
        for (const c of conns) c.close();
      } finally {
        d.close();
        await server.stop();
        await Deno.remove(files.dir, { recursive: true });
      }
    },
  });
}

const NGINX_CASES = [
  { front: false, up: false },
  { front: false, up: true },
  { front: true, up: true },
  { front: true, up: false },
];

for (const c of NGINX_CASES) {
  const name = `${c.front ? "TLS" : "h2c"} front, grpc${c.up ? "s" : ""}:// upstream`;
  Deno.test({
    name: `interop grpc behind nginx grpc_pass (${name}): dost dialer and grpcio client`,
    ignore: !hasNginx || !hasGrpcio,
    async fn() {
      const files = await certFiles();
      const ln = await listen({ grpcInsecure: !c.up });
      const srv = serve(ln);
      const nginx = await startNginx({
        mode: "grpc",
        upstream: addr(ln),
        upstreamTls: c.up,
        tls: c.front ? await tls() : undefined,
      });
      const d = new GrpcDialer(parseDialerMetadata(new Metadata({ grpcInsecure: !c.front })), { secure: false });
      try {
        const data = pattern(8 << 20, 5);
        const conns = await Promise.all([0, 1, 2].map(() => d.dial(`127.0.0.1:${nginx.port}`, netDial)));
        for (const h of await Promise.all(conns.map((x) => echoRoundTrip(x, data)))) {
          assertEquals(h, await sha256(data));
        }
        for (const x of conns) x.close();
        const calls = await pyClient(
          `127.0.0.1:${nginx.port}`,
          [...(c.front ? ["--tls", files.cert, "--authority", "localhost"] : []), "--calls", "2", "--size", "50000"],
        );
        for (const call of calls) {
          assertEquals(call.code, "OK", call.details);
          assertEquals(call.received, call.sent);
        }
        const log = await nginx.accessLog();
        const lines = log.trim().split("\n");
        assertEquals(lines.length, 5, log);
        for (const l of lines) assertStringIncludes(l, "uri=/GostTunel/Tunnel status=200 proto=HTTP/2.0");
        assert(lines.every((l) => l.endsWith("grpc=0")), log);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nnginx error log:\n${await nginx.errorLog()}`);
      } finally {
        d.close();
        await nginx.close();
        await srv.stop();
        await Deno.remove(files.dir, { recursive: true });
      }
    },
  });
}
