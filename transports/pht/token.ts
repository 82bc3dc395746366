/**
 * Session tokens. GOST uses an `xid` (20 characters from `0-9a-v`); dost
 * makes tokens of the same shape from 100 random bits, so they look the
 * same on the wire but cannot be guessed (a token is the only thing that
 * ties a push or pull to its session).
 *
 * @module
 */

const ALPHABET = "0123456789abcdefghijklmnopqrstuv";

/** Tokens the server accepts from clients: URL-safe, at most 64 characters. */
export const TOKEN_RE = /^[0-9A-Za-z._~-]{1,64}$/;

/** A new random token: 20 characters from `0-9a-v`. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let s = "";
  for (const b of bytes) s += ALPHABET[b & 31];
  return s;
}
