/**
 * dost as a user runs it over gRPC: the seed docs' command lines and YAML
 * (TLS and `grpcInsecure`), every proxy protocol and forwarding over grpc,
 * a CDN-style nginx `grpc_pass` between client and server, and grpcio as a
 * client of a forwarding grpc service.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { freePort, startDost } from "./_dost.ts";
import { startEcho, startOrigin } from "./_servers.ts";
import { seedYaml } from "./_common.ts";
import { assertNoSecrets, checkProxy, configFile, curl, hasCurl, protocolMatrix, substitute } from "./_h2_common.ts";
import { hasNginx, startNginx } from "./_nginx.ts";
import { generateCertificate } from "../../transports/tls/mod.ts";

const PYTHON = "/usr/bin/python3";
const PEER = new URL("../interop/grpc/peer.py", import.meta.url).pathname;
const hasGrpcio = (() => {
  try {
    Deno.statSync("/usr/lib/python3/dist-packages/grpc");
    Deno.statSync(PYTHON);
    return true;
  } catch {
    return false;
  }
})();

for (const insecure of [false, true]) {
  const q = insecure ? "?grpcInsecure=true" : "";
  Deno.test({
    name: `e2e seed grpc (CLI): -L relay+grpc://user:pass@:P${q} and -F relay+grpc://user:pass@:P${q}`,
    ignore: !hasCurl,
    async fn() {
      const origin = startOrigin();
      const p = freePort(), c = freePort(), bad = freePort();
      const server = await startDost(["-L", `relay+grpc://user:pass@127.0.0.1:${p}${q}`]);
      const client = await startDost([
        "-L",
        `http://127.0.0.1:${c}`,
        "-F",
        `relay+grpc://user:pass@127.0.0.1:${p}${q}`,
      ]);
      const wrong = await startDost([
        "-L",
        `http://127.0.0.1:${bad}`,
        "-F",
        `relay+grpc://user:nope@127.0.0.1:${p}${q}`,
      ]);
      try {
        await checkProxy(c, origin.port, `relay+grpc${q}`);
        // The relay answer is deferred (relay.md), so the failure shows as a cut connection, not a status.
        const denied = await curl("-x", `http://127.0.0.1:${bad}`, `http://127.0.0.1:${origin.port}/`);
        assert(!denied.stdout.includes("origin:"), "wrong relay credentials inside the gRPC call get nothing through");
      } finally {
        await wrong.stop();
        assertEquals(await client.stop(), 0);
        assertEquals(await server.stop(), 0);
        await origin.close();
      }
      assertNoSecrets([...server.logs, ...client.logs, ...wrong.logs], "pass");
      // (With grpcInsecure there is no TLS; config/build.ts still warns then, see the h2 work's notes.)
      if (!insecure) assert(client.logs.some((l) => l.includes("verification is off")), "the TLS warning");
    },
  });
}

Deno.test({
  name: "e2e seed grpc (YAML): relay over grpc, TLS and then grpcInsecure",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    try {
      for (const insecure of [false, true]) {
        const p = freePort(), c = freePort();
        const server = await startDost([
          "-C",
          await configFile(
            substitute(seedYaml(`gost -L relay+grpc://user:pass@:8443${insecure ? "?grpcInsecure=true" : ""}`), p),
          ),
        ], {
          services: 1,
        });
        const client = await startDost([
          "-C",
          await configFile(
            substitute(
              seedYaml(`gost -L http://:8000 -F relay+grpc://user:pass@:8443${insecure ? "?grpcInsecure=true" : ""}`),
              p,
              c,
            ),
          ),
        ], {
          services: 1,
        });
        try {
          await checkProxy(c, origin.port, `grpc yaml insecure=${insecure}`);
        } finally {
          await client.stop();
          await server.stop();
        }
      }
    } finally {
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e over grpc (TLS and grpcInsecure): http, socks5, relay, auto and forward",
  ignore: !hasCurl,
  async fn() {
    await protocolMatrix([{ name: "grpc" }, { name: "grpc", query: "grpcInsecure=true" }]);
  },
});

Deno.test({
  name: "e2e grpc behind nginx grpc_pass (TLS front, grpcs upstream, custom path), as behind a CDN",
  ignore: !hasCurl || !hasNginx,
  async fn() {
    const origin = startOrigin();
    const p = freePort(), c = freePort();
    const cert = await generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], isCA: true });
    const server = await startDost(["-L", `relay+grpc://user:pass@127.0.0.1:${p}?path=/edge/tunnel`]);
    const nginx = await startNginx({
      mode: "grpc",
      upstream: `127.0.0.1:${p}`,
      upstreamTls: true,
      tls: cert,
      path: "/edge/",
    });
    const client = await startDost([
      "-L",
      `http://127.0.0.1:${c}`,
      "-F",
      `relay+grpc://user:pass@127.0.0.1:${nginx.port}?path=/edge/tunnel&host=localhost`,
    ]);
    try {
      await checkProxy(c, origin.port, "relay+grpc via nginx");
      const log = await nginx.accessLog();
      assertStringIncludes(log, "uri=/edge/tunnel status=200 proto=HTTP/2.0 ct=application/grpc");
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await nginx.errorLog()}`);
    } finally {
      await client.stop();
      await nginx.close();
      await server.stop();
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e grpc forward: -L grpc://:P/:T serves grpcio clients (the server decides the target)",
  ignore: !hasGrpcio,
  async fn() {
    const echo = startEcho();
    const p = freePort();
    const server = await startDost(["-L", `grpc://127.0.0.1:${p}/127.0.0.1:${echo.port}?grpcInsecure=true`]);
    try {
      const o = await new Deno.Command(PYTHON, {
        args: [PEER, "client", `127.0.0.1:${p}`, "--calls", "4", "--count", "10", "--size", "40000"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const calls = JSON.parse(new TextDecoder().decode(o.stdout)).calls;
      assertEquals(calls.length, 4);
      for (const call of calls) {
        assertEquals(call.code, "OK", call.details);
        assertEquals(call.received, call.sent);
        assertEquals(call.bytes, 400_000);
      }
    } finally {
      await server.stop();
      await echo.close();
    }
    const done = server.logs.map((l) => JSON.parse(l)).filter((r) => r.msg?.includes(" >< "));
    assert(done.length === 4 && done.every((r) => r.inputBytes === 400_000), JSON.stringify(done));
  },
});
