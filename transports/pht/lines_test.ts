import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { decodeLine, decodeParts, encodeLine, encodeLines, LineSplitter, MAX_PULL_LINE_PAYLOAD } from "./lines.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("pht lines: encodeLine is base64 with padding and one newline", () => {
  assertEquals(dec.decode(encodeLine(enc.encode("hello"))), "aGVsbG8=\n");
  assertEquals(dec.decode(encodeLine(new Uint8Array(0))), "\n");
  assertEquals(decodeLine(enc.encode("aGVsbG8=")), enc.encode("hello"));
  assertEquals(decodeLine("aGVsbG8=\r"), enc.encode("hello"), "a CR before the LF is dropped");
  assertThrows(() => decodeLine(enc.encode("not base64!")), SyntaxError, "Invalid base64");
});

Deno.test("pht lines: encodeLines keeps every line (with its newline) below 64 KiB", () => {
  const data = crypto.getRandomValues(new Uint8Array(65536)).subarray(0);
  const big = new Uint8Array(3 * MAX_PULL_LINE_PAYLOAD + 1000);
  for (let i = 0; i < big.length; i += data.length) big.set(data.subarray(0, Math.min(data.length, big.length - i)), i);
  const out = encodeLines(big);
  const text = dec.decode(out);
  const lines = text.split("\n");
  assertEquals(lines.pop(), "", "ends with a newline");
  assertEquals(lines.length, 4);
  for (const l of lines) assert(l.length + 1 < 65536, `line of ${l.length}`);
  const back = lines.map((l) => Uint8Array.fromBase64(l));
  assertEquals(back.reduce((n, b) => n + b.length, 0), big.length);
  let off = 0;
  for (const b of back) {
    assertEquals(b, big.subarray(off, off + b.length));
    off += b.length;
  }
});

Deno.test("pht lines: the splitter handles lines across chunks, empty lines, and bounds length", () => {
  const got: string[] = [];
  const s = new LineSplitter(16);
  for (const chunk of ["ab", "c\n\nde", "f\ng", "hi\n"]) s.push(enc.encode(chunk), (l) => got.push(l));
  assertEquals(got, ["abc", "", "def", "ghi"]);
  assertEquals(s.pending, 0);
  assertThrows(() => s.push(enc.encode("x".repeat(17)), () => {}), RangeError);
  const t = new LineSplitter(16);
  assertThrows(() => t.push(enc.encode("y".repeat(17) + "\n"), () => {}), RangeError);
});

Deno.test("pht lines: decodeParts decodes base64 split anywhere, and rejects garbage", () => {
  const data = crypto.getRandomValues(new Uint8Array(10_000));
  const text = data.toBase64();
  for (const cuts of [[1], [2, 3], [4097, 4098, 8191], [text.length - 1]]) {
    const parts: string[] = [];
    let prev = 0;
    for (const c of cuts) {
      parts.push(text.slice(prev, c));
      prev = c;
    }
    parts.push(text.slice(prev));
    assertEquals(decodeParts(parts, text.length), data, `cut at ${cuts}`);
  }
  assertEquals(decodeParts(["aGVsbG8=\r"], 9), enc.encode("hello"));
  assertThrows(() => decodeParts(["aGVs", "b!8="], 8), SyntaxError);
});
