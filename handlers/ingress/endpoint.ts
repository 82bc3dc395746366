/**
 * Tunnel ids as gost writes them: a UUID in any form Go's `uuid.Parse`
 * accepts (36 characters with dashes, 32 hex digits, `{…}`, `urn:uuid:…`),
 * in an ingress endpoint optionally prefixed with `$` for a private tunnel
 * (x v0.8.1 `handler/tunnel/tunnel.go` `parseTunnelID`).
 *
 * @module
 */

/** A 16-byte tunnel id and whether the rule that named it makes it private. */
export interface TunnelEndpoint {
  id: Uint8Array;
  private: boolean;
}

/** Parses a UUID; throws TypeError quoting the value when it is not one. */
export function parseUuid(s: string): Uint8Array {
  let t = s;
  if (t.length === 45 && t.slice(0, 9).toLowerCase() === "urn:uuid:") t = t.slice(9);
  else if (t.length === 38 && t[0] === "{" && t[37] === "}") t = t.slice(1, 37);
  if (t.length === 36) {
    if (t[8] !== "-" || t[13] !== "-" || t[18] !== "-" || t[23] !== "-") throw badUuid(s);
    t = t.slice(0, 8) + t.slice(9, 13) + t.slice(14, 18) + t.slice(19, 23) + t.slice(24);
  }
  if (t.length !== 32 || !/^[0-9a-fA-F]{32}$/.test(t)) throw badUuid(s);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function badUuid(s: string): TypeError {
  return new TypeError(`Invalid tunnel id "${s}": not a UUID`);
}

/** The canonical lower-case form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` of the first 16 bytes of `id`. */
export function formatUuid(id: Uint8Array): string {
  let h = "";
  for (let i = 0; i < 16; i++) h += (id[i] ?? 0).toString(16).padStart(2, "0");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A random (version 4) UUID's bytes. */
export function randomUuid(): Uint8Array {
  return parseUuid(crypto.randomUUID());
}

/** Parses an ingress endpoint (`uuid` or `$uuid`); throws TypeError when it is not one. */
export function parseEndpoint(s: string): TunnelEndpoint {
  const priv = s.startsWith("$");
  const id = parseUuid(priv ? s.slice(1) : s);
  if (id.every((b) => b === 0)) throw new TypeError(`Invalid tunnel id "${s}": the zero UUID names no tunnel`);
  return { id, private: priv };
}
