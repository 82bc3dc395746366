import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { Metadata } from "../../transports/metadata.ts";
import { HandshakeError } from "../../transports/types.ts";
import { offeredMethods } from "./connector.ts";
import { replyForDialError, selectMethod } from "./handler.ts";
import { parseConnectorMetadata, parseHandlerMetadata } from "./metadata.ts";
import {
  AddressTypeError,
  encodeAddr,
  encodeGreeting,
  encodeNetAddr,
  encodeReply,
  encodeRequest,
  encodeUserPass,
  readGreeting,
  readMessage,
  readUserPass,
} from "./protocol.ts";
import { bytes } from "./_testing.ts";

/** A reader that hands out `data` one byte per read (worst-case segmentation). */
function trickle(data: Uint8Array) {
  let off = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (off >= data.length) return Promise.resolve(null);
      p[0] = data[off++];
      return Promise.resolve(1);
    },
    get left() {
      return data.length - off;
    },
  };
}

Deno.test("socks5 codec: CONNECT request bytes match the spec example", () => {
  assertEquals(
    encodeRequest(0x01, "example.com:443"),
    bytes(0x05, 0x01, 0x00, 0x03, 0x0b, ...new TextEncoder().encode("example.com"), 0x01, 0xbb),
  );
});

Deno.test("socks5 codec: addresses", () => {
  assertEquals(encodeAddr(":80"), bytes(0x01, 127, 0, 0, 1, 0x00, 0x50));
  assertEquals(encodeAddr("10.1.2.3:8080"), bytes(0x01, 10, 1, 2, 3, 0x1f, 0x90));
  assertEquals(encodeAddr("[::1]:443"), bytes(0x04, ...new Array(15).fill(0), 1, 0x01, 0xbb));
  assertEquals(encodeAddr("[2001:db8::1]:1"), bytes(0x04, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0, 1));
  // MBIND example from the spec: ":2222" would be 127.0.0.1 for CONNECT; for 0.0.0.0 it is all zeros.
  assertEquals(encodeRequest(0xf2, "0.0.0.0:2222"), bytes(0x05, 0xf2, 0x00, 0x01, 0, 0, 0, 0, 0x08, 0xae));
});

Deno.test("socks5 codec: replies and greetings", () => {
  assertEquals(encodeReply(0x07), bytes(0x05, 0x07, 0x00, 0x01, 0, 0, 0, 0, 0, 0));
  assertEquals(
    encodeReply(0x00, encodeNetAddr({ transport: "tcp", hostname: "127.0.0.1", port: 4321 })),
    bytes(0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x10, 0xe1),
  );
  assertEquals(
    encodeNetAddr({ transport: "tcp", hostname: "::ffff:10.0.0.1", port: 1 }),
    bytes(0x01, 10, 0, 0, 1, 0, 1),
  );
  assertEquals(encodeNetAddr({ transport: "unix", path: "/x" }), bytes(0x01, 0, 0, 0, 0, 0, 0));
  assertEquals(encodeGreeting(offeredMethods(false, false)), bytes(0x05, 0x02, 0x00, 0x80));
  assertEquals(encodeGreeting(offeredMethods(true, false)), bytes(0x05, 0x04, 0x00, 0x02, 0x80, 0x82));
  assertEquals(encodeGreeting(offeredMethods(false, true)), bytes(0x05, 0x01, 0x00));
  assertEquals(encodeGreeting(offeredMethods(true, true)), bytes(0x05, 0x02, 0x00, 0x02));
  assertEquals(encodeUserPass("u", "pw"), bytes(0x01, 0x01, 0x75, 0x02, 0x70, 0x77));
});

Deno.test("socks5 codec: readers take exactly their bytes, byte by byte", async () => {
  const domain = trickle(bytes(0x05, 0x01, 0x00, 0x03, 0x09, ...new TextEncoder().encode("localhost"), 0, 80, 0xaa));
  assertEquals(await readMessage(domain), { code: 1, atyp: 3, addr: "localhost:80" });
  assertEquals(domain.left, 1);
  const v6 = trickle(bytes(0x05, 0x00, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0, 1));
  assertEquals(await readMessage(v6), { code: 0, atyp: 4, addr: "[2001:db8::1]:1" });
  const g = trickle(bytes(0x05, 0x02, 0x00, 0x80, 0x16));
  assertEquals(await readGreeting(g), bytes(0x00, 0x80));
  assertEquals(g.left, 1);
  assertEquals(await readUserPass(trickle(encodeUserPass("user", ""))), { username: "user", password: "" });
});

Deno.test("socks5 codec: garbage is rejected with the right error", async () => {
  await assertRejects(() => readGreeting(trickle(bytes(0x04, 0x01, 0x00))), HandshakeError, "Bad SOCKS version");
  await assertRejects(() => readGreeting(trickle(bytes(0x05, 0x00))), HandshakeError, "NMETHODS = 0");
  await assertRejects(() => readGreeting(trickle(bytes(0x05, 0x03, 0x00))), Deno.errors.UnexpectedEof);
  await assertRejects(() => readMessage(trickle(bytes(0x05, 0x01, 0x00, 0x09, 1, 2))), AddressTypeError);
  await assertRejects(() => readMessage(trickle(bytes(0x05, 0x01, 0x00, 0x01, 127, 0))), Deno.errors.UnexpectedEof);
  await assertRejects(() => readUserPass(trickle(bytes(0x05, 0x01, 0x61, 0x00))), HandshakeError);
});

Deno.test("socks5 handler: method selection (HEAD, RFC-compliant)", () => {
  const cases: [number[], boolean, boolean, number][] = [
    [[0x00, 0x80], false, false, 0x80], // GOST client, no auth: TLS
    [[0x00, 0x80], false, true, 0x00], // notls
    [[0x00, 0x02, 0x80, 0x82], true, false, 0x82], // GOST client with creds
    [[0x00, 0x02, 0x80, 0x82], true, true, 0x02],
    [[0x00, 0x02, 0x80, 0x82], false, false, 0x80],
    [[0x00, 0x02], false, false, 0x00], // curl with creds, server without auth
    [[0x00, 0x02], true, false, 0x02],
    [[0x00], true, false, 0xff], // v3.2.6 would say 02 here; HEAD refuses
    [[0x00, 0x80], true, false, 0xff], // v3.2.6 would say 82
    [[0x02], false, false, 0xff],
    [[0x01, 0x03], false, false, 0xff],
  ];
  for (const [offered, auth, notls, want] of cases) {
    assertEquals(selectMethod(new Uint8Array(offered), auth, notls), want, `${offered} auth=${auth} notls=${notls}`);
  }
});

Deno.test("socks5 handler: dial errors map to reply codes", () => {
  assertEquals(replyForDialError(new Deno.errors.ConnectionRefused("refused")), 0x05);
  assertEquals(replyForDialError(new Error("wrapped", { cause: new Deno.errors.ConnectionRefused("x") })), 0x05);
  assertEquals(replyForDialError(new Error("No route to host (os error 113)")), 0x04);
  assertEquals(replyForDialError(new Deno.errors.TimedOut("t")), 0x03);
  assertEquals(replyForDialError("?"), 0x03);
});

Deno.test("socks5 metadata: defaults, GOST keys and durations", () => {
  assertEquals(parseHandlerMetadata(new Metadata()), {
    readTimeout: 15_000,
    noTLS: false,
    enableBind: false,
    enableUDP: false,
    udpBufferSize: 4096,
    compatibilityMode: false,
    publicAddr: undefined,
  });
  const md = parseHandlerMetadata(
    new Metadata({ readtimeout: "30s", NoTLS: "true", bind: true, udp: "1", udpBufferSize: 100, comp: "t" }),
  );
  assertEquals([md.readTimeout, md.noTLS, md.enableBind, md.enableUDP, md.udpBufferSize, md.compatibilityMode], [
    30_000,
    true,
    true,
    true,
    512,
    true,
  ]);
  assertEquals(parseHandlerMetadata(new Metadata({ readTimeout: "0" })).readTimeout, 15_000);
  assertEquals(parseHandlerMetadata(new Metadata({ "socks.publicAddr": "1.2.3.4" })).publicAddr, "1.2.3.4");
  assertEquals(parseConnectorMetadata(new Metadata({ notls: "true", timeout: "5" })), { noTLS: true, timeout: 5000 });
  assertEquals(parseConnectorMetadata(new Metadata()), { noTLS: false, timeout: 0 });
});
