/**
 * obfs-tls as gost 3.2.6 speaks it (x v0.8.1 `listener/obfs/tls`,
 * `dialer/obfs/tls`): the client's first bytes ride in a fake ClientHello,
 * the server answers a fake ServerHello + ChangeCipherSpec with its first
 * write, and data then flows in plaintext TLS records of at most 16 KiB (the
 * server's first one typed handshake, the rest application data).
 *
 * Reads parse records in place in the caller's buffer (one socket read,
 * payloads moved to the front), so no record is ever buffered whole; a read
 * may end anywhere, even inside a record header (gost's own client gets that
 * case wrong, see shared/spec/known-gost-defects.md).
 *
 * @module
 */
import { BufferedConn } from "../_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { type Addr, type Conn, HandshakeError } from "../types.ts";
import { NoHandshakeError } from "./_errors.ts";
import {
  ALERT,
  APP_DATA,
  CHANGE_CIPHER_SPEC,
  clientHello,
  clientHelloOverhead,
  HANDSHAKE,
  MAX_DATA_LEN,
  parseClientHello,
  type ParsedClientHello,
  RECORD_HEADER_LEN,
  serverHello,
} from "./_hello.ts";

/** Largest record accepted: TLS's ciphertext limit, 2^14 + 2048 (gost sends at most 2^14). */
export const MAX_RECORD_LEN = MAX_DATA_LEN + 2048;
/** Records per socket write: 64 KiB of payload, so the write buffer stays small. */
const RECORDS_PER_WRITE = 4;
/** A ClientHello is kept to one 16 KiB record; a longer first write continues in data records. */
const MAX_HELLO_LEN = MAX_DATA_LEN + RECORD_HEADER_LEN;

const enum Phase {
  /** Client: the ServerHello record (skipped). */
  ServerHello,
  /** Client: the ChangeCipherSpec record (skipped). */
  ChangeCipherSpec,
  /** Client: the server's first data record (typed handshake by gost). */
  FirstData,
  /** Data records. */
  Data,
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

/**
 * A streaming record parser: feeds of raw bytes in, payload bytes out
 * (compacted to the front of the same buffer). Checks each record's type
 * against where the stream is, its version (3.x) and length.
 */
export class RecordReader {
  #phase: Phase;
  readonly #hdr = new Uint8Array(RECORD_HEADER_LEN);
  #hdrLen = 0;
  /** Payload bytes left in the current record; 0 while a header is expected. */
  #left = 0;
  #deliver = false;

  constructor(role: "client" | "server") {
    this.#phase = role === "client" ? Phase.ServerHello : Phase.Data;
  }

  /** True inside a record (a stream that ends now is truncated). */
  get inRecord(): boolean {
    return this.#hdrLen > 0 || this.#left > 0;
  }

  /** Parses `b[0..n)` in place; returns how many payload bytes now sit at `b[0..)`. */
  parse(b: Uint8Array, n: number): number {
    let i = 0;
    let out = 0;
    while (i < n) {
      if (this.#left === 0) {
        const take = Math.min(RECORD_HEADER_LEN - this.#hdrLen, n - i);
        this.#hdr.set(b.subarray(i, i + take), this.#hdrLen);
        this.#hdrLen += take;
        i += take;
        if (this.#hdrLen < RECORD_HEADER_LEN) break;
        this.#hdrLen = 0;
        this.#header();
        continue;
      }
      const take = Math.min(this.#left, n - i);
      if (this.#deliver) {
        if (out !== i) b.copyWithin(out, i, i + take);
        out += take;
      }
      i += take;
      this.#left -= take;
      if (this.#left === 0) this.#endRecord();
    }
    return out;
  }

  #header(): void {
    const [type, major, minor] = this.#hdr;
    const len = this.#hdr[3] << 8 | this.#hdr[4];
    if (major !== 3) throw new Deno.errors.InvalidData(`otls: record version ${major}.${minor} is not TLS (3.x)`);
    if (type === ALERT) throw new Deno.errors.InvalidData("otls: the peer sent a TLS alert");
    if (len > MAX_RECORD_LEN) {
      throw new Deno.errors.InvalidData(`otls: record of ${len} bytes exceeds ${MAX_RECORD_LEN}`);
    }
    const want = this.#phase === Phase.ServerHello
      ? [HANDSHAKE]
      : this.#phase === Phase.ChangeCipherSpec
      ? [CHANGE_CIPHER_SPEC]
      : this.#phase === Phase.FirstData
      ? [HANDSHAKE, APP_DATA]
      : [APP_DATA, HANDSHAKE];
    if (!want.includes(type)) {
      const err = `otls: unexpected record type ${hex(type)} (want ${want.map(hex).join(" or ")})`;
      throw this.#phase < Phase.FirstData ? new HandshakeError(err) : new Deno.errors.InvalidData(err);
    }
    this.#deliver = this.#phase >= Phase.FirstData;
    this.#left = len;
    if (len === 0) this.#endRecord();
  }

  #endRecord(): void {
    if (this.#phase !== Phase.Data) this.#phase++;
  }
}

/**
 * The conn on both sides: reads go through a {@linkcode RecordReader},
 * writes are framed into data records. Subclasses decide what the first
 * write carries.
 */
abstract class OtlsConn implements Conn {
  protected readonly inner: Conn;
  readonly #reader: RecordReader;
  /** Payload bytes to return first, unparsed (the server's ClientHello ticket). */
  #plain: Uint8Array | undefined;
  /** Raw bytes read ahead, to parse before the socket is read again. */
  #raw: Uint8Array | undefined;
  #scratch: Uint8Array | undefined;
  #scratchBusy = false;

  constructor(inner: Conn, role: "client" | "server", plain?: Uint8Array, raw?: Uint8Array) {
    this.inner = inner;
    this.#reader = new RecordReader(role);
    this.#plain = plain?.length ? plain : undefined;
    this.#raw = raw?.length ? raw : undefined;
  }

  get localAddr(): Addr {
    return this.inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.inner.remoteAddr;
  }

  /** Called before every read (the client makes sure its hello is out). */
  protected beforeRead(): Promise<void> | undefined {
    return undefined;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    const plain = this.#plain;
    if (plain) {
      const n = Math.min(plain.length, p.length);
      p.set(plain.subarray(0, n));
      this.#plain = n === plain.length ? undefined : plain.subarray(n);
      return n;
    }
    const wait = this.beforeRead();
    if (wait) await wait;
    for (;;) {
      let n: number | null;
      const raw = this.#raw;
      if (raw) {
        n = Math.min(raw.length, p.length);
        p.set(raw.subarray(0, n));
        this.#raw = n === raw.length ? undefined : raw.subarray(n);
      } else {
        n = await this.inner.read(p);
      }
      if (n === null) {
        if (this.#reader.inRecord) throw new Deno.errors.UnexpectedEof("otls: connection closed inside a TLS record");
        return null;
      }
      const out = this.#reader.parse(p, n);
      if (out > 0) return out;
    }
  }

  /**
   * Writes `data` as records (the first typed `firstType`, the rest
   * application data), after `prefix` in the same socket write.
   */
  protected async writeRecords(data: Uint8Array, firstType: number, prefix?: Uint8Array): Promise<void> {
    let type = firstType;
    let off = 0;
    do {
      const end = Math.min(data.length, off + RECORDS_PER_WRITE * MAX_DATA_LEN);
      const records = Math.ceil((end - off) / MAX_DATA_LEN);
      const size = (prefix?.length ?? 0) + (end - off) + records * RECORD_HEADER_LEN;
      // One buffer per conn, reused: writes on a conn come one at a time (a concurrent one gets its own).
      let buf: Uint8Array;
      const reuse = !this.#scratchBusy;
      if (reuse) {
        if (!this.#scratch || this.#scratch.length < size) this.#scratch = new Uint8Array(size);
        buf = this.#scratch;
        this.#scratchBusy = true;
      } else {
        buf = new Uint8Array(size);
      }
      try {
        let at = 0;
        if (prefix) {
          buf.set(prefix);
          at = prefix.length;
          prefix = undefined;
        }
        while (off < end) {
          const n = Math.min(MAX_DATA_LEN, end - off);
          buf[at] = type;
          buf[at + 1] = 0x03;
          buf[at + 2] = 0x03;
          buf[at + 3] = n >> 8;
          buf[at + 4] = n & 0xff;
          buf.set(data.subarray(off, off + n), at + RECORD_HEADER_LEN);
          at += RECORD_HEADER_LEN + n;
          off += n;
          type = APP_DATA;
        }
        await writeAll(this.inner, buf.subarray(0, at));
      } finally {
        if (reuse) this.#scratchBusy = false;
      }
    } while (off < data.length);
  }

  abstract write(p: Uint8Array): Promise<number>;
  abstract closeWrite(): Promise<void>;

  close(): void {
    closeQuietly(this.inner);
  }
}

/**
 * The client: the ClientHello goes out with the first write, its
 * SessionTicket holding the first bytes (up to what fits one 16 KiB record;
 * gost puts the whole first write there, overflowing the record length
 * past 64 KiB). A read or half-close before any write sends an empty hello,
 * so a server-speaks-first protocol works.
 */
export class OtlsClientConn extends OtlsConn {
  readonly #serverName: string;
  readonly #maxTicket: number;
  /** The write that carries the hello; undefined until the hello goes out. */
  #hello: Promise<void> | undefined;

  constructor(inner: Conn, serverName: string) {
    super(inner, "client");
    this.#serverName = serverName;
    this.#maxTicket = Math.max(0, MAX_HELLO_LEN - clientHelloOverhead(serverName));
  }

  protected override beforeRead(): Promise<void> {
    return this.#hello ??= writeAll(this.inner, clientHello(this.#serverName, new Uint8Array(0)));
  }

  async write(p: Uint8Array): Promise<number> {
    if (p.length === 0) return 0;
    if (!this.#hello) {
      const k = Math.min(p.length, this.#maxTicket);
      const hello = clientHello(this.#serverName, p.subarray(0, k));
      await (this.#hello = this.writeRecords(p.subarray(k), APP_DATA, hello));
      return p.length;
    }
    await this.#hello;
    await this.writeRecords(p, APP_DATA);
    return p.length;
  }

  async closeWrite(): Promise<void> {
    await this.beforeRead();
    await this.inner.closeWrite();
  }
}

/**
 * The server: the ServerHello and ChangeCipherSpec go out with the first
 * write, whose first record is typed handshake, as gost's client expects.
 * Unlike gost's server, a first write over 16 KiB is sent whole (gost sends
 * its first record and drops the rest).
 */
export class OtlsServerConn extends OtlsConn {
  #hello: Uint8Array | undefined;
  #first = true;
  #sending: Promise<void> | undefined;

  constructor(inner: Conn, hello: ParsedClientHello, raw?: Uint8Array) {
    super(inner, "server", hello.ticket, raw);
    this.#hello = serverHello(hello.sessionId);
  }

  async write(p: Uint8Array): Promise<number> {
    if (p.length === 0) return 0;
    if (this.#sending) await this.#sending;
    const hello = this.#hello;
    this.#hello = undefined;
    const type = this.#first ? HANDSHAKE : APP_DATA;
    this.#first = false;
    const s = this.writeRecords(p, type, hello);
    // Later writes queue behind the hello; its failure reaches them through their own write.
    if (hello) this.#sending = s.then(() => (this.#sending = undefined), () => (this.#sending = undefined));
    await s;
    return p.length;
  }

  async closeWrite(): Promise<void> {
    if (this.#sending) await this.#sending;
    const hello = this.#hello;
    this.#hello = undefined;
    if (hello) await writeAll(this.inner, hello);
    await this.inner.closeWrite();
  }
}

/**
 * The server handshake: reads the ClientHello record (at most 64 KiB, the
 * record length's limit), checks it as gost does and returns the conn whose
 * first bytes are the hello's SessionTicket. Closes `conn` when it throws.
 */
export async function otlsAccept(conn: Conn): Promise<{ conn: OtlsServerConn; hello: ParsedClientHello }> {
  try {
    const bc = new BufferedConn(conn, 4096);
    const hdr = await bc.peek(RECORD_HEADER_LEN);
    if (hdr.length === 0) throw new NoHandshakeError("otls: connection closed before the ClientHello");
    if (hdr[0] !== HANDSHAKE) {
      throw new HandshakeError(`otls: first record type ${hex(hdr[0])} is not a TLS handshake (0x16)`);
    }
    if (hdr.length < RECORD_HEADER_LEN) throw new HandshakeError("otls: connection closed inside the ClientHello");
    if (hdr[1] !== 3) throw new HandshakeError(`otls: record version ${hdr[1]}.${hdr[2]} is not TLS (3.x)`);
    const len = hdr[3] << 8 | hdr[4];
    let rec: Uint8Array;
    try {
      rec = await bc.readExact(RECORD_HEADER_LEN + len);
    } catch (err) {
      if (err instanceof Deno.errors.UnexpectedEof) {
        throw new HandshakeError("otls: connection closed inside the ClientHello");
      }
      throw err;
    }
    const hello = parseClientHello(rec.subarray(RECORD_HEADER_LEN));
    const raw = bc.buffered ? await bc.readExact(bc.buffered) : undefined;
    return { conn: new OtlsServerConn(conn, hello, raw), hello };
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}
