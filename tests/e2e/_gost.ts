/**
 * The real gost binary as a peer: its path comes from `GOST_BIN` (`.ci/run`
 * sets it to ../shared/bin/gost); tests that need it are skipped without it.
 *
 * @module
 */
import { type DostProcess, spawnListening } from "./_dost.ts";

/** The gost binary, or `undefined` when `GOST_BIN` is unset or does not exist. */
export const GOST_BIN: string | undefined = (() => {
  const p = Deno.env.get("GOST_BIN");
  if (!p) return undefined;
  try {
    return Deno.statSync(p).isFile ? p : undefined;
  } catch {
    return undefined;
  }
})();

export type GostProcess = DostProcess;

/** Starts gost with `args` and waits for `services` "listening on" lines. */
export async function startGost(args: string[], services = 1): Promise<GostProcess> {
  if (!GOST_BIN) throw new Error("GOST_BIN is not set");
  return await spawnListening(GOST_BIN, args, { want: services, what: "gost" });
}
