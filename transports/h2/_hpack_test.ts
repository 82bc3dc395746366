import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { huffmanDecode, huffmanEncodedLength, huffmanEncodeInto, HuffmanError } from "../_hpack/huffman.ts";
import { type HeaderField, HpackDecoder, HpackEncoder, HpackError, latin1, latin1Bytes } from "./_hpack.ts";

function hex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function huff(s: string): string {
  const raw = latin1Bytes(s);
  const out = new Uint8Array(huffmanEncodedLength(raw));
  assertEquals(huffmanEncodeInto(raw, out, 0), out.length);
  return toHex(out);
}

// RFC 7541 Appendix C.4 and C.6: Huffman-coded literals.
const HUFFMAN_EXAMPLES: [string, string][] = [
  ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
  ["no-cache", "a8eb10649cbf"],
  ["custom-key", "25a849e95ba97d7f"],
  ["custom-value", "25a849e95bb8e8b4bf"],
  ["302", "6402"],
  ["private", "aec3771a4b"],
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"],
  ["https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"],
];

Deno.test("huffman: RFC 7541 C.4/C.6 strings encode and decode", () => {
  for (const [text, coded] of HUFFMAN_EXAMPLES) {
    assertEquals(huff(text), coded, text);
    assertEquals(latin1(huffmanDecode(hex(coded))), text, text);
  }
});

Deno.test("huffman: every byte value round-trips, alone and in a run", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const out = new Uint8Array(huffmanEncodedLength(all));
  huffmanEncodeInto(all, out, 0);
  assertEquals(huffmanDecode(out), all);
  for (let b = 0; b < 256; b++) {
    const one = new Uint8Array([b]);
    const o = new Uint8Array(huffmanEncodedLength(one));
    huffmanEncodeInto(one, o, 0);
    assertEquals(huffmanDecode(o), one);
  }
});

Deno.test("huffman: padding longer than 7 bits, zero padding and EOS are errors", () => {
  // "0" is 00000 (5 bits); a full byte of 1s after it is 11 bits of padding.
  assertThrows(() => huffmanDecode(new Uint8Array([0x07, 0xff])), HuffmanError, "padding");
  // "0" then padding of zeros instead of ones.
  assertThrows(() => huffmanDecode(new Uint8Array([0x00])), HuffmanError, "padding");
  // EOS is 30 ones.
  assertThrows(() => huffmanDecode(new Uint8Array([0xff, 0xff, 0xff, 0xff])), HuffmanError, "EOS");
  assertEquals(huffmanDecode(new Uint8Array(0)).length, 0);
});

const REQ1: HeaderField[] = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [
  ":authority",
  "www.example.com",
]];
const REQ2: HeaderField[] = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];

Deno.test("hpack decoder: RFC 7541 C.3 requests without Huffman share the dynamic table", () => {
  const d = new HpackDecoder();
  assertEquals(d.decode(hex("828684410f7777772e6578616d706c652e636f6d")).headers, REQ1);
  assertEquals(d.tableLength, 1);
  assertEquals(d.decode(hex("828684be58086e6f2d6361636865")).headers, REQ2);
  assertEquals(d.decode(hex("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565")).headers, REQ3);
  assertEquals(d.tableLength, 3);
});

Deno.test("hpack decoder: RFC 7541 C.4 requests with Huffman", () => {
  const d = new HpackDecoder();
  assertEquals(d.decode(hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")).headers, REQ1);
  assertEquals(d.decode(hex("828684be5886a8eb10649cbf")).headers, REQ2);
  assertEquals(d.decode(hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")).headers, REQ3);
});

Deno.test("hpack decoder: entries are evicted to fit a table size update", () => {
  const d = new HpackDecoder();
  d.decode(hex("828684410f7777772e6578616d706c652e636f6d"));
  d.decode(hex("828684be58086e6f2d6361636865"));
  assertEquals(d.tableLength, 2);
  // Size update to 64: only "cache-control: no-cache" (13 + 8 + 32 = 53) fits; then index 62 is it.
  assertEquals(d.decode(hex("3f21be")).headers, [["cache-control", "no-cache"]]);
  assertEquals(d.tableLength, 1);
  assertThrows(() => d.decode(hex("3fe21f")), HpackError, "exceeds"); // 4097
});

Deno.test("hpack decoder: malformed blocks are errors; oversized lists are flagged but stay in sync", () => {
  const d = new HpackDecoder();
  assertThrows(() => d.decode(hex("80")), HpackError, "index 0");
  assertThrows(() => d.decode(hex("ff00")), HpackError, "out of range");
  assertThrows(() => d.decode(hex("410f7777")), HpackError, "truncated");
  assertThrows(() => d.decode(hex("1f")), HpackError, "truncated");
  const big = new HpackEncoder().encode([["x-big", "v".repeat(200)]]);
  const r = d.decode(big, 100);
  assert(r.tooLarge);
  assertEquals(r.headers, []);
});

Deno.test("hpack encoder: static indexes, never-indexed credentials, Huffman when shorter; decodes back", () => {
  const e = new HpackEncoder();
  const fields: HeaderField[] = [
    [":method", "CONNECT"],
    [":authority", "example.com:443"],
    ["proxy-authorization", "Basic dXNlcjpwYXNz"],
    ["user-agent", "Go-http-client/2.0"],
    ["x-custom", "\x01\xff"],
    [":status", "200"],
  ];
  const block = e.encode(fields);
  assertEquals(new HpackDecoder().decode(block).headers, fields);
  // ":status: 200" is static index 8 → one byte 0x88, the last one.
  assertEquals(block[block.length - 1], 0x88);
  // proxy-authorization (static name index 49 > 15) starts with 0001 1111 (never indexed).
  assert(block.includes(0x1f));
  e.tableSizeChanged();
  const next = e.encode([[":method", "GET"]]);
  assertEquals(toHex(next), "2082", "a size update to 0 leads the next block");
  assertEquals(toHex(e.encode([[":method", "GET"]])), "82");
});

Deno.test("hpack decoder: an integer padded with zero continuation bytes is an error, not NaN (fuzz regression)", () => {
  // Found by `deno task fuzz --only hpack`: 150 bytes of 0x80 made the size update NaN, after
  // which the dynamic table was never evicted and grew with every block.
  const d = new HpackDecoder(4096);
  const update = new Uint8Array([0x3f, ...new Array(150).fill(0x80), 0x00]);
  assertThrows(() => d.decode(update), HpackError, "too large");
  const literal = new Uint8Array([0x40, 1, 0x61, 1, 0x62]); // literal with incremental indexing, "a: b"
  for (let i = 0; i < 1000; i++) d.decode(literal);
  assert(d.tableLength <= 4096 / 34, `table holds ${d.tableLength} entries`);
});
