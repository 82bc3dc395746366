import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { Metadata } from "../metadata.ts";
import { netDial } from "../tcp/mod.ts";
import { ClosedError, type Conn, HandshakeError, type Listener, type ServerTLSConfig } from "../types.ts";
import { writeAll } from "../_io/write_all.ts";
import { generateCertificate } from "./cert.ts";
import { isDenoTcpConn } from "./conn.ts";
import { tlsDialer } from "./dialer.ts";
import { listenTls } from "./listener.ts";
import { connNoDelay, shutdownConn } from "../tcp/sockopt.ts";
import { dec, drain, enc, have, quietLogger, readAll, sendPattern } from "./_test_util.ts";

const gostCert = await generateCertificate();
const ca = await generateCertificate({ commonName: "Test CA", isCA: true });
const clientCert = await generateCertificate({ commonName: "client", issuer: ca });

function portOf(ln: Listener): number {
  return (ln.addr as Deno.NetAddr).port;
}

async function listen(cfg: ServerTLSConfig, md: Record<string, unknown> = {}, lines?: string[]): Promise<Listener> {
  return await listenTls({
    addr: "127.0.0.1:0",
    metadata: new Metadata(md),
    tls: () => Promise.resolve(cfg),
    log: quietLogger(lines),
  });
}

function dialer(tls: Parameters<typeof tlsDialer>[0]["tls"], md: Record<string, unknown> = {}) {
  return tlsDialer({ metadata: new Metadata(md), tls, log: quietLogger() });
}

Deno.test("listener + dialer: hello/world with half-close", async () => {
  const ln = await listen({ ...gostCert, alpn: ["http/1.1"] });
  try {
    const server = (async () => {
      const conn = await ln.accept();
      try {
        assertEquals(dec(await readAll(conn)), "hello");
        await writeAll(conn, enc("world"));
        await conn.closeWrite();
      } finally {
        conn.close();
      }
    })();
    const conn = await dialer({ secure: false, alpn: ["http/1.1"] }).dial(`127.0.0.1:${portOf(ln)}`, netDial);
    try {
      assertEquals((conn as unknown as { alpnProtocol: string }).alpnProtocol, "http/1.1");
      assertEquals((conn.remoteAddr as Deno.NetAddr).port, portOf(ln));
      await writeAll(conn, enc("hello"));
      await conn.closeWrite();
      assertEquals(dec(await readAll(conn)), "world");
    } finally {
      conn.close();
    }
    await server;
  } finally {
    ln.close();
  }
});

Deno.test("listener + dialer: 16 MiB both ways at once, then half-close each way", async () => {
  const ln = await listen(gostCert);
  try {
    const size = 16 << 20;
    const server = (async () => {
      const conn = await ln.accept();
      try {
        const [sent, got] = await Promise.all([sendPattern(conn, size, 31), drain(conn)]);
        return { sent, got };
      } finally {
        conn.close();
      }
    })();
    const conn = await dialer({ secure: false }).dial(`127.0.0.1:${portOf(ln)}`, netDial);
    try {
      const [sent, got] = await Promise.all([sendPattern(conn, size, 17), drain(conn)]);
      const s = await server;
      assertEquals(got, s.sent);
      assertEquals(s.got, sent);
      assertEquals(got.bytes, size);
    } finally {
      conn.close();
    }
  } finally {
    ln.close();
  }
});

Deno.test("a silent client and a garbage client do not stall the next client", async () => {
  const lines: string[] = [];
  const ln = await listen(gostCert, { handshakeTimeout: "300ms" }, lines);
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: portOf(ln) });
  const garbage = await Deno.connect({ hostname: "127.0.0.1", port: portOf(ln) });
  try {
    await writeAll(garbage, enc("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const t0 = Date.now();
    const accepted = ln.accept();
    const conn = await dialer({ secure: false }).dial(`127.0.0.1:${portOf(ln)}`, netDial);
    const srv = await accepted;
    assert(Date.now() - t0 < 250, `second client waited ${Date.now() - t0} ms`);
    await writeAll(conn, enc("ping"));
    const buf = new Uint8Array(8);
    assertEquals(dec(buf.subarray(0, (await srv.read(buf))!)), "ping");
    conn.close();
    srv.close();
    // The garbage client is dropped at once (after at most a TLS alert), the silent one after the handshake timeout.
    const drained = async (c: Deno.Conn) => {
      const b = new Uint8Array(64);
      let seen = 0;
      for (let n; (n = await c.read(b).catch(() => null)) !== null;) seen += n;
      return seen;
    };
    assert(await drained(garbage) <= 7, "at most one alert record before the close");
    assertEquals(await silent.read(new Uint8Array(64)).catch(() => null), null);
    const failures = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === "tls handshake failed");
    assertEquals(failures.length, 2);
    assert(failures.every((r) => r.level === "debug" && typeof r.remote === "string"));
  } finally {
    silent.close();
    garbage.close();
    ln.close();
  }
});

Deno.test("server caFile requires a client certificate signed by that CA", async () => {
  const lines: string[] = [];
  const ln = await listen({ ...gostCert, ca: ca.cert }, {}, lines);
  try {
    const addr = `127.0.0.1:${portOf(ln)}`;
    // Without a certificate the server drops the client; a TLS 1.3 client only learns it on its
    // first read (an alert, or the end of the stream), and the listener never hands the conn out.
    const anon = await dialer({ secure: false }).dial(addr, netDial).catch((e) => e);
    if (!(anon instanceof HandshakeError)) {
      const r = await (anon as Conn).read(new Uint8Array(16)).catch((e) => e);
      assert(r === null || r instanceof Error, `anonymous client read ${r}`);
      (anon as Conn).close();
    }
    const good = dialer({ secure: false, cert: clientCert.cert, key: clientCert.key }).dial(addr, netDial);
    const [conn, srv] = await Promise.all([good, ln.accept()]);
    try {
      await writeAll(conn, enc("mtls"));
      const buf = new Uint8Array(8);
      assertEquals(dec(buf.subarray(0, (await srv.read(buf))!)), "mtls");
    } finally {
      conn.close();
      srv.close();
    }
    assert(lines.some((l) => l.includes("tls handshake failed")), "the anonymous client was logged");
  } finally {
    ln.close();
  }
});

Deno.test("dialer secure=true rejects GOST's self-signed certificate (native fast path over TCP)", async () => {
  const ln = await listen(gostCert);
  try {
    const addr = `127.0.0.1:${portOf(ln)}`;
    let raw: Conn | undefined;
    const rawDial = async (a: string) => (raw = await netDial(a));
    const err = await assertRejects(
      () => dialer({ secure: true, serverName: "gost.run" }).dial(addr, rawDial),
      HandshakeError,
    );
    assertStringIncludes(err.message, "127.0.0.1");
    assert(raw && isDenoTcpConn(raw), "the raw conn was a Deno TCP conn");
  } finally {
    ln.close();
  }
});

Deno.test("close() rejects pending and later accepts", async () => {
  const ln = await listen(gostCert);
  const pending = ln.accept();
  ln.close();
  ln.close();
  await assertRejects(() => pending, ClosedError);
  await assertRejects(() => ln.accept(), ClosedError);
});

Deno.test({
  name: "interop: openssl s_client talks to the listener",
  ignore: !(await have("openssl")),
  fn: async () => {
    const ln = await listen({ ...gostCert, alpn: ["dost-test"] });
    try {
      const server = (async () => {
        const conn = await ln.accept();
        try {
          const buf = new Uint8Array(64);
          let got = "";
          while (!got.includes("\n")) {
            const n = await conn.read(buf);
            if (n === null) break;
            got += dec(buf.subarray(0, n));
          }
          await writeAll(conn, enc(`echo:${got}`));
          await conn.closeWrite();
          await readAll(conn);
        } finally {
          conn.close();
        }
      })();
      const p = new Deno.Command("openssl", {
        args: [
          "s_client",
          "-connect",
          `127.0.0.1:${portOf(ln)}`,
          "-servername",
          "gost.run",
          "-alpn",
          "dost-test",
          "-quiet",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(enc("from openssl\n"));
      const out = await Promise.race([
        p.output(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("openssl s_client hung")), 10_000)),
      ]).finally(() => w.close().catch(() => {}));
      assertStringIncludes(dec(out.stdout), "echo:from openssl");
      await server;
    } finally {
      ln.close();
    }
  },
});

Deno.test({
  name: "interop: curl --insecure fetches over the listener",
  ignore: !(await have("curl")),
  fn: async () => {
    const ln = await listen({ ...gostCert, alpn: ["http/1.1"] });
    try {
      const server = (async () => {
        const conn = await ln.accept();
        try {
          const buf = new Uint8Array(4096);
          let head = "";
          while (!head.includes("\r\n\r\n")) {
            const n = await conn.read(buf);
            if (n === null) break;
            head += dec(buf.subarray(0, n));
          }
          await writeAll(conn, enc("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"));
          await conn.closeWrite();
          await readAll(conn).catch(() => {});
          return head;
        } finally {
          conn.close();
        }
      })();
      const out = await new Deno.Command("curl", {
        args: ["-sS", "--insecure", "--max-time", "10", `https://127.0.0.1:${portOf(ln)}/path`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(out.success, dec(out.stderr));
      assertEquals(dec(out.stdout), "hello");
      assertStringIncludes(await server, "GET /path HTTP/1.1");
    } finally {
      ln.close();
    }
  },
});

Deno.test({
  name: "interop: the dialer talks to openssl s_server (secure=false, and CA pinning without name check)",
  ignore: !(await have("openssl")),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dost-tls-" });
    const server = await generateCertificate({ commonName: "s_server.test", issuer: ca });
    await Deno.writeTextFile(`${dir}/cert.pem`, server.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, server.key);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const proc = new Deno.Command("openssl", {
      args: ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", `${dir}/cert.pem`, "-key", `${dir}/key.pem`, "-rev"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const out = proc.stdout.getReader();
      for (let text = ""; !text.includes("ACCEPT");) {
        const r = await out.read();
        if (r.done) throw new Error("openssl s_server exited");
        text += dec(r.value);
      }
      out.releaseLock();
      for (const tls of [{ secure: false }, { secure: false, ca: ca.cert, serverName: "wrong.name" }]) {
        const conn = await dialer(tls).dial(`127.0.0.1:${port}`, netDial);
        try {
          await writeAll(conn, enc("hello\n"));
          const buf = new Uint8Array(256);
          let got = "";
          while (!got.includes("olleh")) {
            const n = await conn.read(buf);
            if (n === null) break;
            got += dec(buf.subarray(0, n));
          }
          assertStringIncludes(got, "olleh");
        } finally {
          conn.close();
        }
      }
    } finally {
      proc.kill();
      await proc.stdout.cancel().catch(() => {});
      await proc.stderr.cancel().catch(() => {});
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("accepted conns have TCP_NODELAY, with and without required client certificates", async () => {
  for (const cfg of [gostCert, { ...gostCert, ca: ca.cert }] as ServerTLSConfig[]) {
    const ln = await listen(cfg);
    try {
      const accepted = ln.accept();
      const client = await dialer({ secure: false, ...(cfg.ca ? clientCert : {}) }).dial(
        `127.0.0.1:${portOf(ln)}`,
        netDial,
      );
      const srv = await accepted;
      assertEquals(connNoDelay(srv.localAddr, srv.remoteAddr), true);
      client.close();
      srv.close();
    } finally {
      ln.close();
    }
  }
});

Deno.test("shutdownConn ends a Deno TLS handshake that close() alone leaves pending", async () => {
  const ln = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...gostCert });
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: (ln.addr as Deno.NetAddr).port });
  const conn = await ln.accept();
  const handshake = conn.handshake().then(() => "done", () => "failed");
  assert(shutdownConn(conn.localAddr, conn.remoteAddr));
  conn.close();
  assertEquals(await handshake, "failed");
  assertEquals(await silent.read(new Uint8Array(8)).catch(() => null), null);
  silent.close();
  ln.close();
});
