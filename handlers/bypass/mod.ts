/**
 * Target filters: where a request may go.
 *
 * @module
 */
export { Bypass, BypassGroup, type BypassMatcher, compilePatterns, matches } from "./bypass.ts";
