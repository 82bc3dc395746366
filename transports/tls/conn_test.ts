import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { type ClientTLSConfig, ClosedError, type Conn, HandshakeError, type ServerTLSConfig } from "../types.ts";
import { writeAll } from "../_io/write_all.ts";
import { generateCertificate } from "./cert.ts";
import { dialTls, isDenoTcpConn, NativeTlsConn, NodeTlsConn, tlsClient, type TlsConn, tlsServer } from "./conn.ts";
import { netDial } from "../tcp/dial.ts";
import { dec, drain, enc, memoryPair, readAll, sendPattern } from "./_test_util.ts";

const selfSigned = await generateCertificate(); // GOST's default: CN=gost.run
const ca = await generateCertificate({ commonName: "Test CA", isCA: true });
const issued = await generateCertificate({ commonName: "server.test", dnsNames: ["server.test"], issuer: ca });
const clientCert = await generateCertificate({ commonName: "client", issuer: ca });
const strangerCA = await generateCertificate({ commonName: "Other CA", isCA: true });
const strangerClient = await generateCertificate({ commonName: "client", issuer: strangerCA });

/** Runs both handshakes over an in-memory pair; returns [client, server] or the errors. */
async function handshakePair(
  srvCfg: ServerTLSConfig,
  cliCfg: ClientTLSConfig,
): Promise<{ client?: TlsConn; server?: TlsConn; clientErr?: unknown; serverErr?: unknown }> {
  const [a, b] = memoryPair();
  const [c, s] = await Promise.allSettled([tlsClient(a, cliCfg, { timeout: 5000 }), tlsServer(b, srvCfg)]);
  return {
    client: c.status === "fulfilled" ? c.value : undefined,
    server: s.status === "fulfilled" ? s.value : undefined,
    clientErr: c.status === "rejected" ? c.reason : undefined,
    serverErr: s.status === "rejected" ? s.reason : undefined,
  };
}

function closeAll(...conns: (Conn | undefined)[]) {
  for (const c of conns) c?.close();
}

Deno.test("tls over an in-memory conn: hello/world, half-close both ways, ALPN", async () => {
  const [a, b] = memoryPair();
  assert(!isDenoTcpConn(a));
  const [client, server] = await Promise.all([
    tlsClient(a, { secure: false, serverName: "gost.run", alpn: ["h2", "http/1.1"] }),
    tlsServer(b, { ...selfSigned, alpn: ["http/1.1"] }),
  ]);
  try {
    assertEquals(client.alpnProtocol, "http/1.1");
    assertEquals(server.alpnProtocol, "http/1.1");
    assertEquals(client.localAddr, a.localAddr);
    await writeAll(client, enc("hello"));
    await client.closeWrite();
    assertEquals(dec(await readAll(server)), "hello");
    await writeAll(server, enc("world"));
    await server.closeWrite();
    assertEquals(dec(await readAll(client)), "world");
  } finally {
    closeAll(client, server);
  }
});

Deno.test("tls inside tls: 4 MiB each way through two layers", async () => {
  const [a, b] = memoryPair();
  const [outerC, outerS] = await Promise.all([tlsClient(a, { secure: false }), tlsServer(b, selfSigned)]);
  const [innerC, innerS] = await Promise.all([
    tlsClient(outerC, { secure: false, serverName: "inner" }),
    tlsServer(outerS, issued),
  ]);
  try {
    const size = 4 << 20;
    const [sentC, sentS, gotS, gotC] = await Promise.all([
      sendPattern(innerC, size, 7),
      sendPattern(innerS, size, 13),
      drain(innerS),
      drain(innerC),
    ]);
    assertEquals(gotS, sentC);
    assertEquals(gotC, sentS);
  } finally {
    closeAll(innerC, innerS, outerC, outerS);
  }
});

Deno.test("secure=true rejects GOST's self-signed certificate; secure=false accepts it", async () => {
  const bad = await handshakePair(selfSigned, { secure: true, serverName: "gost.run" });
  assert(bad.clientErr instanceof HandshakeError, String(bad.clientErr));
  assertStringIncludes((bad.clientErr as Error).message, "TLS handshake with");
  closeAll(bad.server);

  const ok = await handshakePair(selfSigned, { secure: false, serverName: "anything.example" });
  assert(ok.client && ok.server, String(ok.clientErr ?? ok.serverErr));
  closeAll(ok.client, ok.server);
});

Deno.test("secure=true with a CA verifies chain and host name", async () => {
  const good = await handshakePair(issued, { secure: true, serverName: "server.test", ca: ca.cert });
  assert(good.client && good.server, String(good.clientErr ?? good.serverErr));
  closeAll(good.client, good.server);

  const wrongName = await handshakePair(issued, { secure: true, serverName: "evil.test", ca: ca.cert });
  assert(wrongName.clientErr instanceof HandshakeError, "host name is checked");
  closeAll(wrongName.server);
});

Deno.test("ca with secure=false pins the chain but not the host name", async () => {
  const pinned = await handshakePair(issued, { secure: false, serverName: "not-the-name.test", ca: ca.cert });
  assert(pinned.client && pinned.server, String(pinned.clientErr ?? pinned.serverErr));
  closeAll(pinned.client, pinned.server);

  const stranger = await handshakePair(selfSigned, { secure: false, serverName: "gost.run", ca: ca.cert });
  assert(stranger.clientErr instanceof HandshakeError, "a certificate from another CA fails");
  closeAll(stranger.server);
});

Deno.test("server ca requires a client certificate signed by it", async () => {
  const srv: ServerTLSConfig = { ...selfSigned, ca: ca.cert };
  const none = await handshakePair(srv, { secure: false });
  assert(none.serverErr instanceof HandshakeError, "no client certificate must fail");
  closeAll(none.client);

  const wrong = await handshakePair(srv, { secure: false, cert: strangerClient.cert, key: strangerClient.key });
  assert(wrong.serverErr instanceof HandshakeError, "a certificate from another CA must fail");
  assertStringIncludes((wrong.serverErr as Error).message, "not signed by a trusted CA");
  closeAll(wrong.client);

  const good = await handshakePair(srv, { secure: false, cert: clientCert.cert, key: clientCert.key });
  assert(good.client && good.server, String(good.clientErr ?? good.serverErr));
  try {
    await writeAll(good.client, enc("ping"));
    const buf = new Uint8Array(8);
    assertEquals(dec(buf.subarray(0, (await good.server.read(buf))!)), "ping");
  } finally {
    closeAll(good.client, good.server);
  }
});

Deno.test("handshake timeout and abort close the inner conn", async () => {
  const [a, b] = memoryPair();
  const t0 = Date.now();
  const err = await assertRejects(() => tlsServer(a, selfSigned, { timeout: 150 }), HandshakeError, "timed out");
  assert(Date.now() - t0 < 2000);
  assert(err.cause !== undefined);
  await assertRejects(() => a.read(new Uint8Array(1)), ClosedError);
  b.close();

  const [c, d] = memoryPair();
  const ac = new AbortController();
  const p = tlsClient(c, { secure: false }, { signal: ac.signal });
  ac.abort(new Error("shutting down"));
  await assertRejects(() => p, HandshakeError, "shutting down");
  d.close();
});

Deno.test("garbage instead of a ClientHello fails with HandshakeError", async () => {
  const [a, b] = memoryPair();
  const p = tlsServer(a, selfSigned);
  await writeAll(b, enc("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await assertRejects(() => p, HandshakeError);
  b.close();
});

Deno.test("backpressure: a writer stalls when the reader stops reading", async () => {
  const [a, b] = memoryPair(64 * 1024);
  const [client, server] = await Promise.all([tlsClient(a, { secure: false }), tlsServer(b, selfSigned)]);
  try {
    const chunk = new Uint8Array(64 * 1024);
    let written = 0;
    const writer = (async () => {
      while (written < 64 << 20) {
        await client.write(chunk);
        written += chunk.length;
      }
    })().catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    assert(written < 8 << 20, `writer should stall, but wrote ${written} bytes nobody read`);
    // Reading resumes the flow.
    const before = written;
    const buf = new Uint8Array(256 * 1024);
    for (let got = 0; got < 4 << 20;) got += (await server.read(buf))!;
    await new Promise((r) => setTimeout(r, 50));
    assert(written > before, "writer resumes once the reader reads");
    client.close();
    server.close();
    await writer;
  } finally {
    closeAll(client, server);
  }
});

Deno.test("close(): pending read fails, later calls fail, close twice is fine", async () => {
  const [a, b] = memoryPair();
  const [client, server] = await Promise.all([tlsClient(a, { secure: false }), tlsServer(b, selfSigned)]);
  const pending = client.read(new Uint8Array(10));
  client.close();
  client.close();
  await assertRejects(() => pending, ClosedError);
  await assertRejects(() => client.write(enc("x")), ClosedError);
  // The peer sees the end of the stream.
  assertEquals(await server.read(new Uint8Array(10)), null);
  server.close();
});

Deno.test("write after closeWrite fails; the peer's answer still arrives", async () => {
  const [a, b] = memoryPair();
  const [client, server] = await Promise.all([tlsClient(a, { secure: false }), tlsServer(b, selfSigned)]);
  try {
    await client.closeWrite();
    await assertRejects(() => client.write(enc("late")), Deno.errors.BrokenPipe);
    assertEquals(await server.read(new Uint8Array(4)), null);
    await writeAll(server, enc("answer"));
    await server.closeWrite();
    assertEquals(dec(await readAll(client)), "answer");
  } finally {
    closeAll(client, server);
  }
});

Deno.test("NativeTlsConn: Deno TLS conns as TlsConn, half-close, ALPN", async () => {
  const ipCert = await generateCertificate({
    commonName: "127.0.0.1",
    dnsNames: [],
    ipAddresses: ["127.0.0.1"],
    issuer: ca,
  });
  const ln = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...ipCert, alpnProtocols: ["x"] });
  try {
    const [c, s] = await Promise.all([
      Deno.connectTls({ hostname: "127.0.0.1", port: ln.addr.port, caCerts: [ca.cert], alpnProtocols: ["x"] }),
      ln.accept(),
    ]);
    const [ci, si] = await Promise.all([c.handshake(), s.handshake()]);
    const client = new NativeTlsConn(c, ci.alpnProtocol);
    const server = new NativeTlsConn(s, si.alpnProtocol);
    try {
      assertEquals(client.alpnProtocol, "x");
      assertEquals(client.remoteAddr, c.remoteAddr);
      await writeAll(client, enc("hello"));
      await client.closeWrite();
      assertEquals(dec(await readAll(server)), "hello");
      await writeAll(server, enc("world"));
      server.close(); // no close_notify half-close: reads as end of stream
      assertEquals(dec(await readAll(client)), "world");
    } finally {
      client.close();
      server.close();
    }
  } finally {
    ln.close();
  }
});

/** A `Deno.listenTls` server on `port` (0: any) that answers each conn's first read with "pong". */
function pongServer(cert: { cert: string; key: string }, port = 0) {
  const ln = Deno.listenTls({ hostname: "127.0.0.1", port, ...cert });
  const served = (async () => {
    const tasks: Promise<void>[] = [];
    for await (const c of ln) {
      tasks.push((async () => {
        try {
          const b = new Uint8Array(16);
          if ((await c.read(b)) !== null) await writeAll(c, enc("pong"));
          await c.closeWrite();
          await c.read(b);
        } catch {
          // client gone
        } finally {
          c.close();
        }
      })());
    }
    await Promise.all(tasks);
  })();
  return { port: (ln.addr as Deno.NetAddr).port, stop: () => (ln.close(), served) };
}

/** Pings over `conn` (closing it), then checks which engine it ran on. */
async function pingOn(conn: TlsConn, engine: typeof NodeTlsConn | typeof NativeTlsConn, msg?: string) {
  const ran = conn instanceof engine;
  assertEquals(await ping(conn), "pong");
  assert(ran, msg ?? `expected ${engine.name}`);
}

async function ping(conn: TlsConn): Promise<string> {
  await writeAll(conn, enc("ping"));
  await conn.closeWrite();
  const got = dec(await readAll(conn));
  conn.close();
  return got;
}

Deno.test("dialTls: a first-hop dial pins the chain node:tls saw; later dials run on Deno.startTls", async () => {
  const srv = pongServer(selfSigned);
  const addr = `127.0.0.1:${srv.port}`;
  try {
    const first = await dialTls(addr, netDial, { secure: false });
    await pingOn(first, NodeTlsConn, "first dial: node:tls");
    const second = await dialTls(addr, netDial, { secure: false });
    await pingOn(second, NativeTlsConn, "second dial: pinned Deno.startTls");
    // Through anything but the first-hop TCP connect (a tunnel), and with secure=true, nothing is pinned.
    const tunnelled = await dialTls(addr, (a, o) => netDial(a, o), { secure: false });
    await pingOn(tunnelled, NodeTlsConn);
  } finally {
    await srv.stop();
  }
});

Deno.test("dialTls: a server with a new certificate is reached through node:tls again, then pinned anew", async () => {
  // Certificates of their own: pins and refusals are per process.
  let srv = pongServer(await generateCertificate());
  const port = srv.port;
  const addr = `127.0.0.1:${port}`;
  try {
    assertEquals(await ping(await dialTls(addr, netDial, { secure: false, serverName: "renewed" })), "pong");
    await srv.stop();
    srv = pongServer(await generateCertificate(), port);
    const retried = await dialTls(addr, netDial, { secure: false, serverName: "renewed" });
    await pingOn(retried, NodeTlsConn, "the stale pin fails; the redial runs on node:tls");
    const pinned = await dialTls(addr, netDial, { secure: false, serverName: "renewed" });
    await pingOn(pinned, NativeTlsConn, "the new chain is pinned");
  } finally {
    await srv.stop();
  }
});

Deno.test("dialTls learnPin: a long-lived conn learns the chain on a throwaway handshake and runs on Deno.startTls", async () => {
  const srv = pongServer(await generateCertificate());
  try {
    const conn = await dialTls(`127.0.0.1:${srv.port}`, netDial, { secure: false, serverName: "learn" }, {
      learnPin: true,
    });
    const native = conn instanceof NativeTlsConn;
    assertEquals(await ping(conn), "pong");
    assert(native, "the conn runs on Deno.startTls");
  } finally {
    await srv.stop();
  }
});
