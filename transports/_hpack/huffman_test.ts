import { assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  CODE_LENGTHS,
  CODES,
  EOS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  HuffmanError,
} from "./huffman.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("huffman: codes rebuilt from lengths match rows of RFC 7541 Appendix B", () => {
  // [symbol, code as hex (LSB aligned), length]
  const rows: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [1, 0x7fffd8, 23],
    [9, 0xffffea, 24],
    [10, 0x3ffffffc, 30],
    [32, 0x14, 6],
    [48, 0x0, 5],
    [92, 0x7fff0, 19],
    [97, 0x3, 5],
    [127, 0xffffffc, 28],
    [128, 0xfffe6, 20],
    [199, 0x1ffffec, 25],
    [230, 0x1fffe8, 21],
    [255, 0x3ffffee, 26],
    [EOS, 0x3fffffff, 30],
  ];
  for (const [sym, code, len] of rows) {
    assertEquals([CODES[sym], CODE_LENGTHS[sym]], [code, len], `symbol ${sym}`);
  }
});

// RFC 7541 C.4 (requests) and C.6 (responses), Huffman-coded string literals.
const EXAMPLES: [string, string][] = [
  ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
  ["no-cache", "a8eb 1064 9cbf"],
  ["custom-key", "25a8 49e9 5ba9 7d7f"],
  ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
  ["302", "6402"],
  ["private", "aec3 771a 4b"],
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
  ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
  ["307", "640e ff"],
  ["Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"],
  ["gzip", "9bd9 ab"],
  [
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ],
];

Deno.test("huffman: RFC 7541 C.4/C.6 examples encode", () => {
  for (const [text, coded] of EXAMPLES) {
    assertEquals(toHex(huffmanEncode(enc.encode(text))), coded.replace(/\s/g, ""), text);
    assertEquals(huffmanEncodedLength(enc.encode(text)), hex(coded).length);
  }
});

Deno.test("huffman: RFC 7541 C.4/C.6 examples decode", () => {
  for (const [text, coded] of EXAMPLES) assertEquals(dec.decode(huffmanDecode(hex(coded))), text);
});

Deno.test("huffman: every byte value round-trips", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assertEquals(huffmanDecode(huffmanEncode(all)), all);
  assertEquals(huffmanDecode(new Uint8Array(0)), new Uint8Array(0));
});

Deno.test("huffman: invalid padding and EOS are rejected (RFC 7541 §5.2)", () => {
  // "a" is 00011; padding must be ones: 00011|111 = 0x1f is fine, 00011|110 is not.
  assertEquals(dec.decode(huffmanDecode(hex("1f"))), "a");
  assertThrows(() => huffmanDecode(hex("1e")), HuffmanError, "padding");
  // Padding of 8 or more bits: a full 0xff byte after a complete symbol.
  assertThrows(() => huffmanDecode(hex("1fff")), HuffmanError, "longer than 7 bits");
  // EOS (30 ones) encoded explicitly.
  assertThrows(() => huffmanDecode(hex("ffffffff")), HuffmanError);
  // A string that ends inside a longer code of zeros-and-ones is not EOS padding.
  assertThrows(() => huffmanDecode(hex("fe")), HuffmanError, "padding");
});

Deno.test("huffman: maxLength bounds the output", () => {
  const coded = huffmanEncode(enc.encode("hello world"));
  assertEquals(dec.decode(huffmanDecode(coded, 11)), "hello world");
  const e = assertThrows(() => huffmanDecode(coded, 10), HuffmanError, "longer than 10") as HuffmanError;
  assertEquals(e.tooLong, true);
  assertEquals((assertThrows(() => huffmanDecode(hex("1e")), HuffmanError) as HuffmanError).tooLong, false);
});
