import { concat } from "../../transports/_io/write_all.ts";
/**
 * RESP2, the Redis wire format: commands out as arrays of bulk strings,
 * replies in as simple strings, errors, integers, bulk strings and arrays.
 * The reader is bounded in size and nesting, so a hostile or confused server
 * yields a {@linkcode RedisProtocolError}, never unbounded memory.
 *
 * @module
 */

/** Largest reply accepted, counted over every byte of it. @default 64 MiB */
export const DEFAULT_MAX_REPLY_SIZE = 64 * 1024 * 1024;
/** Deepest array nesting accepted (a top-level array is depth 1). @default 32 */
export const DEFAULT_MAX_DEPTH = 32;

/** An error reply (`-ERR ...`) as a value, e.g. an element of an array reply. */
export class RedisErrorReply {
  /** The whole text after `-`, e.g. `WRONGTYPE Operation against a key ...`. */
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
  /** The first word, by convention the error code (`ERR`, `WRONGTYPE`, `NOAUTH`). */
  get code(): string {
    const sp = this.message.indexOf(" ");
    return sp < 0 ? this.message : this.message.slice(0, sp);
  }
}

/** A decoded reply. Bulk and simple strings are decoded as UTF-8. */
export type RedisValue = string | number | null | RedisValue[] | RedisErrorReply;

/** The server sent bytes that are not a RESP2 reply, or one past the limits. */
export class RedisProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisProtocolError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly string[]): Uint8Array {
  const parts = args.map((a) => encoder.encode(a));
  const head = (p: Uint8Array) => encoder.encode(`$${p.length}\r\n`);
  const chunks: Uint8Array[] = [encoder.encode(`*${parts.length}\r\n`)];
  for (const p of parts) chunks.push(head(p), p, CRLF);
  return concat(...chunks);
}

const CRLF = new Uint8Array([13, 10]);
/** Longest `:`, `$` or `*` line: type byte, sign, 19 digits, CRLF. */
const MAX_NUMBER_LINE = 23;
const INITIAL_BUFFER = 16 * 1024;
/** Compact the buffer before reading into less free space than this. */
const MIN_READ = 4096;
/** Buffers grown past this are dropped between replies. */
const KEEP_BUFFER = 256 * 1024;

type Reader = { read(p: Uint8Array): Promise<number | null> };

export interface RespReaderOptions {
  /** Largest reply in bytes. @default 64 MiB */
  maxReplySize?: number;
  /** Deepest array nesting. @default 32 */
  maxDepth?: number;
}

/** Reads RESP2 replies one at a time from a byte stream. */
export class RespReader {
  readonly #conn: Reader;
  readonly #maxReplySize: number;
  readonly #maxDepth: number;
  #buf = new Uint8Array(INITIAL_BUFFER);
  #start = 0;
  #end = 0;
  /** Bytes of the current reply consumed so far. */
  #used = 0;

  constructor(conn: Reader, opts: RespReaderOptions = {}) {
    this.#conn = conn;
    this.#maxReplySize = opts.maxReplySize ?? DEFAULT_MAX_REPLY_SIZE;
    this.#maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /**
   * Reads the next reply. Throws {@linkcode RedisProtocolError} on malformed
   * or oversized input and `Deno.errors.UnexpectedEof` when the stream ends
   * first; after either the stream is out of step and must be closed.
   */
  async read(): Promise<RedisValue> {
    this.#used = 0;
    if (this.#start === this.#end && this.#buf.length > KEEP_BUFFER) {
      this.#buf = new Uint8Array(INITIAL_BUFFER); // drop the memory of a big reply
      this.#start = this.#end = 0;
    }
    return await this.#value(0);
  }

  async #value(depth: number): Promise<RedisValue> {
    if (this.#start === this.#end) await this.#fill(this.#used === 0);
    const type = this.#buf[this.#start];
    switch (type) {
      case 0x2b: // +
        return decoder.decode((await this.#line(this.#budget())).subarray(1));
      case 0x2d: // -
        return new RedisErrorReply(decoder.decode((await this.#line(this.#budget())).subarray(1)));
      case 0x3a: // :
        return this.#number(await this.#line(MAX_NUMBER_LINE), "integer");
      case 0x24: { // $
        const len = this.#number(await this.#line(MAX_NUMBER_LINE), "bulk length");
        if (len === -1) return null;
        if (len < 0) throw new RedisProtocolError(`Invalid bulk string length ${len}`);
        if (len + 2 > this.#budget()) throw this.#tooLarge();
        await this.#ensure(len + 2);
        const s = this.#start;
        if (this.#buf[s + len] !== 13 || this.#buf[s + len + 1] !== 10) {
          throw new RedisProtocolError(`Bulk string of ${len} bytes not followed by CRLF`);
        }
        const text = decoder.decode(this.#buf.subarray(s, s + len));
        this.#take(len + 2);
        return text;
      }
      case 0x2a: { // *
        const count = this.#number(await this.#line(MAX_NUMBER_LINE), "array length");
        if (count === -1) return null;
        if (count < 0) throw new RedisProtocolError(`Invalid array length ${count}`);
        if (depth + 1 > this.#maxDepth) {
          throw new RedisProtocolError(`Reply nested deeper than ${this.#maxDepth} arrays`);
        }
        // Every element takes at least 3 bytes ("+\r\n"): refuse impossible counts up front.
        if (count * 3 > this.#budget()) throw this.#tooLarge();
        const out: RedisValue[] = [];
        for (let i = 0; i < count; i++) out.push(await this.#value(depth + 1));
        return out;
      }
      default:
        throw new RedisProtocolError(`Unexpected reply type byte ${describeByte(type)}`);
    }
  }

  #budget(): number {
    return this.#maxReplySize - this.#used;
  }

  #tooLarge(): RedisProtocolError {
    return new RedisProtocolError(`Reply larger than ${this.#maxReplySize} bytes`);
  }

  /** Parses a `:`, `$` or `*` line (type byte included) as a decimal integer. */
  #number(line: Uint8Array, what: string): number {
    const text = decoder.decode(line.subarray(1));
    if (!/^-?\d{1,19}$/.test(text)) {
      throw new RedisProtocolError(`Invalid ${what} ${JSON.stringify(text.slice(0, 40))}`);
    }
    return Number(text);
  }

  /**
   * Consumes one CRLF-terminated line of at most `max` bytes (CRLF included)
   * and returns it without the CRLF. The view is valid until the next read.
   */
  async #line(max: number): Promise<Uint8Array> {
    let scanned = 0;
    for (;;) {
      const nl = this.#buf.subarray(this.#start + scanned, this.#end).indexOf(10);
      if (nl >= 0) {
        const len = scanned + nl + 1;
        if (len > max) throw this.#lineTooLong(max);
        const end = this.#start + len;
        if (len < 2 || this.#buf[end - 2] !== 13) throw new RedisProtocolError("Reply line not terminated by CRLF");
        const line = this.#buf.subarray(this.#start, end - 2);
        this.#take(len);
        return line;
      }
      scanned = this.#end - this.#start;
      if (scanned >= max) throw this.#lineTooLong(max);
      await this.#fill(false);
    }
  }

  #lineTooLong(max: number): RedisProtocolError {
    return max === MAX_NUMBER_LINE
      ? new RedisProtocolError(`Reply line of type ${describeByte(this.#buf[this.#start])} longer than ${max} bytes`)
      : this.#tooLarge();
  }

  #take(n: number): void {
    this.#start += n;
    this.#used += n;
  }

  /** Buffers at least `n` unread bytes. */
  async #ensure(n: number): Promise<void> {
    while (this.#end - this.#start < n) await this.#fill(false, n);
  }

  /** Reads more bytes after the unread ones, first making room for `need` unread bytes in all. */
  async #fill(atReplyStart: boolean, need = 0): Promise<void> {
    const unread = this.#end - this.#start;
    const want = Math.max(need, unread + 1);
    if (this.#buf.length - this.#start < want || (this.#buf.length - this.#end < MIN_READ && this.#start > 0)) {
      if (this.#buf.length < want) {
        const bigger = new Uint8Array(Math.max(want, Math.min(this.#buf.length * 2, this.#maxReplySize)));
        bigger.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = bigger;
      } else {
        this.#buf.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = unread;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) {
      throw new Deno.errors.UnexpectedEof(
        atReplyStart ? "Connection closed by the server" : "Connection closed by the server in the middle of a reply",
      );
    }
    this.#end += n;
  }
}

function describeByte(b: number): string {
  const hex = `0x${b.toString(16).padStart(2, "0")}`;
  return b >= 0x20 && b < 0x7f ? `${hex} (${JSON.stringify(String.fromCharCode(b))})` : hex;
}
