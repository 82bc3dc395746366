import { compileGlob } from "../matcher/glob.ts";
import { goSplitHostPort, parsePortRange } from "../matcher/hostport.ts";
import { parseCIDR, parseIP } from "../matcher/ip.ts";

/**
 * Refuses bypass patterns that gost accepts but that can never match what
 * their author meant: a malformed CIDR or IP range becomes a host name that
 * matches nothing, a bad port makes gost match every port.
 *
 * @throws {TypeError} quoting the pattern
 */
export function checkPattern(raw: string): void {
  const p = raw.trim();
  if (p === "") throw new TypeError("Empty bypass pattern");
  if (parseCIDR(p)) return;
  if (p.includes("/")) throw new TypeError(`Invalid bypass pattern "${p}": not a valid CIDR`);
  if (/[*?]/.test(p)) {
    const hp = goSplitHostPort(p);
    if (!compileGlob(hp?.host || p)) throw new TypeError(`Invalid bypass pattern "${p}": not a valid wildcard`);
    if (hp && hp.port !== "" && !parsePortRange(hp.port)) {
      throw new TypeError(`Invalid bypass pattern "${p}": bad port "${hp.port}"`);
    }
    return;
  }
  const range = p.split("-");
  const left = range[0].trim();
  if (range.length === 2 && (parseIP(left) || /^\d+(\.\d+)*$/.test(left))) {
    if (range.some((x) => !parseIP(x.trim()))) throw new TypeError(`Invalid bypass pattern "${p}": bad IP range`);
    return;
  }
  if (parseIP(p)) return;
  if (/\s/.test(p)) throw new TypeError(`Invalid bypass pattern "${p}": contains a space`);
  const hp = goSplitHostPort(p);
  if (hp && hp.host !== "" && !parsePortRange(hp.port)) {
    throw new TypeError(`Invalid bypass pattern "${p}": bad port "${hp.port}"`);
  }
  const host = hp?.host || p;
  if (!parseIP(host) && !/^[A-Za-z0-9_.-]+$/.test(host)) {
    throw new TypeError(`Invalid bypass pattern "${p}": "${host}" is not a host name`);
  }
}
