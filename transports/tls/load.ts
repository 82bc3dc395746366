/**
 * Loading TLS material from files, and GOST v3.2.6's default certificate.
 *
 * Server side: a service with neither `certFile` nor `keyFile` uses the
 * global default config; otherwise the pair is loaded and a `caFile` makes
 * client certificates mandatory. The global default (v3.2.6): with no
 * top-level `tls` section, `cert.pem` + `key.pem` (+ optional `ca.pem`) from
 * the working directory; with one, its files; if that fails, a certificate
 * generated in memory (one per process, nothing written to disk).
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import type { ClientTLSConfig, ServerTLSConfig } from "../types.ts";
import { type Logger, rootLogger } from "../log.ts";
import { splitHostPort } from "../addr.ts";
import { DEFAULT_COMMON_NAME, DEFAULT_ORGANIZATION, DEFAULT_VALIDITY_MS, generateCertificate } from "./cert.ts";

/** The file-level TLS settings of a service, node or the top-level `tls` section (YAML `tls:`). */
export interface TLSFileConfig {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  /** Client side: verify the server's certificate and name. @default false */
  secure?: boolean;
  /** Client side: SNI and name to verify. @default the node's host */
  serverName?: string;
  /** ALPN protocols (YAML `options.alpn`; also accepted at the top level). */
  alpn?: string[];
  options?: { alpn?: string[] };
}

/** The top-level `tls` section: file settings plus what a generated certificate looks like. */
export interface GlobalTLSConfig extends TLSFileConfig {
  /** Lifetime of a generated certificate, in milliseconds. @default one year */
  validity?: number;
  /** @default "gost.run" */
  commonName?: string;
  /** @default "GOST" */
  organization?: string;
}

/** Options for {@linkcode defaultServerTLS}. */
export interface DefaultTLSOptions {
  /** Where the default certificate's messages go. @default rootLogger */
  log?: Logger;
  /** Directory to look for `cert.pem`/`key.pem`/`ca.pem` in. @default the working directory */
  cwd?: string;
}

/** File names v3.2.6 looks for in the working directory when there is no `tls` section. */
export const DEFAULT_CERT_FILE = "cert.pem";
export const DEFAULT_KEY_FILE = "key.pem";
export const DEFAULT_CA_FILE = "ca.pem";

function alpnOf(cfg: TLSFileConfig | undefined): string[] | undefined {
  const alpn = cfg?.options?.alpn ?? cfg?.alpn;
  return alpn && alpn.length > 0 ? [...alpn] : undefined;
}

async function readFile(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot read TLS ${what} file "${path}": ${reason}`, { cause: err });
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Checks that `pem` holds at least one certificate and all of them parse; returns the first. */
function checkCertificates(pem: string, path: string, what: string): X509Certificate {
  const blocks = pem.match(PEM_CERT);
  if (!blocks) throw new SyntaxError(`Cannot parse TLS ${what} file "${path}": no PEM certificate found`);
  const certs = blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new SyntaxError(`Cannot parse TLS ${what} file "${path}": ${(err as Error).message}`, { cause: err });
    }
  });
  return certs[0];
}

/** Reads and checks a certificate/key pair (and optional CA bundle). */
async function loadPair(certFile: string, keyFile: string, caFile?: string): Promise<ServerTLSConfig> {
  const cert = await readFile(certFile, "certificate");
  const key = await readFile(keyFile, "key");
  const leaf = checkCertificates(cert, certFile, "certificate");
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw new SyntaxError(`Cannot parse TLS key file "${keyFile}": ${(err as Error).message}`, { cause: err });
  }
  let matches = false;
  try {
    matches = leaf.checkPrivateKey(keyObject);
  } catch {
    // mismatched key types throw on some runtimes: not a match either
  }
  if (!matches) {
    throw new TypeError(`TLS key file "${keyFile}" does not match the certificate in "${certFile}"`);
  }
  const out: ServerTLSConfig = { cert, key };
  if (caFile) {
    out.ca = await readFile(caFile, "CA");
    checkCertificates(out.ca, caFile, "CA");
  }
  return out;
}

/**
 * Builds a service's server TLS config. Without `certFile` and `keyFile` it
 * is a copy of `defaults()` (the global default) with this config's ALPN;
 * otherwise the files are loaded, and `caFile` turns on mandatory client
 * certificates. Errors name the file.
 */
export async function loadServerTLS(
  cfg: TLSFileConfig | undefined,
  defaults: () => Promise<ServerTLSConfig>,
): Promise<ServerTLSConfig> {
  const alpn = alpnOf(cfg);
  if (!cfg?.certFile && !cfg?.keyFile) {
    const base = await defaults();
    const out: ServerTLSConfig = { ...base };
    if (alpn) out.alpn = alpn;
    return out;
  }
  if (!cfg.certFile) throw new TypeError(`TLS keyFile "${cfg.keyFile}" is set but certFile is empty`);
  if (!cfg.keyFile) throw new TypeError(`TLS certFile "${cfg.certFile}" is set but keyFile is empty`);
  const out = await loadPair(cfg.certFile, cfg.keyFile, cfg.caFile || undefined);
  if (alpn) out.alpn = alpn;
  return out;
}

const generated = new Map<string, Promise<ServerTLSConfig>>();

/** One generated certificate per process (per subject and validity). */
function generatedTLS(cfg: GlobalTLSConfig | undefined): Promise<ServerTLSConfig> {
  const commonName = cfg?.commonName || DEFAULT_COMMON_NAME;
  const organization = cfg?.organization || DEFAULT_ORGANIZATION;
  const validityMs = cfg?.validity && cfg.validity > 0 ? cfg.validity : DEFAULT_VALIDITY_MS;
  const id = JSON.stringify([commonName, organization, validityMs]);
  let p = generated.get(id);
  if (!p) {
    p = generateCertificate({ commonName, organization, validityMs }).then(({ cert, key }) => ({ cert, key }));
    p.catch(() => generated.delete(id));
    generated.set(id, p);
  }
  return p;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The global default server TLS config, GOST v3.2.6 behaviour:
 *
 * - no top-level `tls` section (`globalCfg` undefined): `cert.pem` and
 *   `key.pem` from the working directory; if `ca.pem` is there too, client
 *   certificates signed by it are required;
 * - a `tls` section: its `certFile`/`keyFile`/`caFile`;
 * - if that cannot be loaded: a self-signed certificate generated in memory
 *   (`commonName`/`organization`/`validity` from the section), one per
 *   process, never written to disk.
 *
 * Never rejects for missing or bad files; a warning is logged instead.
 */
export async function defaultServerTLS(
  globalCfg?: GlobalTLSConfig,
  opts: DefaultTLSOptions = {},
): Promise<ServerTLSConfig> {
  const log = opts.log ?? rootLogger;
  const inCwd = (name: string) => (opts.cwd ? join(opts.cwd, name) : name);
  const certFile = globalCfg ? globalCfg.certFile : inCwd(DEFAULT_CERT_FILE);
  const keyFile = globalCfg ? globalCfg.keyFile : inCwd(DEFAULT_KEY_FILE);
  let caFile = globalCfg ? globalCfg.caFile : inCwd(DEFAULT_CA_FILE);
  if (!globalCfg && !(await exists(caFile!))) caFile = undefined;
  if (certFile && keyFile) {
    try {
      const out = await loadPair(certFile, keyFile, caFile || undefined);
      log.debug("load global TLS certificate files OK", {
        cert: certFile,
        key: keyFile,
        ca: out.ca ? caFile : undefined,
      });
      return out;
    } catch (err) {
      // Without a tls section, absent files are the normal case: say so only at debug.
      const quiet = !globalCfg && !(await exists(certFile)) && !(await exists(keyFile));
      log.log(quiet ? "debug" : "warn", "load TLS certificate files failed, use random generated certificate", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return { ...(await generatedTLS(globalCfg)) };
}

/** The host part of `host:port` (or the string itself when it has no port). */
function hostOf(addr: string): string {
  try {
    return splitHostPort(addr).host;
  } catch {
    return addr.startsWith("[") && addr.endsWith("]") ? addr.slice(1, -1) : addr;
  }
}

/**
 * Builds a node's client TLS config. `serverName` defaults to the host of
 * `nodeAddr` (`host` or `host:port`); `secure` defaults to false (GOST
 * verifies nothing unless asked); `caFile` pins the chain; `certFile` +
 * `keyFile` give a client certificate. Errors name the file.
 */
export async function loadClientTLS(cfg: TLSFileConfig | undefined, nodeAddr: string): Promise<ClientTLSConfig> {
  const out: ClientTLSConfig = {
    serverName: cfg?.serverName || hostOf(nodeAddr) || undefined,
    secure: cfg?.secure ?? false,
  };
  if (cfg?.caFile) {
    out.ca = await readFile(cfg.caFile, "CA");
    checkCertificates(out.ca, cfg.caFile, "CA");
  }
  if (cfg?.certFile || cfg?.keyFile) {
    if (!cfg.certFile) throw new TypeError(`TLS keyFile "${cfg.keyFile}" is set but certFile is empty`);
    if (!cfg.keyFile) throw new TypeError(`TLS certFile "${cfg.certFile}" is set but keyFile is empty`);
    const pair = await loadPair(cfg.certFile, cfg.keyFile);
    out.cert = pair.cert;
    out.key = pair.key;
  }
  const alpn = alpnOf(cfg);
  if (alpn) out.alpn = alpn;
  return out;
}
