import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { ErrorCode, H3Error } from "./frames.ts";
import { decodeFieldSection, decodePrefixInt, encodeFieldSection, encodePrefixInt, STATIC_TABLE } from "./qpack.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function failsWith(buf: Uint8Array, code: number, maxSize?: number): H3Error {
  const e = assertThrows(() => decodeFieldSection(buf, maxSize), H3Error) as H3Error;
  assertEquals(e.code, code, e.message);
  return e;
}

Deno.test("qpack: static table is RFC 9204 Appendix A", () => {
  assertEquals(STATIC_TABLE.length, 99);
  assertEquals(STATIC_TABLE[0], [":authority", ""]);
  assertEquals(STATIC_TABLE[17], [":method", "GET"]);
  assertEquals(STATIC_TABLE[25], [":status", "200"]);
  assertEquals(STATIC_TABLE[31], ["accept-encoding", "gzip, deflate, br"]);
  assertEquals(STATIC_TABLE[52], ["content-type", "text/html; charset=utf-8"]);
  assertEquals(STATIC_TABLE[85], ["content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"]);
  assertEquals(STATIC_TABLE[98], ["x-frame-options", "sameorigin"]);
});

Deno.test("qpack: prefix integers, RFC 7541 C.1 examples", () => {
  const enc = (flags: number, n: number, v: number) => {
    const out: number[] = [];
    encodePrefixInt(out, flags, n, v);
    return toHex(Uint8Array.from(out));
  };
  assertEquals(enc(0, 5, 10), "0a");
  assertEquals(enc(0, 5, 1337), "1f9a0a");
  assertEquals(enc(0, 8, 42), "2a");
  assertEquals(decodePrefixInt(hex("0a"), 0, 5), { value: 10, next: 1 });
  assertEquals(decodePrefixInt(hex("1f9a0a"), 0, 5), { value: 1337, next: 3 });
  assertEquals(decodePrefixInt(hex("ffff"), 0, 5), null); // truncated
  assertThrows(() => decodePrefixInt(hex("1f" + "ff".repeat(12) + "01"), 0, 5), RangeError);
});

Deno.test("qpack: RFC 9204 B.1 literal field line with name reference", () => {
  assertEquals(decodeFieldSection(hex("0000 510b 2f69 6e64 6578 2e68 746d 6c")), [[":path", "/index.html"]]);
  assertEquals(
    toHex(encodeFieldSection([[":path", "/index.html"]], { huffman: false })),
    "0000510b2f696e6465782e68746d6c",
  );
});

Deno.test("qpack: RFC 9204 B.2 (dynamic table) is refused with QPACK_DECOMPRESSION_FAILED", () => {
  const e = failsWith(hex("0381 10 11"), ErrorCode.QPACK_DECOMPRESSION_FAILED);
  assert(e.connection);
});

Deno.test("qpack: encoder uses static indexes, name references and literals", () => {
  const fields: [string, string][] = [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "example.com"],
    [":path", "/"],
    ["x-custom", "v"],
  ];
  const plain = encodeFieldSection(fields, { huffman: false });
  assertEquals(
    toHex(plain),
    "0000" + "d1" + "d7" + "500b" + toHex(new TextEncoder().encode("example.com")) + "c1" +
      "2701" + toHex(new TextEncoder().encode("x-custom")) + "0176",
  );
  assertEquals(decodeFieldSection(plain), fields);
  const coded = encodeFieldSection(fields);
  assert(coded.length < plain.length, "Huffman makes it shorter");
  assertEquals(decodeFieldSection(coded), fields);
});

Deno.test("qpack: Huffman-coded names and values from a peer decode", () => {
  // Literal field line with literal name, H set on both: "custom-key: custom-value" (codes from RFC 7541 C.4.3).
  const buf = hex("0000 2f01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf");
  assertEquals(decodeFieldSection(buf), [["custom-key", "custom-value"]]);
  // Name reference to :authority, Huffman value "www.example.com".
  assertEquals(decodeFieldSection(hex("0000 50 8c f1e3c2e5f23a6ba0ab90f4ff")), [[":authority", "www.example.com"]]);
});

Deno.test("qpack: sensitive fields carry the never-index bit", () => {
  const b = encodeFieldSection([["authorization", "Basic x"]], { huffman: false });
  assertEquals(b[2], 0x70 | 0x0f); // 01 N=1 T=1 index 84 -> 4-bit prefix full
  assertEquals(decodeFieldSection(b), [["authorization", "Basic x"]]);
  const lit = encodeFieldSection([["proxy-authorization", "x"]], { huffman: false });
  assertEquals(decodeFieldSection(lit), [["proxy-authorization", "x"]]);
});

Deno.test("qpack: byte-string values (Latin-1) survive; wider characters are refused", () => {
  const v = "caf\u00e9\u00ff";
  assertEquals(decodeFieldSection(encodeFieldSection([["x-v", v]])), [["x-v", v]]);
  assertThrows(() => encodeFieldSection([["x-v", "\u20ac"]]), TypeError);
});

Deno.test("qpack: malformed sections are QPACK_DECOMPRESSION_FAILED", () => {
  const F = ErrorCode.QPACK_DECOMPRESSION_FAILED;
  failsWith(new Uint8Array(0), F); // no prefix
  failsWith(hex("00"), F); // half a prefix
  failsWith(hex("0000 80"), F); // indexed, dynamic (T=0)
  failsWith(hex("0000 10"), F); // indexed, post-base
  failsWith(hex("0000 4100"), F); // literal with dynamic name reference
  failsWith(hex("0000 0000"), F); // literal with post-base name reference
  failsWith(hex("0000 ff24"), F); // static index 99, out of range
  failsWith(hex("0000 510b 2f69"), F); // string longer than the section
  failsWith(hex("0000 51"), F); // name reference without a value
  failsWith(hex("0000 2361 62"), F); // literal name without a value
  failsWith(hex("0000 5181 fe"), F); // Huffman value with bad padding
  failsWith(hex("0000 5f" + "ff".repeat(12) + "01"), F); // index integer overflows
  failsWith(hex("0000 517f" + "ff".repeat(12) + "01"), F); // length integer overflows
});

Deno.test("qpack: field sections over the limit are a stream-level H3_EXCESSIVE_LOAD", () => {
  const big = encodeFieldSection([["x-big", "a".repeat(2000)]], { huffman: false });
  assertEquals(decodeFieldSection(big, 4096)[0][1].length, 2000);
  const e = failsWith(big, ErrorCode.H3_EXCESSIVE_LOAD, 1000);
  assert(!e.connection);
  // Huffman-coded values are bounded while decoding, not after.
  failsWith(encodeFieldSection([["x-big", "a".repeat(2000)]]), ErrorCode.H3_EXCESSIVE_LOAD, 1000);
  // Many small lines add up (32 bytes of overhead each).
  const many = encodeFieldSection(Array.from({ length: 40 }, () => ["age", "0"] as [string, string]));
  failsWith(many, ErrorCode.H3_EXCESSIVE_LOAD, 1000);
});
