/** The relay connector against a raw fake server: bytes on the wire and response handling. */
import { Metadata } from "../../transports/metadata.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { HandshakeError } from "../../transports/types.ts";
import { AuthError, type Connector, ProxyError } from "../types.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  dec,
  enc,
  type ErrorClass,
  hex,
  readAll,
  readN,
  silentLog,
  TestServer,
} from "./_testing.ts";
import { relayConnector } from "./connector.ts";

const CONNECT_EXAMPLE = hex(`
  01 01 00 19
  01 00 04 01 75 01 70
  02 00 0f 03 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d 01 bb`);

function connector(metadata: Record<string, unknown> = {}, auth = true): Connector {
  return relayConnector({
    metadata: new Metadata(metadata),
    auth: auth ? { username: "u", password: "p" } : undefined,
    tls: { secure: false },
    log: silentLog,
  });
}

/** A fake relay server: `script` gets the accepted conn. */
async function withServer(
  script: (c: Deno.Conn) => Promise<void>,
  client: (conn: Deno.TcpConn) => Promise<void>,
): Promise<void> {
  const server = new TestServer(script);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await client(conn);
  } finally {
    closeQuietly(conn);
    await server.close();
  }
}

Deno.test("lazy connect: nothing is sent until the first write, which carries request ‖ data", async () => {
  let first: Uint8Array = new Uint8Array(0);
  await withServer(async (c) => {
    const buf = new Uint8Array(4096);
    first = buf.slice(0, (await c.read(buf))!);
    await writeAll(c, new Uint8Array([0x01, 0x00, 0x00, 0x00, ...enc("yo")]));
    await readAll(c);
  }, async (conn) => {
    const tunnel = await connector().connect(conn, "tcp", "example.com:443");
    assert(tunnel !== conn);
    await tunnel.write(enc("hi"));
    assertEquals(dec(await readN(tunnel, 2)), "yo");
    // After the header, reads and writes are the raw conn's own.
    await tunnel.write(enc("!"));
    tunnel.close();
  });
  assertEquals(first, new Uint8Array([...CONNECT_EXAMPLE, ...enc("hi")]));
});

Deno.test("feature order and encodings: :0, IPv6, UDP, unix", async (t) => {
  const cases: [string, string, string, boolean, string][] = [
    ["forward :0", "tcp", ":0", false, "01 01 00 07 02 00 04 03 00 00 00"],
    ["empty address", "tcp", "", false, "01 01 00 00"],
    ["IPv6", "tcp6", "[::1]:22", true, "01 01 00 1d 01 00 04 01 75 01 70 02 00 13 04" + " 00".repeat(15) + " 01 00 16"],
    [
      "UDP",
      "udp",
      "8.8.8.8:53",
      false,
      "01 81 00 0f 04 00 02 00 01 02 00 07 01 08 08 08 08 00 35",
    ],
    [
      "unix",
      "unix",
      "/s:0",
      true,
      "01 01 00 15 04 00 02 00 10 01 00 04 01 75 01 70 02 00 06 03 02 2f 73 00 00",
    ],
  ];
  for (const [name, network, addr, auth, want] of cases) {
    await t.step(name, async () => {
      let got: Uint8Array = new Uint8Array(0);
      await withServer(async (c) => {
        got = await readAll(c);
      }, async (conn) => {
        const tunnel = await connector({}, auth).connect(conn, network, addr);
        await tunnel.closeWrite(); // before any write: the request alone, then EOF
        tunnel.close();
      });
      assertEquals(got, hex(want));
    });
  }
});

Deno.test("unsupported networks and UDP association are TypeErrors", async () => {
  await withServer(async () => {}, async (conn) => {
    await assertRejects(() => connector().connect(conn, "ip", "1.2.3.4:0"), TypeError);
    await assertRejects(() => connector().connect(conn, "sctp", "1.2.3.4:1"), TypeError);
    await assertRejects(() => connector().connect(conn, "udp", ""), TypeError, "UDP association");
  });
});

Deno.test("first read surfaces a failure status as ProxyError / AuthError", async (t) => {
  const cases: [string, string, ErrorClass, string][] = [
    ["network unreachable", "01 07 00 00", ProxyError, "7 Network Unreachable"],
    ["host unreachable", "01 06 00 00", ProxyError, "6 Host Unreachable"],
    ["unauthorized", "01 02 00 00", AuthError, "2 Unauthorized"],
    ["bad version", "05 00 00 00", HandshakeError, "version 5"],
    ["truncated", "01 00", Deno.errors.UnexpectedEof, "Truncated"],
    ["malformed features", "01 00 00 03 02 00 09", HandshakeError, "Malformed"],
  ];
  for (const [name, response, cls, text] of cases) {
    await t.step(name, async () => {
      await withServer(async (c) => {
        await readN(c, CONNECT_EXAMPLE.length + 1);
        await writeAll(c, hex(response));
      }, async (conn) => {
        const tunnel = await connector().connect(conn, "tcp", "example.com:443");
        await tunnel.write(enc("x"));
        await assertRejects(() => tunnel.read(new Uint8Array(10)), cls, text);
        // The failure sticks.
        await assertRejects(() => tunnel.read(new Uint8Array(10)), cls, text);
        tunnel.close();
      });
    });
  }
});

Deno.test("response features are consumed, and EOF before any response byte reads as EOF", async () => {
  await withServer(async (c) => {
    await readN(c, CONNECT_EXAMPLE.length + 1);
    await writeAll(c, new Uint8Array([...hex("01 00 00 0a 02 00 07 01 7f 00 00 01 00 50"), ...enc("data")]));
  }, async (conn) => {
    const tunnel = await connector().connect(conn, "tcp", "example.com:443");
    await tunnel.write(enc("x"));
    assertEquals(dec(await readAll(tunnel)), "data");
    tunnel.close();
  });
  // A GOST server whose target closed without data never sends its deferred OK.
  await withServer(async (c) => {
    await readN(c, CONNECT_EXAMPLE.length + 1);
  }, async (conn) => {
    const tunnel = await connector().connect(conn, "tcp", "example.com:443");
    await tunnel.write(enc("x"));
    assertEquals(await tunnel.read(new Uint8Array(10)), null);
    tunnel.close();
  });
});

Deno.test("nodelay=true: request written and response read during connect; the raw conn is returned", async () => {
  let got: Uint8Array = new Uint8Array(0);
  await withServer(async (c) => {
    got = await readN(c, CONNECT_EXAMPLE.length);
    await writeAll(c, new Uint8Array([0x01, 0x00, 0x00, 0x00, ...enc("220 hello")]));
    await readAll(c);
  }, async (conn) => {
    const tunnel = await connector({ nodelay: "true" }).connect(conn, "tcp", "example.com:443");
    assert(tunnel === conn);
    assertEquals(dec(await readN(tunnel, 9)), "220 hello");
  });
  assertEquals(got, CONNECT_EXAMPLE);
});

Deno.test("nodelay=true: a failure status rejects connect", async () => {
  await withServer(async (c) => {
    await readN(c, CONNECT_EXAMPLE.length);
    await writeAll(c, hex("01 07 00 00"));
  }, async (conn) => {
    await assertRejects(
      () => connector({ nodelay: true }).connect(conn, "tcp", "example.com:443"),
      ProxyError,
      "7 Network Unreachable",
    );
  });
});

Deno.test("nodelay=true: connectTimeout bounds the handshake", async () => {
  await withServer(async (c) => {
    await readAll(c);
  }, async (conn) => {
    const start = performance.now();
    await assertRejects(
      () => connector({ nodelay: true, connectTimeout: "150ms" }).connect(conn, "tcp", "example.com:443"),
      Deno.errors.TimedOut,
    );
    assert(performance.now() - start < 3000);
  });
});

Deno.test("UDP: datagrams are length-prefixed, the first glued to the request", async () => {
  let first: Uint8Array = new Uint8Array(0);
  await withServer(async (c) => {
    first = await readN(c, 19 + 5);
    await writeAll(c, hex("01 00 00 00 00 02 12 34 00 01 ff 00 03 61 62 63"));
    await readAll(c);
  }, async (conn) => {
    const tunnel = await connector({}, false).connect(conn, "udp", "8.8.8.8:53");
    await tunnel.write(enc("abc"));
    const buf = new Uint8Array(100);
    assertEquals(buf.subarray(0, (await tunnel.read(buf))!), hex("12 34"));
    assertEquals(buf.subarray(0, (await tunnel.read(buf))!), hex("ff"));
    // A datagram larger than the buffer is truncated, as a UDP read is.
    const small = new Uint8Array(2);
    assertEquals(await tunnel.read(small), 2);
    assertEquals(dec(small), "ab");
    await assertRejects(() => tunnel.write(new Uint8Array(65536)), RangeError);
    tunnel.close();
  });
  assertEquals(first, hex("01 81 00 0f 04 00 02 00 01 02 00 07 01 08 08 08 08 00 35 00 03 61 62 63"));
});
