/**
 * Ingress rules (hostname → tunnel) and tunnel ids.
 *
 * @module
 */
export { compileRules, Ingress, type IngressMatch, type IngressRule, parseIngressLines, stripPort } from "./ingress.ts";
export { formatUuid, parseEndpoint, parseUuid, randomUuid, type TunnelEndpoint } from "./endpoint.ts";
