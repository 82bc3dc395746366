import type { Auth, Authenticator } from "./types.ts";

/** Checks against a fixed user table (`auth:` or `authers[].auths`). */
export class StaticAuthenticator implements Authenticator {
  readonly #users = new Map<string, string>();

  constructor(auths: Auth[]) {
    for (const a of auths) this.#users.set(a.username, a.password);
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
