import type { Auth, Authenticator } from "./types.ts";

/** Checks against a fixed user table (`auth:` or `authers[].auths`). */
export class StaticAuthenticator implements Authenticator {
  readonly #users = new Map<string, string>();

  constructor(auths: Auth[]) {
    for (const a of auths) this.#users.set(a.username, a.password ?? "");
  }

  authenticate(username: string, password: string): boolean {
    const want = this.#users.get(username);
    return want !== undefined && timingSafeEqual(want, password);
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return diff === 0;
}

/**
 * A user table that can be replaced while serving (authers with `file`,
 * `redis`, `http` or `reload`). Lookups are exact and case-sensitive; a
 * stored empty password matches only an empty password (gost lets any
 * password in; dost does not).
 */
export class AutherTable implements Authenticator {
  #users = new Map<string, string>();

  constructor(readonly name: string) {}

  /** Replaces the table; entries with an empty user name are skipped. */
  set(users: ReadonlyMap<string, string>): void {
    const next = new Map<string, string>();
    for (const [u, p] of users) if (u !== "") next.set(u, p);
    this.#users = next;
  }

  get size(): number {
    return this.#users.size;
  }

  authenticate(username: string, password: string): boolean {
    const want = this.#users.get(username);
    return want !== undefined && timingSafeEqual(want, password);
  }
}

/**
 * gost's auth-file lines (already split, `#` only in column 1 a comment):
 * the user is up to the first space, the trimmed rest is the password.
 */
export function parseAuthLines(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of lines) {
    const line = raw.replaceAll("\t", " ").trim();
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.indexOf(" ");
    if (sp < 0) out.set(line, "");
    else out.set(line.slice(0, sp), line.slice(sp + 1).trim());
  }
  return out;
}
