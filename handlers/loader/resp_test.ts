import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { encodeCommand, RedisErrorReply, RedisProtocolError, type RedisValue, RespReader } from "./resp.ts";

const enc = new TextEncoder();

/** A reader handing out the given chunks one per read, then end of stream (or never, with `hang`). */
function chunked(chunks: Uint8Array[], hang = false) {
  let i = 0;
  let off = 0;
  return {
    reads: 0,
    read(p: Uint8Array): Promise<number | null> {
      this.reads++;
      if (i >= chunks.length) return hang ? new Promise(() => {}) : Promise.resolve(null);
      const c = chunks[i];
      const n = Math.min(p.length, c.length - off);
      p.set(c.subarray(off, off + n));
      off += n;
      if (off === c.length) {
        i++;
        off = 0;
      }
      return Promise.resolve(n);
    },
  };
}

/** A reader yielding `fill` forever (a server spewing bytes). */
function endless(first: string, fill: number) {
  let sentFirst = false;
  return {
    read(p: Uint8Array): Promise<number> {
      if (!sentFirst) {
        sentFirst = true;
        const b = enc.encode(first);
        p.set(b);
        return Promise.resolve(b.length);
      }
      p.fill(fill);
      return Promise.resolve(p.length);
    },
  };
}

async function readAllReplies(chunks: Uint8Array[], count: number): Promise<RedisValue[]> {
  const r = new RespReader(chunked(chunks));
  const out: RedisValue[] = [];
  for (let i = 0; i < count; i++) out.push(await r.read());
  return out;
}

function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out.filter((c) => c.length > 0);
}

Deno.test("encodeCommand: array of bulk strings, lengths in UTF-8 bytes", () => {
  assertEquals(new TextDecoder().decode(encodeCommand(["SMEMBERS", "gost"])), "*2\r\n$8\r\nSMEMBERS\r\n$4\r\ngost\r\n");
  assertEquals(
    new TextDecoder().decode(encodeCommand(["GET", "ключ", ""])),
    "*3\r\n$3\r\nGET\r\n$8\r\nключ\r\n$0\r\n\r\n",
  );
});

const stream = [
  "+OK\r\n",
  "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
  ":0\r\n",
  ":-42\r\n",
  ":9007199254740991\r\n",
  "$5\r\nhello\r\n",
  "$0\r\n\r\n",
  "$-1\r\n",
  "$6\r\na\r\nb\r\n\r\n", // CRLF inside a bulk string
  "$8\r\nключ\r\n", // multi-byte UTF-8
  "*0\r\n",
  "*-1\r\n",
  "*3\r\n$1\r\na\r\n:1\r\n*2\r\n+x\r\n-ERR inner\r\n",
  "*2\r\n*1\r\n*0\r\n$-1\r\n",
].join("");
const want: RedisValue[] = [
  "OK",
  new RedisErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value"),
  0,
  -42,
  9007199254740991,
  "hello",
  "",
  null,
  "a\r\nb\r\n",
  "ключ",
  [],
  null,
  ["a", 1, ["x", new RedisErrorReply("ERR inner")]],
  [[[]], null],
];

Deno.test("RespReader: every reply kind, in one chunk", async () => {
  assertEquals(await readAllReplies([enc.encode(stream)], want.length), want);
});

Deno.test("RespReader: one byte per read", async () => {
  const bytes = enc.encode(stream);
  const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  assertEquals(await readAllReplies(chunks, want.length), want);
});

Deno.test("RespReader: split into two at every boundary", async () => {
  const bytes = enc.encode(stream);
  for (let cut = 1; cut < bytes.length; cut++) {
    assertEquals(await readAllReplies(splitAt(bytes, cut), want.length), want, `cut at ${cut}`);
  }
});

Deno.test("RespReader: split into three at every pair of boundaries of one nested reply", async () => {
  const bytes = enc.encode("*3\r\n$6\r\nабв\r\n:12\r\n*1\r\n-ERR e\r\n");
  const expect: RedisValue = ["абв", 12, [new RedisErrorReply("ERR e")]];
  for (let a = 1; a < bytes.length; a++) {
    for (let b = a + 1; b < bytes.length; b++) {
      assertEquals(await readAllReplies(splitAt(bytes, a, b), 1), [expect], `cuts at ${a}, ${b}`);
    }
  }
});

Deno.test("RespReader: a bulk string far larger than the buffer", async () => {
  const big = "x".repeat(300_000);
  const bytes = enc.encode(`$${big.length}\r\n${big}\r\n+after\r\n`);
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 7001) chunks.push(bytes.subarray(i, i + 7001));
  assertEquals(await readAllReplies(chunks, 2), [big, "after"]);
});

Deno.test("RespReader: many small elements in one array", async () => {
  const n = 20_000;
  const text = `*${n}\r\n` + Array.from({ length: n }, (_, i) => `$${String(i).length}\r\n${i}\r\n`).join("");
  const [got] = await readAllReplies([enc.encode(text)], 1);
  assert(Array.isArray(got));
  assertEquals(got.length, n);
  assertEquals(got[n - 1], String(n - 1));
});

Deno.test("RedisErrorReply.code is the first word", () => {
  assertEquals(new RedisErrorReply("WRONGPASS invalid username-password pair").code, "WRONGPASS");
  assertEquals(new RedisErrorReply("ERR").code, "ERR");
});

const malformed: { name: string; bytes: string; includes: string; max?: number }[] = [
  { name: "unknown type byte", bytes: "?what\r\n", includes: `0x3f ("?")` },
  { name: "an HTTP server", bytes: "HTTP/1.1 400 Bad Request\r\n\r\n", includes: `0x48 ("H")` },
  { name: "a RESP3 map", bytes: "%1\r\n+a\r\n+b\r\n", includes: "0x25" },
  { name: "a NUL byte", bytes: "\0", includes: "0x00" },
  { name: "integer not a number", bytes: ":12a\r\n", includes: `Invalid integer "12a"` },
  { name: "empty integer", bytes: ":\r\n", includes: "Invalid integer" },
  { name: "bulk length not a number", bytes: "$x\r\nabc\r\n", includes: "Invalid bulk length" },
  { name: "bulk length -2", bytes: "$-2\r\n", includes: "Invalid bulk string length -2" },
  { name: "array length -5", bytes: "*-5\r\n", includes: "Invalid array length -5" },
  { name: "bulk without CRLF after the data", bytes: "$3\r\nabcXY", includes: "not followed by CRLF" },
  { name: "line ended by LF only", bytes: "+OK\n", includes: "not terminated by CRLF" },
  { name: "integer line too long", bytes: ":" + "1".repeat(40) + "\r\n", includes: "longer than 23 bytes" },
  { name: "endless length line", bytes: "$" + "9".repeat(30), includes: "longer than 23 bytes" },
  { name: "bulk length over the limit", bytes: "$99999999999\r\n", includes: "Reply larger than 67108864 bytes" },
  { name: "array count over the limit", bytes: "*999999999\r\n", includes: "Reply larger than 67108864 bytes" },
  {
    name: "reply over a small limit",
    bytes: "*3\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n$4\r\nabcd\r\n",
    includes: "larger",
    max: 25,
  },
  { name: "status line over a small limit", bytes: "+" + "a".repeat(100) + "\r\n", includes: "larger", max: 50 },
];

for (const m of malformed) {
  Deno.test(`RespReader: malformed, ${m.name}`, async () => {
    // hang = true: the error must come from the bytes, not from the end of stream.
    const r = new RespReader(chunked([enc.encode(m.bytes)], true), { maxReplySize: m.max });
    await assertRejects(() => r.read(), RedisProtocolError, m.includes);
  });
}

Deno.test("RespReader: nesting deeper than the limit", async () => {
  const ok = "*1\r\n".repeat(32) + ":1\r\n";
  let v = await new RespReader(chunked([enc.encode(ok)])).read();
  for (let i = 0; i < 32; i++) {
    assert(Array.isArray(v));
    v = v[0];
  }
  assertEquals(v, 1);
  const deep = "*1\r\n".repeat(33) + ":1\r\n";
  await assertRejects(
    () => new RespReader(chunked([enc.encode(deep)], true)).read(),
    RedisProtocolError,
    "nested deeper than 32",
  );
});

Deno.test("RespReader: a server spewing bytes is stopped by the limits", async () => {
  await assertRejects(
    () => new RespReader(endless("+", 0x61), { maxReplySize: 1 << 20 }).read(),
    RedisProtocolError,
    "larger than 1048576",
  );
  await assertRejects(() => new RespReader(endless("$", 0x31)).read(), RedisProtocolError, "longer than 23");
  // Default limit: 64 MiB of a status line without CRLF.
  await assertRejects(() => new RespReader(endless("-", 0x61)).read(), RedisProtocolError, "larger than 67108864");
});

Deno.test("RespReader: end of stream", async () => {
  await assertRejects(() => new RespReader(chunked([])).read(), Deno.errors.UnexpectedEof, "closed by the server");
  for (const partial of ["+OK", "+OK\r", "$5\r\nhel", "*2\r\n:1\r\n", "*2\r\n"]) {
    await assertRejects(
      () => new RespReader(chunked([enc.encode(partial)])).read(),
      Deno.errors.UnexpectedEof,
      "in the middle of a reply",
    );
  }
});
