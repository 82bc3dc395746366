/**
 * Static name mappings used before any resolver.
 *
 * @module
 */
export { type HostMapper, type HostMapping, Hosts, parseHostsLines } from "./hosts.ts";
