import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  addressesOf,
  CLASS_IN,
  clientSubnetOf,
  decodeMessage,
  encodeName,
  encodeQuery,
  isReplyTo,
  rcodeName,
  readName,
  TYPE_A,
  TYPE_AAAA,
  TYPE_CNAME,
  TYPE_OPT,
} from "./message.ts";

type Part = number | string | Part[];

/** Bytes from numbers, ASCII strings and rows of them, so packets read like a hex dump with labels. */
function bytes(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  const add = (p: Part) => {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") { for (const c of p) out.push(c.charCodeAt(0)); }
    else p.forEach(add);
  };
  parts.forEach(add);
  return new Uint8Array(out);
}

const u16 = (n: number) => [n >> 8, n & 0xff];

/** Header: id 0x1234, QR+RD+RA, rcode, and the four counts. */
function header(qd: number, an: number, ns = 0, ar = 0, rcode = 0): number[] {
  return [0x12, 0x34, 0x81, 0x80 | rcode, ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}

// www.example.com A, answered through a CNAME, every later name compressed:
//   12: 3www 7example 3com 0 | A IN                 (question; "example" starts at 16)
//   33: C00C CNAME IN ttl 300 rdlen 6: 3web C010    (web.example.com; "web" at 45)
//   51: C02D A IN ttl 60 rdlen 4: 192.0.2.1
const compressed = bytes(
  header(1, 2),
  [3, "www", 7, "example", 3, "com", 0, u16(TYPE_A), u16(CLASS_IN)],
  [0xc0, 12, u16(TYPE_CNAME), u16(CLASS_IN), 0, 0, 0x01, 0x2c, u16(6), 3, "web", 0xc0, 16],
  [0xc0, 45, u16(TYPE_A), u16(CLASS_IN), 0, 0, 0, 60, u16(4), 192, 0, 2, 1],
);

Deno.test("encodeQuery: header, question, RD set, no OPT record without a client subnet", () => {
  const q = encodeQuery(0xbeef, "www.Example.com", TYPE_AAAA);
  assertEquals(
    q,
    bytes([0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0], [3, "www", 7, "Example", 3, "com", 0, 0, 28, 0, 1]),
  );
  assertEquals(encodeQuery(0xbeef, "www.Example.com.", TYPE_AAAA), q, "a trailing dot changes nothing");
});

Deno.test("encodeQuery: EDNS0 client subnet /24 for IPv4 (3 address bytes) and /128 for IPv6", () => {
  const q = encodeQuery(1, "a", TYPE_A, { clientSubnet: clientSubnetOf("198.51.100.77") });
  // header(12) + 1a0(3) + type/class(4) = 19, then the OPT record
  assertEquals(q[11], 1, "ARCOUNT");
  assertEquals(
    q.subarray(19),
    bytes(
      0,
      ...u16(TYPE_OPT),
      ...u16(1232),
      0,
      0,
      0,
      0,
      ...u16(11),
      ...u16(8),
      ...u16(7),
      ...u16(1),
      24,
      0,
      198,
      51,
      100,
    ),
  );
  const m = decodeMessage(q);
  assertEquals(m.additionals.length, 1);
  assertEquals(m.additionals[0].type, TYPE_OPT);

  const q6 = encodeQuery(1, "a", TYPE_A, { clientSubnet: clientSubnetOf("2001:db8::1") });
  const opt = q6.subarray(19);
  assertEquals(opt.subarray(11, 19), bytes(...u16(8), ...u16(20), ...u16(2), 128, 0));
  assertEquals(opt.subarray(19), bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
});

Deno.test("encodeQuery: bits past the prefix are zeroed", () => {
  const q = encodeQuery(1, "a", TYPE_A, {
    clientSubnet: { family: 1, prefix: 20, address: new Uint8Array([10, 255, 255, 255]) },
  });
  assertEquals(q.subarray(19 + 19), bytes(10, 255, 0xf0));
});

Deno.test("clientSubnetOf: rejects what is not an IP literal", () => {
  assertThrows(() => clientSubnetOf("example.com"), TypeError, `"example.com"`);
  assertThrows(() => clientSubnetOf("1.2.3.256"), TypeError);
});

Deno.test("encodeName: root, limits, and names DNS cannot carry", () => {
  assertEquals(encodeName(""), bytes(0));
  assertEquals(encodeName("."), bytes(0));
  assertEquals(encodeName("x".repeat(63)).length, 65);
  assertThrows(() => encodeName("a..b"), TypeError, "empty label");
  assertThrows(() => encodeName(".a"), TypeError, "empty label");
  assertThrows(() => encodeName("x".repeat(64) + ".com"), TypeError, "longer than 63");
  const long = Array(4).fill("x".repeat(63)).join("."); // 4 * 64 + 1 = 257 bytes
  assertThrows(() => encodeName(long), TypeError, "longer than 255");
  assertEquals(encodeName(Array(4).fill("x".repeat(62)).join(".")).length, 253);
});

Deno.test("decodeMessage: compression pointers in names and inside CNAME data", () => {
  const m = decodeMessage(compressed);
  assertEquals(m.id, 0x1234);
  assert(m.response);
  assertEquals(m.rcode, 0);
  assertEquals(m.questions, [{ name: "www.example.com", type: TYPE_A, class: CLASS_IN }]);
  assertEquals(m.answers.map((r) => [r.name, r.type, r.ttl, r.target ?? r.address]), [
    ["www.example.com", TYPE_CNAME, 300, "web.example.com"],
    ["web.example.com", TYPE_A, 60, "192.0.2.1"],
  ]);
  assertEquals(addressesOf(m, "www.example.com", TYPE_A), ["192.0.2.1"]);
  assertEquals(addressesOf(m, "WWW.EXAMPLE.COM.", TYPE_A), ["192.0.2.1"], "names compare case-insensitively");
  assertEquals(addressesOf(m, "www.example.com", TYPE_AAAA), []);
});

Deno.test("decodeMessage: every truncation of a valid reply is a SyntaxError", () => {
  for (let n = 0; n < compressed.length; n++) {
    assertThrows(() => decodeMessage(compressed.subarray(0, n)), SyntaxError, "Malformed DNS message");
  }
});

Deno.test("readName: a pointer to itself, a forward pointer and a two-pointer loop are errors, not hangs", () => {
  const self = bytes(...header(1, 0), 0xc0, 12, 0, 1, 0, 1);
  assertThrows(() => decodeMessage(self), SyntaxError, "does not point back");
  // 12: 1a C010 | 16: 1b C00C  — a → b → a …
  const loop = bytes(...header(0, 0), 1, "a", 0xc0, 16, 1, "b", 0xc0, 12);
  assertThrows(() => readName(loop, 12), SyntaxError, "does not point back");
  assertThrows(() => readName(loop, 16), SyntaxError, "does not point back");
  // A chain that only goes back is fine: 12: 1a 0 | 15: 1b C00C | 19: 1c C00F
  const chain = bytes(...header(0, 0), 1, "a", 0, 1, "b", 0xc0, 12, 1, "c", 0xc0, 15);
  assertEquals(readName(chain, 19), { name: "c.b.a", next: 23 });
});

Deno.test("readName: reserved label types, overlong names, and escaping of odd bytes", () => {
  assertThrows(() => readName(bytes(0x40, 0), 0), SyntaxError, "unknown label type");
  assertThrows(() => readName(bytes(0x80, 0), 0), SyntaxError, "unknown label type");
  // 5 labels of 63 bytes = 320 bytes of name, via no pointers at all
  const big = new Uint8Array(5 * 64 + 1);
  for (let i = 0; i < 5; i++) big[i * 64] = 63;
  assertThrows(() => readName(big, 0), SyntaxError, "over 255 bytes");
  assertEquals(readName(bytes(3, "a.b", 1, "\\", 2, 0x20, 0xff, 0), 0).name, "a\\046b.\\092.\\032\\255");
});

Deno.test("decodeMessage: A/AAAA with the wrong RDATA length and a CNAME overrunning its RDATA are errors", () => {
  const badA = bytes(...header(0, 1), 0, ...u16(TYPE_A), ...u16(CLASS_IN), 0, 0, 0, 1, ...u16(5), 1, 2, 3, 4, 5);
  assertThrows(() => decodeMessage(badA), SyntaxError, "A record of 5 bytes");
  const badAAAA = bytes(...header(0, 1), 0, ...u16(TYPE_AAAA), ...u16(CLASS_IN), 0, 0, 0, 1, ...u16(4), 1, 2, 3, 4);
  assertThrows(() => decodeMessage(badAAAA), SyntaxError, "AAAA record of 4 bytes");
  // CNAME rdlen 2 but the name inside is 3 bytes ("\x01a\x00")
  const badCname = bytes(...header(0, 1), 0, ...u16(TYPE_CNAME), ...u16(CLASS_IN), 0, 0, 0, 1, ...u16(2), 1, "a", 0);
  assertThrows(() => decodeMessage(badCname), SyntaxError);
});

Deno.test("decodeMessage: AAAA is formatted compressed; unknown types keep raw data", () => {
  const m = decodeMessage(bytes(
    header(0, 2),
    [0, u16(TYPE_AAAA), u16(CLASS_IN), 0, 0, 0, 9, u16(16), 0x20, 0x01, 0x0d, 0xb8, Array(11).fill(0), 8],
    [0, u16(16), u16(CLASS_IN), 0, 0, 0, 9, u16(3), 2, "hi"], // TXT
  ));
  assertEquals(m.answers[0].address, "2001:db8::8");
  assertEquals(m.answers[1].data, bytes(2, "hi"));
});

Deno.test("decodeMessage: random garbage either decodes or is a SyntaxError, never anything else", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let i = 0; i < 3000; i++) {
    const buf = new Uint8Array(rnd() % 96);
    for (let j = 0; j < buf.length; j++) buf[j] = rnd() & 0xff;
    if (buf.length > 6 && i % 2) buf.set([0, 1, 0, 2, 0, 0, 0, 0].slice(0, Math.min(8, buf.length - 4)), 4); // plausible counts
    try {
      decodeMessage(buf);
    } catch (err) {
      assert(err instanceof SyntaxError, `unexpected ${err}`);
    }
    isReplyTo(buf, buf); // never throws
  }
});

Deno.test("isReplyTo: id, QR bit and question must match; 0x20 case changes are fine; garbage is false", () => {
  const q = encodeQuery(0x1234, "www.example.com", TYPE_A);
  assert(isReplyTo(q, compressed));
  const mixed = compressed.slice();
  mixed[13] = "W".charCodeAt(0);
  assert(isReplyTo(q, mixed), "case of the echoed question does not matter");
  assert(!isReplyTo(encodeQuery(0x1235, "www.example.com", TYPE_A), compressed), "other id");
  assert(!isReplyTo(encodeQuery(0x1234, "www.example.com", TYPE_AAAA), compressed), "other type");
  assert(!isReplyTo(encodeQuery(0x1234, "ww.example.com", TYPE_A), compressed), "other name");
  assert(!isReplyTo(q, q), "a query (QR clear) is no reply");
  assert(!isReplyTo(q, bytes(0x12, 0x34, 0x81)), "truncated header");
  assert(!isReplyTo(q, bytes(...header(0, 0))), "no question");
  assert(!isReplyTo(q, new Uint8Array(0)));
});

Deno.test("addressesOf: CNAME chains in any order, loops ignored, other owners ignored", () => {
  const rr = (name: string, type: number, v: string) =>
    type === TYPE_CNAME
      ? { name, type, class: CLASS_IN, ttl: 1, data: new Uint8Array(), target: v }
      : { name, type, class: CLASS_IN, ttl: 1, data: new Uint8Array(), address: v };
  const msg = {
    id: 0,
    flags: 0,
    rcode: 0,
    response: true,
    truncated: false,
    questions: [],
    authorities: [],
    additionals: [],
    answers: [
      rr("c.test", TYPE_A, "10.0.0.3"),
      rr("b.test", TYPE_CNAME, "C.test"),
      rr("a.test", TYPE_CNAME, "b.test"),
      rr("c.test", TYPE_CNAME, "a.test"), // a loop back to the start
      rr("other.test", TYPE_A, "10.0.0.9"),
      rr("c.test", TYPE_AAAA, "::3"),
    ],
  };
  assertEquals(addressesOf(msg, "a.test", TYPE_A), ["10.0.0.3"]);
  assertEquals(addressesOf(msg, "a.test", TYPE_AAAA), ["::3"]);
  assertEquals(addressesOf(msg, "other.test", TYPE_A), ["10.0.0.9"]);
  assertEquals(addressesOf(msg, "none.test", TYPE_A), []);
});

Deno.test("rcodeName", () => {
  assertEquals(rcodeName(2), "SERVFAIL");
  assertEquals(rcodeName(5), "REFUSED");
  assertEquals(rcodeName(9), "RCODE9");
});
