/** The kinds gost's API manages, in its order (go-gost/x v0.8.1 `api/api.go`). */
export const KINDS = [
  "services",
  "chains",
  "hops",
  "authers",
  "admissions",
  "bypasses",
  "resolvers",
  "hosts",
  "ingresses",
  "routers",
  "observers",
  "recorders",
  "sds",
  "limiters",
  "climiters",
  "rlimiters",
] as const;

export type Kind = typeof KINDS[number];
