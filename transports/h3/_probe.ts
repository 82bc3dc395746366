/**
 * Learns a QUIC server's certificate without trusting it, so that the h3
 * dialer can connect with verification off (GOST's default, `secure=false`).
 *
 * Why: `Deno.connectQuic` (2.9.6) always verifies the server, against the
 * system roots plus `caCerts`, and checks the name; the only per-connection
 * way around it is the `serverCertificateHashes` option (WebTransport's
 * pinning: any certificate whose SHA-256 is listed is accepted, nothing
 * else is checked). To pin the right hash we must see the certificate
 * first. This module does the start of a QUIC v1 handshake over a UDP
 * socket: an Initial packet with a TLS 1.3 ClientHello (x25519,
 * TLS_AES_128_GCM_SHA256, ALPN h3), then it decrypts the server's Initial
 * and Handshake packets far enough to read its Certificate message, and
 * closes the attempt with CONNECTION_CLOSE. It authenticates nothing — which
 * is exactly what "verification off" means.
 *
 * References: RFC 9000 (packets, frames), RFC 9001 (Initial secrets, packet
 * and header protection; Appendix A has the test vectors used by the unit
 * tests), RFC 8446 (key schedule, message formats).
 *
 * @module
 */

/** Bytes backed by a plain ArrayBuffer (what WebCrypto takes). */
type Bytes = Uint8Array<ArrayBuffer>;

const QUIC_V1 = 0x00000001;
/** RFC 9001 §5.2. */
const INITIAL_SALT = hex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
/** SHA-256("HelloRetryRequest"), the random of a HelloRetryRequest (RFC 8446 §4.1.3). */
const HRR_RANDOM = hex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c");
const TLS_AES_128_GCM_SHA256 = 0x1301;
const X25519 = 0x001d;
/** Largest TLS flight we collect. */
const MAX_CRYPTO = 64 * 1024;

/** Raised when the probe cannot get the certificate. */
export class ProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProbeError";
  }
}

function hex(s: string): Bytes {
  return Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
}

function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const u8 = (n: number) => Uint8Array.of(n);
const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
const u24 = (n: number) => Uint8Array.of(n >> 16, (n >> 8) & 0xff, n & 0xff);
const vec8 = (b: Bytes) => concat(u8(b.length), b);
const vec16 = (b: Bytes) => concat(u16(b.length), b);

function varint(v: number): Bytes {
  if (v < 0x40) return u8(v);
  if (v < 0x4000) return u16(0x4000 | v);
  return Uint8Array.of(0x80 | (v >>> 24), (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function readVarint(b: Bytes, off: number): [number, number] {
  if (off >= b.length) throw new ProbeError("Truncated QUIC packet");
  const len = 1 << (b[off] >> 6);
  if (off + len > b.length) throw new ProbeError("Truncated QUIC packet");
  let v = b[off] & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
  return [v, off + len];
}

// ---- HKDF and QUIC keys (RFC 5869, RFC 8446 §7.1, RFC 9001 §5) ----

async function hmac(key: Bytes, data: Bytes): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** HKDF-Extract with SHA-256. */
export function hkdfExtract(salt: Bytes, ikm: Bytes): Promise<Bytes> {
  return hmac(salt, ikm);
}

/** HKDF-Expand-Label (RFC 8446 §7.1), output of at most 32 bytes. */
export async function expandLabel(
  secret: Bytes,
  label: string,
  context: Bytes,
  length: number,
): Promise<Bytes> {
  const info = concat(u16(length), vec8(new TextEncoder().encode(`tls13 ${label}`)), vec8(context));
  return (await hmac(secret, concat(info, u8(1)))).subarray(0, length);
}

/** Packet protection keys for one direction. */
export interface PacketKeys {
  key: Bytes;
  iv: Bytes;
  hp: Bytes;
}

/** The AEAD key, IV and header-protection key derived from a traffic secret. */
export async function packetKeys(secret: Bytes): Promise<PacketKeys> {
  const none = new Uint8Array(0);
  return {
    key: await expandLabel(secret, "quic key", none, 16),
    iv: await expandLabel(secret, "quic iv", none, 12),
    hp: await expandLabel(secret, "quic hp", none, 16),
  };
}

/** Client and server Initial keys for a client's first Destination Connection ID. */
export async function initialKeys(dcid: Bytes): Promise<{ client: PacketKeys; server: PacketKeys }> {
  const initial = await hkdfExtract(INITIAL_SALT, dcid);
  const none = new Uint8Array(0);
  return {
    client: await packetKeys(await expandLabel(initial, "client in", none, 32)),
    server: await packetKeys(await expandLabel(initial, "server in", none, 32)),
  };
}

/** AES-128 of one block (ECB), via CBC with a zero IV. */
async function aesBlock(key: Bytes, block: Bytes): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", key, "AES-CBC", false, ["encrypt"]);
  const out = await crypto.subtle.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, k, block);
  return new Uint8Array(out, 0, 16);
}

function nonce(iv: Bytes, pn: number): Bytes {
  const n = iv.slice();
  for (let i = 0; i < 4; i++) n[11 - i] ^= (pn >>> (8 * i)) & 0xff;
  return n;
}

async function gcm(op: "encrypt" | "decrypt", k: PacketKeys, pn: number, aad: Bytes, data: Bytes) {
  const key = await crypto.subtle.importKey("raw", k.key, "AES-GCM", false, [op]);
  const params = { name: "AES-GCM", iv: nonce(k.iv, pn), additionalData: aad, tagLength: 128 };
  return new Uint8Array(await crypto.subtle[op](params, key, data));
}

// ---- packets ----

/**
 * A protected client Initial packet carrying `frames`, padded so the
 * datagram is at least 1200 bytes (RFC 9000 §14.1). Packet numbers use one byte.
 */
export async function sealInitial(
  keys: PacketKeys,
  dcid: Bytes,
  scid: Bytes,
  pn: number,
  frames: Bytes,
): Promise<Bytes> {
  const fixed = concat(u8(0xc0), Uint8Array.of(0, 0, 0, QUIC_V1), vec8(dcid), vec8(scid), varint(0));
  // fixed + 2-byte length + 1-byte pn + payload + 16-byte tag >= 1200
  const padded = new Uint8Array(Math.max(frames.length, 1200 - fixed.length - 2 - 1 - 16));
  padded.set(frames);
  const header = concat(fixed, u16(0x4000 | (1 + padded.length + 16)), u8(pn));
  const sealed = await gcm("encrypt", keys, pn, header, padded);
  const packet = concat(header, sealed);
  const pnOffset = header.length - 1;
  const mask = await aesBlock(keys.hp, packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x0f;
  packet[pnOffset] ^= mask[1];
  return packet;
}

/** One long-header packet taken from a datagram, not yet decrypted. */
interface LongPacket {
  type: number;
  scid: Bytes;
  bytes: Bytes;
  pnOffset: number;
}

/** Splits a datagram into its long-header packets (a short-header packet ends it). */
function splitDatagram(d: Bytes): LongPacket[] {
  const out: LongPacket[] = [];
  let off = 0;
  while (off < d.length && (d[off] & 0x80) !== 0) {
    const start = off;
    if (off + 6 > d.length) throw new ProbeError("Truncated QUIC packet");
    const version = (d[off + 1] << 24 | d[off + 2] << 16 | d[off + 3] << 8 | d[off + 4]) >>> 0;
    if (version === 0) throw new ProbeError("Server does not speak QUIC v1 (version negotiation)");
    if (version !== QUIC_V1) throw new ProbeError(`Unexpected QUIC version 0x${version.toString(16)}`);
    const type = (d[off] >> 4) & 3;
    off += 5;
    const dcidLen = d[off];
    off += 1 + dcidLen;
    const scidLen = d[off];
    const scid = d.slice(off + 1, off + 1 + scidLen);
    off += 1 + scidLen;
    if (type === 3) throw new ProbeError("Server asked for a Retry, which the probe does not do");
    if (type === 0) {
      const [tokenLen, next] = readVarint(d, off);
      off = next + tokenLen;
    }
    const [length, pnOffset] = readVarint(d, off);
    if (pnOffset + length > d.length) throw new ProbeError("Truncated QUIC packet");
    out.push({ type, scid, bytes: d.subarray(start, pnOffset + length), pnOffset: pnOffset - start });
    off = pnOffset + length;
  }
  return out;
}

/** Removes header protection and decrypts; returns the payload (frames). */
export async function openPacket(keys: PacketKeys, bytes: Bytes, pnOffset: number): Promise<Bytes> {
  if (bytes.length < pnOffset + 20) throw new ProbeError("QUIC packet too short");
  const mask = await aesBlock(keys.hp, bytes.subarray(pnOffset + 4, pnOffset + 20));
  const first = bytes[0] ^ (mask[0] & 0x0f);
  const pnLen = (first & 3) + 1;
  const header = bytes.slice(0, pnOffset + pnLen);
  header[0] = first;
  let pn = 0;
  for (let i = 0; i < pnLen; i++) {
    header[pnOffset + i] ^= mask[1 + i];
    pn = pn * 256 + header[pnOffset + i];
  }
  // The probe sees only the first few packets of each space, so the truncated number is the full one.
  try {
    return await gcm("decrypt", keys, pn, header, bytes.subarray(pnOffset + pnLen));
  } catch {
    throw new ProbeError("Cannot decrypt a QUIC packet");
  }
}

/** Reassembles a CRYPTO stream from frames that may come out of order or twice. */
class CryptoStream {
  data = new Uint8Array(0);
  #pending: [number, Bytes][] = [];

  add(offset: number, chunk: Bytes): void {
    if (offset + chunk.length > MAX_CRYPTO) throw new ProbeError("Server's TLS flight is too large");
    this.#pending.push([offset, chunk]);
    let progress = true;
    while (progress) {
      progress = false;
      for (let i = 0; i < this.#pending.length; i++) {
        const [off, c] = this.#pending[i];
        if (off <= this.data.length) {
          if (off + c.length > this.data.length) this.data = concat(this.data, c.subarray(this.data.length - off));
          this.#pending.splice(i, 1);
          progress = true;
          break;
        }
      }
    }
  }
}

/** Feeds the CRYPTO frames of a decrypted payload into `stream`; throws on CONNECTION_CLOSE. */
function readFrames(payload: Bytes, stream: CryptoStream): void {
  let off = 0;
  while (off < payload.length) {
    const [type, next] = readVarint(payload, off);
    off = next;
    switch (type) {
      case 0x00: // PADDING
      case 0x01: // PING
        break;
      case 0x02: // ACK
      case 0x03: { // ACK with ECN counts
        let v: number;
        [v, off] = readVarint(payload, off); // largest acknowledged
        [v, off] = readVarint(payload, off); // delay
        let ranges: number;
        [ranges, off] = readVarint(payload, off);
        [v, off] = readVarint(payload, off); // first range
        for (let i = 0; i < 2 * ranges + (type === 0x03 ? 3 : 0); i++) [v, off] = readVarint(payload, off);
        void v;
        break;
      }
      case 0x06: { // CRYPTO
        let offset: number;
        let len: number;
        [offset, off] = readVarint(payload, off);
        [len, off] = readVarint(payload, off);
        if (off + len > payload.length) throw new ProbeError("Truncated CRYPTO frame");
        stream.add(offset, payload.subarray(off, off + len));
        off += len;
        break;
      }
      case 0x1c:
      case 0x1d: { // CONNECTION_CLOSE
        let code: number;
        let len: number;
        [code, off] = readVarint(payload, off);
        if (type === 0x1c) [, off] = readVarint(payload, off);
        [len, off] = readVarint(payload, off);
        const reason = new TextDecoder().decode(payload.subarray(off, off + len));
        const alert = code >= 0x100 && code <= 0x1ff ? ` (TLS alert ${code - 0x100})` : "";
        throw new ProbeError(`Server closed the QUIC handshake: error 0x${code.toString(16)}${alert} ${reason}`.trim());
      }
      default:
        throw new ProbeError(`Unexpected QUIC frame 0x${type.toString(16)} during the handshake`);
    }
  }
}

/** TLS handshake messages (type, whole message bytes) complete in `data`. */
function* messages(data: Bytes): Generator<[number, Bytes]> {
  let off = 0;
  while (off + 4 <= data.length) {
    const len = data[off + 1] << 16 | data[off + 2] << 8 | data[off + 3];
    if (off + 4 + len > data.length) return;
    yield [data[off], data.subarray(off, off + 4 + len)];
    off += 4 + len;
  }
}

/** The x25519 share a ServerHello carries (checking it is TLS 1.3 with our suite). */
function parseServerHello(msg: Bytes): Bytes {
  let off = 4 + 2; // header, legacy_version
  const random = msg.subarray(off, off + 32);
  if (random.every((b, i) => b === HRR_RANDOM[i])) {
    throw new ProbeError("Server sent HelloRetryRequest (it does not accept x25519)");
  }
  off += 32;
  off += 1 + msg[off]; // legacy_session_id_echo
  const suite = msg[off] << 8 | msg[off + 1];
  if (suite !== TLS_AES_128_GCM_SHA256) throw new ProbeError(`Server chose cipher suite 0x${suite.toString(16)}`);
  off += 3; // suite, compression
  const end = off + 2 + (msg[off] << 8 | msg[off + 1]);
  off += 2;
  while (off + 4 <= end) {
    const type = msg[off] << 8 | msg[off + 1];
    const len = msg[off + 2] << 8 | msg[off + 3];
    const body = msg.subarray(off + 4, off + 4 + len);
    if (type === 0x0033) {
      const group = body[0] << 8 | body[1];
      const klen = body[2] << 8 | body[3];
      if (group !== X25519 || klen !== 32) throw new ProbeError(`Server key share in group 0x${group.toString(16)}`);
      return body.slice(4, 4 + klen);
    }
    off += 4 + len;
  }
  throw new ProbeError("ServerHello without a key share");
}

/** The DER certificates of a Certificate message, leaf first. */
export function parseCertificate(msg: Bytes): Bytes[] {
  let off = 4;
  off += 1 + msg[off]; // certificate_request_context
  const end = off + 3 + (msg[off] << 16 | msg[off + 1] << 8 | msg[off + 2]);
  off += 3;
  const certs: Bytes[] = [];
  while (off + 3 <= end && end <= msg.length) {
    const len = msg[off] << 16 | msg[off + 1] << 8 | msg[off + 2];
    certs.push(msg.slice(off + 3, off + 3 + len));
    off += 3 + len;
    off += 2 + (msg[off] << 8 | msg[off + 1]); // extensions
  }
  if (certs.length === 0) throw new ProbeError("Server sent no certificate");
  return certs;
}

function isIP(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** A TLS 1.3 ClientHello for QUIC (RFC 9001 §8) offering only what this probe can follow. */
export function clientHello(random: Bytes, publicKey: Bytes, scid: Bytes, serverName: string) {
  const ext = (type: number, body: Bytes) => concat(u16(type), vec16(body));
  const exts: Bytes[] = [];
  if (serverName && !isIP(serverName)) {
    const name = new TextEncoder().encode(serverName);
    exts.push(ext(0x0000, vec16(concat(u8(0), vec16(name)))));
  }
  exts.push(
    ext(0x000a, vec16(u16(X25519))),
    // ecdsa P-256/384, rsa-pss, ed25519, rsa pkcs1: whatever key the server has, it can sign.
    ext(0x000d, vec16(concat(...[0x0403, 0x0503, 0x0804, 0x0805, 0x0806, 0x0807, 0x0401, 0x0501, 0x0601].map(u16)))),
    ext(0x0010, vec16(vec8(new TextEncoder().encode("h3")))),
    ext(0x002b, vec8(u16(0x0304))),
    ext(0x0033, vec16(concat(u16(X25519), vec16(publicKey)))),
    // quic_transport_parameters: initial_source_connection_id is mandatory, and HTTP/3
    // servers refuse peers that would not let them open their control and QPACK streams.
    ext(0x0039, transportParameters(scid)),
  );
  const body = concat(
    u16(0x0303),
    random,
    u8(0), // legacy_session_id: empty in QUIC
    vec16(u16(TLS_AES_128_GCM_SHA256)),
    Uint8Array.of(1, 0),
    vec16(concat(...exts)),
  );
  return concat(u8(1), u24(body.length), body);
}

function transportParameters(scid: Bytes): Bytes {
  const param = (id: number, value: Bytes) => concat(varint(id), varint(value.length), value);
  return concat(
    param(0x01, varint(10_000)), // max_idle_timeout (ms)
    param(0x04, varint(1 << 20)), // initial_max_data
    param(0x05, varint(1 << 18)), // initial_max_stream_data_bidi_local
    param(0x06, varint(1 << 18)), // initial_max_stream_data_bidi_remote
    param(0x07, varint(1 << 18)), // initial_max_stream_data_uni
    param(0x08, varint(100)), // initial_max_streams_bidi
    param(0x09, varint(100)), // initial_max_streams_uni
    param(0x0f, scid), // initial_source_connection_id
  );
}

/** Options for {@linkcode probeCertificate}. */
export interface ProbeOptions {
  /** Name for SNI (not sent when it is an IP address). */
  serverName?: string;
  /** Give up after this long. @default 5000 */
  timeout?: number;
  signal?: AbortSignal;
}

/**
 * Starts a QUIC handshake with `hostname:port` and returns the server's
 * certificate chain (DER, leaf first), then abandons the handshake.
 */
export async function probeCertificate(hostname: string, port: number, opts: ProbeOptions = {}): Promise<Bytes[]> {
  const timeout = AbortSignal.timeout(opts.timeout ?? 5000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let sock: Deno.DatagramConn;
  try {
    sock = Deno.listenDatagram({ transport: "udp", hostname: "::", port: 0 });
  } catch {
    sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  }
  const target: Deno.NetAddr = { transport: "udp", hostname: hostname.replace(/^\[|\]$/g, ""), port };
  const onAbort = () => sock.close();
  signal.addEventListener("abort", onAbort, { once: true });
  let retransmit: ReturnType<typeof setInterval> | undefined;
  try {
    const dcid = crypto.getRandomValues(new Uint8Array(8));
    const scid = crypto.getRandomValues(new Uint8Array(8));
    const keys = await initialKeys(dcid);
    const kp = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]) as CryptoKeyPair;
    const pub = new Uint8Array(await crypto.subtle.exportKey("raw", kp.publicKey));
    const ch = clientHello(crypto.getRandomValues(new Uint8Array(32)), pub, scid, opts.serverName ?? hostname);
    const first = await sealInitial(keys.client, dcid, scid, 0, concat(u8(0x06), varint(0), varint(ch.length), ch));
    await sock.send(first, target);
    // The server retransmits on its own timer too; resend ours in case it was lost.
    retransmit = setInterval(() => sock.send(first, target).catch(() => {}), 1000);

    const initial = new CryptoStream();
    const handshake = new CryptoStream();
    let hsKeys: PacketKeys | undefined;
    let serverScid: Bytes | undefined;
    let waiting: LongPacket[] = []; // Handshake packets that came before the keys
    for (;;) {
      let datagram: Bytes;
      try {
        [datagram] = await sock.receive();
      } catch (err) {
        if (signal.aborted) {
          throw new ProbeError(`No QUIC handshake from ${hostname}:${port} within ${opts.timeout ?? 5000} ms`);
        }
        throw err;
      }
      let packets: LongPacket[];
      try {
        packets = splitDatagram(datagram);
      } catch (err) {
        if (err instanceof ProbeError && /version|Retry/.test(err.message)) throw err;
        continue; // garbage: ignore the datagram
      }
      for (const p of [...waiting.splice(0), ...packets]) {
        if (p.type === 0) {
          serverScid ??= p.scid;
          readFrames(await openPacket(keys.server, p.bytes, p.pnOffset).catch(() => new Uint8Array(0)), initial);
          if (!hsKeys) {
            const sh = [...messages(initial.data)].find(([t]) => t === 2);
            if (sh) hsKeys = await handshakeKeys(kp.privateKey, ch, sh[1]);
          }
        } else if (p.type === 2) {
          if (!hsKeys) {
            waiting.push({ ...p, bytes: p.bytes.slice() });
            continue;
          }
          readFrames(await openPacket(hsKeys, p.bytes, p.pnOffset).catch(() => new Uint8Array(0)), handshake);
          for (const [t, msg] of messages(handshake.data)) {
            if (t === 11) {
              await close(sock, target, keys.client, serverScid ?? dcid, scid);
              return parseCertificate(msg);
            }
          }
        }
      }
      if (waiting.length > 16) waiting = waiting.slice(-16);
    }
  } finally {
    clearInterval(retransmit);
    signal.removeEventListener("abort", onAbort);
    try {
      sock.close();
    } catch {
      // closed by the timeout
    }
  }
}

/** Server handshake traffic keys from our private key, the ClientHello and the ServerHello. */
async function handshakeKeys(priv: CryptoKey, ch: Bytes, sh: Bytes): Promise<PacketKeys> {
  const peer = await crypto.subtle.importKey("raw", parseServerHello(sh), { name: "X25519" }, false, []);
  const shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: peer }, priv, 256));
  const zero = new Uint8Array(32);
  const emptyHash = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(0)));
  const early = await hkdfExtract(zero, zero);
  const derived = await expandLabel(early, "derived", emptyHash, 32);
  const hs = await hkdfExtract(derived, shared);
  const transcript = new Uint8Array(await crypto.subtle.digest("SHA-256", concat(ch, sh)));
  return packetKeys(await expandLabel(hs, "s hs traffic", transcript, 32));
}

/** Ends the attempt politely: CONNECTION_CLOSE (NO_ERROR) in an Initial packet. */
async function close(sock: Deno.DatagramConn, target: Deno.NetAddr, keys: PacketKeys, dcid: Bytes, scid: Bytes) {
  const frame = concat(u8(0x1c), varint(0), varint(0), varint(0));
  try {
    await sock.send(await sealInitial(keys, dcid, scid, 1, frame), target);
  } catch {
    // best effort
  }
}

/** SHA-256 of a DER certificate, as `serverCertificateHashes` wants it. */
export async function certificateHash(der: Bytes): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", der));
}
