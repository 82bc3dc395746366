/**
 * GOST v2's obfuscated target header: `B64(CRC32(h) ‖ B64(h))`, both base64
 * unpadded URL-safe, CRC32 IEEE big-endian. Returns undefined unless it checks out.
 */
export function decodeGostTarget(v: string): string | undefined {
  const outer = b64urlDecode(v);
  if (!outer || outer.length < 5) return undefined;
  const want = new DataView(outer.buffer, outer.byteOffset).getUint32(0);
  const inner = b64urlDecode(new TextDecoder().decode(outer.subarray(4)));
  if (!inner || crc32(inner) !== want) return undefined;
  return new TextDecoder().decode(inner);
}

/** Encodes a host the way GOST v2 clients do (used by tests). */
export function encodeGostTarget(host: string): string {
  const h = new TextEncoder().encode(host);
  const inner = new TextEncoder().encode(b64urlEncode(h));
  const out = new Uint8Array(4 + inner.length);
  new DataView(out.buffer).setUint32(0, crc32(h));
  out.set(inner, 4);
  return b64urlEncode(out);
}

function b64urlDecode(s: string): Uint8Array | undefined {
  try {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(b, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function b64urlEncode(b: Uint8Array): string {
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3). */
export function crc32(b: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const x of b) crc = table[(crc ^ x) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
