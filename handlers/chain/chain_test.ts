import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { writeAll } from "../../transports/_io/write_all.ts";
import { Metadata } from "../../transports/metadata.ts";
import { tcpDialer } from "../../transports/tcp/mod.ts";
import { httpConnector } from "../http/mod.ts";
import { relayConnector } from "../relay/connector.ts";
import { RelayServer, silentLog } from "../relay/_testing.ts";
import { Chain, ChainError, ChainRouter } from "./chain.ts";
import { Hop } from "./hop.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const copts = { metadata: new Metadata({}), tls: { secure: false }, log: silentLog };

function relayChain(addr: string): Chain {
  const node = { name: "node-0", addr, connector: relayConnector(copts), dialer: tcpDialer() };
  return new Chain("chain-0", [new Hop("hop-0", [node])]);
}

Deno.test("ChainRouter.bind: relay BIND through the chain, tcp and udp", async () => {
  const server = new RelayServer({ metadata: { bind: true } });
  const router = new ChainRouter(relayChain(server.addr));
  try {
    const ln = await router.bind("tcp", "127.0.0.1:0");
    const port = (ln.addr as Deno.NetAddr).port;
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    const s = await ln.accept();
    assertEquals((s.remoteAddr as Deno.NetAddr).port, c.localAddr.port);
    await writeAll(c, enc("x"));
    const b = new Uint8Array(1);
    assertEquals(await s.read(b), 1);
    s.close();
    c.close();
    ln.close();

    const uln = await router.bind("udp4", "127.0.0.1:0", { udp: { ttl: 1000 } });
    const peer = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    await peer.send(enc("u"), uln.addr);
    const pc = await uln.accept();
    await pc.write(enc("back"));
    assertEquals(dec((await peer.receive())[0]), "back");
    pc.close();
    peer.close();
    uln.close();
  } finally {
    await server.handled(2);
    await server.close();
  }
});

Deno.test("ChainRouter.bind: without a chain it listens locally; a connector without bind fails", async () => {
  const local = new ChainRouter();
  const ln = await local.bind("tcp", "127.0.0.1:0");
  assert((ln.addr as Deno.NetAddr).port > 0);
  ln.close();
  const uln = await local.bind("udp", "127.0.0.1:0");
  uln.close();
  await assertRejects(() => local.bind("unix", "/tmp/x"), TypeError);

  const http = { name: "node-0", addr: "127.0.0.1:1", connector: httpConnector(copts), dialer: tcpDialer() };
  const router = new ChainRouter(new Chain("c", [new Hop("h", [http])]));
  await assertRejects(() => router.bind("tcp", ":0"), ChainError, "cannot bind");
});

Deno.test("ChainRouter.dial udp: direct socket, or through a relay node", async () => {
  const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const echoing = (async () => {
    for (;;) {
      try {
        const [d, from] = await echo.receive();
        await echo.send(d, from);
      } catch {
        return;
      }
    }
  })();
  const server = new RelayServer();
  try {
    const target = `127.0.0.1:${(echo.addr as Deno.NetAddr).port}`;
    for (const router of [new ChainRouter(), new ChainRouter(relayChain(server.addr))]) {
      const c = await router.dial("udp", target);
      await c.write(enc("ping"));
      const b = new Uint8Array(16);
      assertEquals(dec(b.subarray(0, (await c.read(b))!)), "ping");
      c.close();
    }
    await assertRejects(() => new ChainRouter().dial("ip", target), TypeError);
  } finally {
    await server.handled(1);
    await server.close();
    echo.close();
    await echoing;
  }
});
