import { HandshakeError } from "../../transports/types.ts";
import { assertEquals, assertRejects, assertThrows, hex } from "./_testing.ts";
import {
  addrFeature,
  addrString,
  ATYP_DOMAIN,
  ATYP_IPV4,
  ATYP_IPV6,
  CMD_BIND,
  CMD_CONNECT,
  decodeFeatures,
  encodeRequest,
  encodeResponse,
  FLAG_UDP,
  NETWORK_TCP,
  NETWORK_UDP,
  networkId,
  networkName,
  readRequest,
  readResponse,
  STATUS_OK,
  statusResponse,
  statusText,
} from "./protocol.ts";

/** A reader that hands out `data` in chunks of `step` bytes. */
function chunked(data: Uint8Array, step = 1) {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(step, p.length, data.length - off);
      p.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(n);
    },
    get consumed() {
      return off;
    },
  };
}

const CONNECT_EXAMPLE = hex(`
  01 01 00 19
  01 00 04 01 75 01 70
  02 00 0f 03 0b 65 78 61 6d 70 6c 65 2e 63 6f 6d 01 bb`);

Deno.test("relay.md §1.4: CONNECT example.com:443 with user u / password p", async () => {
  const req = encodeRequest({
    cmd: CMD_CONNECT,
    features: [{ kind: "userAuth", username: "u", password: "p" }, addrFeature("example.com:443")],
  });
  assertEquals(req, CONNECT_EXAMPLE);
  assertEquals(await readRequest(chunked(CONNECT_EXAMPLE)), {
    version: 1,
    cmd: CMD_CONNECT,
    features: [
      { kind: "userAuth", username: "u", password: "p" },
      { kind: "addr", atyp: ATYP_DOMAIN, host: "example.com", port: 443 },
    ],
  });
});

Deno.test("relay.md §1.4: UDP CONNECT to 8.8.8.8:53", async () => {
  const want = hex("01 81 00 0f  04 00 02 00 01  02 00 07 01 08 08 08 08 00 35");
  const req = encodeRequest({
    cmd: CMD_CONNECT | FLAG_UDP,
    features: [{ kind: "network", network: NETWORK_UDP }, addrFeature("8.8.8.8:53")],
  });
  assertEquals(req, want);
  const back = await readRequest(chunked(want, 3));
  assertEquals(back?.cmd, 0x81);
  assertEquals(back?.features, [
    { kind: "network", network: NETWORK_UDP },
    { kind: "addr", atyp: ATYP_IPV4, host: "8.8.8.8", port: 53 },
  ]);
});

Deno.test("relay.md §1.4: OK response without features", async () => {
  assertEquals(encodeResponse({ status: STATUS_OK, features: [] }), hex("01 00 00 00"));
  assertEquals(statusResponse(STATUS_OK), hex("01 00 00 00"));
  assertEquals(await readResponse(chunked(hex("01 07 00 00"))), { version: 1, status: 7, features: [] });
  assertEquals(statusText(7), "7 Network Unreachable");
  assertEquals(statusText(2), "2 Unauthorized");
});

Deno.test("forward.md §2: forward-mode request for :0", () => {
  const req = encodeRequest({ cmd: CMD_CONNECT, features: [addrFeature(":0")] });
  assertEquals(req, hex("01 01 00 07 02 00 04 03 00 00 00"));
  assertEquals(decodeFeatures(req.subarray(4)), [{ kind: "addr", atyp: ATYP_DOMAIN, host: "", port: 0 }]);
  assertEquals(addrString({ kind: "addr", atyp: ATYP_DOMAIN, host: "", port: 0 }), ":0");
});

Deno.test("relay.md §3.2 / forward.md §3: BIND requests and responses", async () => {
  assertEquals(
    encodeRequest({
      cmd: CMD_BIND,
      features: [{ kind: "network", network: NETWORK_TCP }, addrFeature("0.0.0.0:2222")],
    }),
    hex("01 02 00 0f 04 00 02 00 00 02 00 07 01 00 00 00 00 08 ae"),
  );
  assertEquals(
    encodeRequest({
      cmd: CMD_BIND,
      features: [{ kind: "network", network: NETWORK_TCP }, addrFeature("0.0.0.0:8080")],
    }),
    hex("01 02 00 0f 04 00 02 00 00 02 00 07 01 00 00 00 00 1f 90"),
  );
  // v3.2.6 sends `:2222` as a zero-length domain.
  assertEquals(
    encodeRequest({ cmd: CMD_BIND, features: [addrFeature(":2222")] }),
    hex("01 02 00 07 02 00 04 03 00 08 ae"),
  );
  assertEquals(
    await readResponse(chunked(hex("01 00 00 0a 02 00 07 01 00 00 00 00 08 ae"))),
    { version: 1, status: 0, features: [{ kind: "addr", atyp: ATYP_IPV4, host: "0.0.0.0", port: 2222 }] },
  );
  const peer = await readResponse(chunked(hex("01 00 00 0a 02 00 07 01 cb 00 71 07 c7 38"), 5));
  assertEquals(peer?.features, [{ kind: "addr", atyp: ATYP_IPV4, host: "203.0.113.7", port: 51000 }]);
  assertEquals(
    encodeResponse({ status: 0, features: [{ kind: "addr", atyp: ATYP_IPV4, host: "203.0.113.7", port: 51000 }] }),
    hex("01 00 00 0a 02 00 07 01 cb 00 71 07 c7 38"),
  );
});

Deno.test("addrFeature encodes like GOST's AddrFeature.ParseFrom", () => {
  const cases: [string, number, string, number][] = [
    ["example.com:443", ATYP_DOMAIN, "example.com", 443],
    ["1.2.3.4:80", ATYP_IPV4, "1.2.3.4", 80],
    ["[::1]:8080", ATYP_IPV6, "::1", 8080],
    ["[::ffff:1.2.3.4]:80", ATYP_IPV4, "1.2.3.4", 80],
    [":8080", ATYP_DOMAIN, "", 8080],
    [":0", ATYP_DOMAIN, "", 0],
    ["example.com", ATYP_DOMAIN, "example.com", 0],
    ["example.com:http", ATYP_DOMAIN, "example.com", 0],
    ["::1", ATYP_IPV6, "::1", 0],
    ["[fe80::1%eth0]:22", ATYP_DOMAIN, "fe80::1%eth0", 22],
    ["01.2.3.4:1", ATYP_DOMAIN, "01.2.3.4", 1],
  ];
  for (const [input, atyp, host, port] of cases) {
    assertEquals(addrFeature(input), { kind: "addr", atyp, host, port }, input);
  }
  assertEquals(
    encodeRequest({ cmd: 1, features: [addrFeature("[2001:db8::1]:443")] }),
    hex("01 01 00 16 02 00 13 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 01 bb"),
  );
});

Deno.test("decodeFeatures: IPv6 and IPv4-mapped addresses print like Go", () => {
  const v6 = decodeFeatures(hex("02 00 13 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 01 bb"));
  assertEquals(v6, [{ kind: "addr", atyp: ATYP_IPV6, host: "2001:db8::1", port: 443 }]);
  assertEquals(addrString(v6[0] as never), "[2001:db8::1]:443");
  const mapped = decodeFeatures(hex("02 00 13 04 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04 00 50"));
  assertEquals(mapped, [{ kind: "addr", atyp: ATYP_IPV6, host: "1.2.3.4", port: 80 }]);
});

Deno.test("decodeFeatures: GOST parsing rules", () => {
  // Bytes after the port are ignored.
  assertEquals(decodeFeatures(hex("02 00 09 01 7f 00 00 01 00 50 aa bb")), [
    { kind: "addr", atyp: ATYP_IPV4, host: "127.0.0.1", port: 80 },
  ]);
  // Empty user and password.
  assertEquals(decodeFeatures(hex("01 00 02 00 00")), [{ kind: "userAuth", username: "", password: "" }]);
  // Network: unknown ids read as tcp.
  assertEquals(decodeFeatures(hex("04 00 02 00 10")), [{ kind: "network", network: 0x10 }]);
  assertEquals(networkName(0x10), "unix");
  assertEquals(networkName(0x99), "tcp");
  assertEquals(networkId("udp6"), NETWORK_UDP);
  assertEquals(networkId("sctp"), undefined);
  // Tunnel: 20 bytes kept as they are.
  const tid = hex("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff 80 00 00 05");
  const t = decodeFeatures(new Uint8Array([3, 0, 20, ...tid]));
  assertEquals(t, [{ kind: "tunnel", id: tid }]);
  assertEquals(encodeRequest({ cmd: 1, features: t }).subarray(4), new Uint8Array([3, 0, 20, ...tid]));
  // Unknown types are kept opaque (relay HEAD), not rejected (relay v0.5.0).
  assertEquals(decodeFeatures(hex("09 00 02 ab cd 04 00 02 00 01")), [
    { kind: "opaque", type: 9, data: hex("ab cd") },
    { kind: "network", network: NETWORK_UDP },
  ]);
});

Deno.test("decodeFeatures: malformed lists are HandshakeErrors", () => {
  const bad = [
    "02 00 10 03 00", // LEN overflows the list
    "02 00", // truncated feature header
    "01 00 04 01 75 01 70 09", // stray byte
    "02 00 03 03 00 00", // address shorter than 4 bytes
    "02 00 05 01 7f 00 00 01", // short IPv4
    "02 00 10 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", // short IPv6
    "02 00 04 03 05 00 00", // domain length overflows
    "02 00 04 07 00 00 00", // unknown address type
    "01 00 01 00", // user auth shorter than 2
    "01 00 03 05 61 00", // user name overflows
    "01 00 04 01 75 05 70", // password overflows
    "03 00 02 00 00", // short tunnel id
    "04 00 01 00", // short network
  ];
  for (const b of bad) assertThrows(() => decodeFeatures(hex(b)), HandshakeError, undefined, b);
});

Deno.test("readRequest: bad version, truncation and clean end of stream", async () => {
  assertEquals(await readRequest(chunked(new Uint8Array(0))), null);
  await assertRejects(() => readRequest(chunked(hex("02 01 00 00"))), HandshakeError, "version 2");
  await assertRejects(() => readRequest(chunked(hex("01 01 00"))), Deno.errors.UnexpectedEof);
  await assertRejects(() => readRequest(chunked(hex("01 01 00 20 01 00 04"))), Deno.errors.UnexpectedEof);
  await assertRejects(() => readRequest(chunked(hex("01 01 00 03"))), Deno.errors.UnexpectedEof);
});

Deno.test("readRequest consumes exactly the request, leaving the payload", async () => {
  const r = chunked(new Uint8Array([...CONNECT_EXAMPLE, 0x47, 0x45, 0x54]), 1000);
  await readRequest(r);
  // Exact-size reads: the 3 payload bytes are still unread.
  assertEquals(r.consumed, CONNECT_EXAMPLE.length);
});

Deno.test("encode: oversized fields are RangeErrors", () => {
  assertThrows(
    () => encodeRequest({ cmd: 1, features: [{ kind: "userAuth", username: "x".repeat(256), password: "" }] }),
    RangeError,
  );
  assertThrows(
    () => encodeRequest({ cmd: 1, features: [{ kind: "userAuth", username: "", password: "x".repeat(256) }] }),
    RangeError,
  );
  assertThrows(() => encodeRequest({ cmd: 1, features: [addrFeature(`${"a".repeat(256)}:1`)] }), RangeError);
  const big = { kind: "opaque" as const, type: 9, data: new Uint8Array(40000) };
  assertThrows(() => encodeRequest({ cmd: 1, features: [big, big] }), RangeError);
});
