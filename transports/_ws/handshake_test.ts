import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "../../tests/assert.ts";
import { writeAll } from "../_io/write_all.ts";
import { HandshakeError } from "../types.ts";
import {
  buildUpgradeRequest,
  canonicalHeaderKey,
  computeAcceptKey,
  escapePath,
  isValidChallengeKey,
  tokenListContains,
  wsClientHandshake,
  wsServerHandshake,
  type WsServerHandshakeResult,
  wsUpgrade,
} from "./handshake.ts";
import { BufferedConn } from "../_io/buffered_conn.ts";
import { memoryPipe, readAll, readN, tcpPair } from "./_test_util.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// ------------------------------------------------------------ request bytes

Deno.test("client request: exactly the bytes GOST's dialer sends", () => {
  assertEquals(
    buildUpgradeRequest({ host: "example.com:443" }, KEY),
    "GET /ws HTTP/1.1\r\n" +
      "Host: example.com:443\r\n" +
      "User-Agent: Go-http-client/1.1\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n" +
      "Upgrade: websocket\r\n" +
      "\r\n",
  );
});

Deno.test("client request: custom headers canonicalised and sorted among the fixed ones", () => {
  const req = buildUpgradeRequest({
    host: "h:80",
    path: "/tunnel",
    header: { "x-token": "abc", "accept-language": "en", "zz-last": " v \r\n2 ", "Sec-WebSocket-Protocol": "chat" },
  }, KEY);
  assertEquals(
    req,
    "GET /tunnel HTTP/1.1\r\nHost: h:80\r\nUser-Agent: Go-http-client/1.1\r\n" +
      "Accept-Language: en\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Version: 13\r\n` +
      "Upgrade: websocket\r\nX-Token: abc\r\nZz-Last: v   2\r\n\r\n",
  );
});

Deno.test("client request: Host and User-Agent from the header map override; empty User-Agent is left out", () => {
  const req = buildUpgradeRequest({ host: "node:8443", header: { host: "cdn.example", "User-Agent": "" } }, KEY);
  assert(req.startsWith("GET /ws HTTP/1.1\r\nHost: cdn.example\r\nConnection: Upgrade\r\n"), req);
  const ua = buildUpgradeRequest({ host: "n:1", header: { "user-agent": "curl/8" } }, KEY);
  assert(ua.includes("\r\nHost: n:1\r\nUser-Agent: curl/8\r\nConnection:"), ua);
  assertThrows(() => buildUpgradeRequest({ host: "n:1", header: { upgrade: "x" } }, KEY), TypeError, "not allowed");
  assertThrows(() => buildUpgradeRequest({ host: "n:1", header: { "bad name": "x" } }, KEY), TypeError);
  assertThrows(() => buildUpgradeRequest({ host: "a b:1" }, KEY), TypeError, "Invalid Host");
  assert(buildUpgradeRequest({ host: "[fe80::1%eth0]:80" }, KEY).includes("\r\nHost: [fe80::1]:80\r\n"));
});

Deno.test("escapePath: Go's url.URL{Path} request-target", () => {
  assertEquals(escapePath(""), "/");
  assertEquals(escapePath("ws"), "/ws");
  assertEquals(escapePath("/a b/c?d=e"), "/a%20b/c%3Fd=e");
  assertEquals(escapePath("/$&+,:;=@-_.~"), "/$&+,:;=@-_.~");
  assertEquals(escapePath("/é%"), "/%C3%A9%25");
});

Deno.test("canonicalHeaderKey and tokenListContains follow Go and gorilla", () => {
  assertEquals(canonicalHeaderKey("sec-websocket-key"), "Sec-Websocket-Key");
  assertEquals(canonicalHeaderKey("X-FOO-bar"), "X-Foo-Bar");
  assertEquals(canonicalHeaderKey("bad key"), "bad key");
  assert(tokenListContains(["keep-alive, Upgrade"], "upgrade"));
  assert(tokenListContains(["x", " UPGRADE "], "upgrade"));
  assert(!tokenListContains(["upgraded"], "upgrade"));
  assert(!tokenListContains(["foo bar, upgrade"], "upgrade"), "parsing stops at a malformed element");
  assert(!tokenListContains([], "upgrade"));
  assert(isValidChallengeKey(KEY));
  assert(!isValidChallengeKey("dGhlIHNhbXBsZSBub25jZQ"));
  assert(!isValidChallengeKey("aGVsbG8="));
  assert(!isValidChallengeKey(undefined));
});

// ------------------------------------------------------------ client handshake

/** Runs the client handshake against a scripted server that answers `response`. */
async function clientAgainst(
  response: string | ((key: string) => Promise<string>),
  timeout?: number,
  end = false,
) {
  const [c, s] = memoryPipe();
  const server = (async () => {
    const buf = new Uint8Array(4096);
    let req = "";
    while (!req.includes("\r\n\r\n")) {
      const n = await s.read(buf);
      if (n === null) return req;
      req += dec.decode(buf.subarray(0, n));
    }
    const key = /Sec-WebSocket-Key: (.*)\r\n/.exec(req)![1];
    const text = typeof response === "string" ? response : await response(key);
    if (text) await writeAll(s, enc.encode(text));
    if (end) await s.closeWrite();
    return req;
  })();
  try {
    const conn = await wsClientHandshake(c, { host: "example.com:80", timeout });
    return { conn, server: s, request: await server };
  } catch (err) {
    s.close();
    await server.catch(() => {});
    throw err;
  }
}

Deno.test("client handshake: accepts a 101 and keeps bytes that followed it", async () => {
  const { conn, server, request } = await clientAgainst(async (key) =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${await computeAcceptKey(key)}\r\n\r\n` + "\x02\x03abc"
  );
  assertMatch(request, /^GET \/ws HTTP\/1\.1\r\nHost: example\.com:80\r\nUser-Agent: Go-http-client\/1\.1\r\n/);
  assertEquals(dec.decode(await readN(conn, 5)), "\x02\x03abc");
  conn.close();
  server.close();
});

Deno.test("client handshake: token matching is case-insensitive and list-aware", async () => {
  const { conn, server } = await clientAgainst(async (key) =>
    "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n" +
    `sec-websocket-accept: ${await computeAcceptKey(key)}\r\n\r\n`
  );
  conn.close();
  server.close();
});

Deno.test("client handshake: a non-101 fails with the status line quoted", async () => {
  const err = await assertRejects(
    () => clientAgainst("HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\n\r\n404 page not found\n"),
    HandshakeError,
  );
  assertMatch(err.message, /rejected: "HTTP\/1\.1 404 Not Found"/);
});

Deno.test("client handshake: wrong accept, missing Upgrade or Connection fail", async () => {
  const bad = await assertRejects(
    () =>
      clientAgainst(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n",
      ),
    HandshakeError,
  );
  assertMatch(bad.message, /bad Sec-WebSocket-Accept "nope"/);
  await assertRejects(
    () =>
      clientAgainst(async (k) =>
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${await computeAcceptKey(
          k,
        )}\r\n\r\n`
      ),
    HandshakeError,
    "Upgrade: websocket",
  );
  await assertRejects(
    () =>
      clientAgainst(async (k) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${await computeAcceptKey(
          k,
        )}\r\n\r\n`
      ),
    HandshakeError,
    "Connection: upgrade",
  );
});

Deno.test("client handshake: garbage, EOF and silence fail cleanly", async () => {
  await assertRejects(() => clientAgainst("SSH-2.0-OpenSSH\r\n\r\n"), HandshakeError, "Malformed status line");
  await assertRejects(
    () => clientAgainst("HTTP/1.1 101 Switching Protocols\r\nUpg", undefined, true),
    HandshakeError,
    "closed",
  );
  await assertRejects(() => clientAgainst("", undefined, true), HandshakeError, "closed before the 101");
  const t0 = Date.now();
  await assertRejects(() => clientAgainst("", 100), HandshakeError, "timed out");
  assert(Date.now() - t0 < 2000);
});

// ------------------------------------------------------------ server handshake

/** Sends `request` raw to the server handshake; returns the result and every byte the server wrote. */
async function serverGets(
  request: string | Uint8Array,
  opts: Parameters<typeof wsServerHandshake>[1] = {},
): Promise<{ res: WsServerHandshakeResult; response: string }> {
  const [c, s] = memoryPipe();
  const handshake = wsServerHandshake(s, opts);
  await writeAll(c, typeof request === "string" ? enc.encode(request) : request);
  const res = await handshake;
  let response: string;
  if (res.rejected) {
    response = dec.decode(await readAll(c));
  } else {
    // Read exactly the head that was written.
    let head = "";
    const one = new Uint8Array(1);
    while (!head.endsWith("\r\n\r\n")) {
      if ((await c.read(one)) === null) break;
      head += String.fromCharCode(one[0]);
    }
    response = head;
    res.conn.close();
  }
  c.close();
  return { res, response };
}

const GOOD = "GET /ws HTTP/1.1\r\nHost: example.com:80\r\nUser-Agent: Go-http-client/1.1\r\n" +
  `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n`;

Deno.test("server handshake: 101 byte for byte", async () => {
  const { res, response } = await serverGets(GOOD);
  assert(!res.rejected);
  assertEquals(res.request.path, "/ws");
  assertEquals(
    response,
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
  );
});

Deno.test("server handshake: custom header lines before the final CRLF; query ignored; bare LF accepted", async () => {
  const { res, response } = await serverGets(GOOD.replace("GET /ws ", "GET /ws?token=1 ").replaceAll("\r\n", "\n"), {
    header: { "x-served-by": "dost", "Sec-WebSocket-Protocol": "chat", "X-Evil": "a\r\nb" },
  });
  assert(!res.rejected);
  assertEquals(res.request.query, "token=1");
  assertEquals(
    response,
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n` +
      "Sec-WebSocket-Protocol: chat\r\nX-Evil: a  b\r\nX-Served-By: dost\r\n\r\n",
  );
});

Deno.test("server handshake: other paths get Go's 404 page not found", async () => {
  const { res, response } = await serverGets(GOOD.replace("GET /ws ", "GET /other "));
  assertEquals(res.rejected && res.status, 404);
  assertMatch(
    response,
    /^HTTP\/1\.1 404 Not Found\r\nContent-Type: text\/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nDate: .+ GMT\r\nContent-Length: 19\r\n\r\n404 page not found\n$/,
  );
  // Exact match: neither a prefix nor a subpath is routed; a "/" pattern takes the subtree.
  assertEquals((await serverGets(GOOD.replace("GET /ws ", "GET /ws/ "))).res.rejected && 404, 404);
  assertEquals((await serverGets(GOOD.replace("GET /ws ", "GET /w "))).res.rejected && 404, 404);
  assert(!(await serverGets(GOOD.replace("GET /ws ", "GET /w%73 "))).res.rejected, "percent-decoded like Go");
  assert(!(await serverGets(GOOD.replace("GET /ws ", "GET /a/b "), { path: "/a/" })).res.rejected);
  assert(!(await serverGets(GOOD.replace("GET /ws ", "GET http://h/ws?x "))).res.rejected, "absolute-form");
});

Deno.test("server handshake: gorilla's checks, in order, with gorilla's statuses", async () => {
  const cases: [string, string, number, string][] = [
    ["missing Upgrade", GOOD.replace("Upgrade: websocket\r\n", ""), 400, "'websocket' token not found"],
    ["missing Connection token", GOOD.replace("Connection: Upgrade", "Connection: keep-alive"), 400, "'upgrade' token"],
    ["wrong method", GOOD.replace("GET ", "POST "), 405, "request method is not GET"],
    ["wrong version", GOOD.replace("Version: 13", "Version: 8"), 400, "unsupported version"],
    ["missing version", GOOD.replace("Sec-WebSocket-Version: 13\r\n", ""), 400, "unsupported version"],
    ["short key", GOOD.replace(KEY, "aGVsbG8="), 400, "Sec-WebSocket-Key"],
    ["missing key", GOOD.replace(`Sec-WebSocket-Key: ${KEY}\r\n`, ""), 400, "Sec-WebSocket-Key"],
    // Order: Connection is checked before the method.
    ["POST without Connection", GOOD.replace("GET ", "POST ").replace("Connection: Upgrade\r\n", ""), 400, "'upgrade'"],
  ];
  const statusText: Record<number, string> = { 400: "Bad Request", 405: "Method Not Allowed" };
  for (const [name, req, status, reason] of cases) {
    const { res, response } = await serverGets(req);
    assert(res.rejected, name);
    assertEquals(res.status, status, name);
    assert(res.reason.includes(reason), `${name}: ${res.reason}`);
    const body = statusText[status] + "\n";
    assertMatch(
      response,
      new RegExp(
        `^HTTP/1\\.1 ${status} ${statusText[status]}\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n` +
          `Sec-Websocket-Version: 13\\r\\nX-Content-Type-Options: nosniff\\r\\nConnection: close\\r\\n` +
          `Date: [^\\r]+\\r\\nContent-Length: ${body.length}\\r\\n\\r\\n${body}$`,
      ),
      name,
    );
  }
  const { res } = await serverGets(GOOD, { header: { "Sec-WebSocket-Extensions": "x" } });
  assertEquals(res.rejected && res.status, 500);
});

Deno.test("server handshake: data sent before the 101 closes the conn without a response (gorilla)", async () => {
  const { res, response } = await serverGets(GOOD + "\x82\x85early");
  assert(res.rejected);
  assertEquals(res.status, 0);
  assertEquals(res.reason, "client sent data before handshake is complete");
  assertEquals(response, "");
});

Deno.test("server handshake: garbage and malformed heads get Go's 400 and a close", async () => {
  const garbage = [
    new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0a, 0x0d, 0x0a]),
    enc.encode("GET\r\n\r\n"),
    enc.encode("GET /ws HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n"),
    enc.encode("GET /ws HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"),
    enc.encode("GET /ws HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n"),
    enc.encode("GET /ws HTTP/1.1\r\n\r\n"), // HTTP/1.1 without Host
    enc.encode("GET /ws HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    enc.encode("GET /w%zz HTTP/1.1\r\nHost: h\r\n\r\n"),
    enc.encode("\r\n"),
  ];
  for (const g of garbage) {
    const { res, response } = await serverGets(g);
    assert(res.rejected);
    assertEquals(res.status, 400, JSON.stringify(dec.decode(g)));
    assertEquals(
      response,
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
    );
  }
  const v2 = await serverGets("GET /ws HTTP/2.0\r\nHost: h\r\n\r\n");
  assertEquals(v2.res.rejected && v2.res.status, 505);
});

Deno.test("server handshake: a head over the limit gets 431", async () => {
  const big = "GET /ws HTTP/1.1\r\nHost: h\r\nX-Pad: " + "a".repeat(9000) + "\r\n\r\n";
  const { res, response } = await serverGets(big);
  assertEquals(res.rejected && res.status, 431);
  assert(response.startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  // Just under the limit passes.
  const ok = GOOD.replace("\r\n\r\n", "\r\nX-Pad: " + "a".repeat(8192 - GOOD.length - 10) + "\r\n\r\n");
  assert(ok.length <= 8192);
  assert(!(await serverGets(ok)).res.rejected);
});

Deno.test("server handshake: EOF and a silent client end without a response", async () => {
  const [c, s] = memoryPipe();
  const pending = wsServerHandshake(s);
  await c.closeWrite();
  const r1 = await pending;
  assertEquals(r1.rejected && r1.status, 0);
  c.close();

  const [c2, s2] = memoryPipe();
  const slow = wsServerHandshake(s2, { timeout: 100 });
  await writeAll(c2, enc.encode("GET /ws HTTP/1.1\r\nHost"));
  const r2 = await slow;
  assert(r2.rejected && r2.reason.includes("timed out"), JSON.stringify(r2));
  c2.close();

  const [c3, s3] = memoryPipe();
  const cut = wsServerHandshake(s3);
  await writeAll(c3, enc.encode("GET /ws HTTP/1.1\r\nHost"));
  await c3.closeWrite();
  const r3 = await cut;
  assert(r3.rejected && r3.status === 0 && r3.reason.includes("inside the request head"), JSON.stringify(r3));
  c3.close();
});

Deno.test("handshake: dost client and dost server agree over TCP", async () => {
  const [c, s] = await tcpPair();
  const [client, server] = await Promise.all([
    wsClientHandshake(c, { host: "127.0.0.1:1", header: { "X-Id": "7" } }),
    wsServerHandshake(s),
  ]);
  assert(!server.rejected);
  assertEquals(server.request.headers.get("x-id"), "7");
  assertEquals(server.request.headers.get("user-agent"), "Go-http-client/1.1");
  client.close();
  server.conn.close();
});

Deno.test("handshake: bad options fail without leaking the conn", async () => {
  const [c, s] = memoryPipe();
  await assertRejects(() => wsClientHandshake(c, { host: "h:1", header: { Connection: "x" } }), TypeError);
  assertEquals(await s.read(new Uint8Array(1)), null, "client conn closed");
  s.close();

  const { res, response } = await serverGets(GOOD, { header: { "bad name": "x" } });
  assertEquals(res.rejected && res.status, 500);
  assert(response.startsWith("HTTP/1.1 500 Internal Server Error\r\n"), response);
});

Deno.test("wsUpgrade: takes a head another parser read (any method + ordered header entries)", async () => {
  const [c, s] = memoryPipe();
  const head = {
    method: "GET",
    target: "/anything",
    headers: {
      entries: [
        ["Host", "h"],
        ["connection", "Upgrade"],
        ["upgrade", "websocket"],
        ["sec-websocket-version", "13"],
        ["sec-websocket-key", KEY],
      ] as [string, string][],
    },
  };
  const res = await wsUpgrade(new BufferedConn(s), head, { header: { "X-Route": "shared" } });
  assert(!res.rejected);
  assertEquals(res.request.target, "/anything");
  assertEquals(
    dec.decode(await readN(c, 146)),
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n` +
      "X-Route: shared\r\n\r\n",
  );
  res.conn.close();
  c.close();
});
