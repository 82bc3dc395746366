/**
 * Self-signed certificate generation, as GOST does when no certificate is
 * configured: ECDSA P-256, subject `O=GOST, CN=gost.run`, SAN DNS `gost.run`,
 * key usage digitalSignature + keyCertSign, EKU serverAuth + clientAuth, a
 * 128-bit random serial, valid from now for one year.
 *
 * Built with `@peculiar/x509` on WebCrypto. The library (and the Reflect
 * polyfill it needs) loads on first use, so processes that never generate a
 * certificate do not pay for it.
 *
 * @module
 */

/** @default "gost.run" */
export const DEFAULT_COMMON_NAME = "gost.run";
/** @default "GOST" */
export const DEFAULT_ORGANIZATION = "GOST";
/** One year, GOST's default `tls.validity`. @default 31536000000 */
export const DEFAULT_VALIDITY_MS = 365 * 24 * 3600 * 1000;

/** Options for {@linkcode generateCertificate}. */
export interface CertificateOptions {
  /** Subject CN and the one DNS SAN (unless `dnsNames` is given). @default "gost.run" */
  commonName?: string;
  /** Subject O. @default "GOST" */
  organization?: string;
  /** Validity from now, in milliseconds. @default one year */
  validityMs?: number;
  /** DNS names for the SAN extension. @default [commonName] */
  dnsNames?: string[];
  /** IP addresses for the SAN extension. @default [] */
  ipAddresses?: string[];
  /** Mark the certificate as a CA (basic constraints CA=true), e.g. to sign client certificates. @default false */
  isCA?: boolean;
  /** Sign with this CA instead of self-signing (PEM certificate and PKCS#8 key). */
  issuer?: CertificateKeyPair;
}

/** A certificate and its private key, both PEM. */
export interface CertificateKeyPair {
  /** The certificate, PEM. */
  cert: string;
  /** The private key, PEM (PKCS#8, `BEGIN PRIVATE KEY`). */
  key: string;
}

type X509 = typeof import("@peculiar/x509");

let x509Module: Promise<X509> | undefined;

function loadX509(): Promise<X509> {
  x509Module ??= (async () => {
    // @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(crypto);
    return x509;
  })();
  return x509Module;
}

const EC_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

function randomSerial(): string {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive INTEGER in 16 octets
  if (serial[0] === 0) serial[0] = 1; // and no leading zero octet
  return Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Generates an ECDSA P-256 certificate, self-signed unless `issuer` is given.
 *
 * @example
 * ```ts
 * const { cert, key } = await generateCertificate();
 * Deno.listenTls({ port: 8443, cert, key });
 * ```
 */
export async function generateCertificate(opts: CertificateOptions = {}): Promise<CertificateKeyPair> {
  const commonName = opts.commonName || DEFAULT_COMMON_NAME;
  const organization = opts.organization || DEFAULT_ORGANIZATION;
  const validityMs = opts.validityMs && opts.validityMs > 0 ? opts.validityMs : DEFAULT_VALIDITY_MS;
  const x509 = await loadX509();

  const keys = await crypto.subtle.generateKey(EC_ALGORITHM, true, ["sign", "verify"]);
  const usages = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign |
    (opts.isCA ? x509.KeyUsageFlags.cRLSign : 0);
  const names = [
    ...(opts.dnsNames ?? [commonName]).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: InstanceType<X509["Extension"]>[] = [
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
  ];
  if (opts.isCA) {
    extensions.push(
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    );
  }
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + validityMs);
  const subject: Record<string, string[]>[] = [{ "2.5.4.10": [organization] }, { "2.5.4.3": [commonName] }];

  let cert: InstanceType<X509["X509Certificate"]>;
  if (opts.issuer) {
    const issuerCert = new x509.X509Certificate(opts.issuer.cert);
    const issuerKey = await importPkcs8(x509, opts.issuer.key);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
    cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: issuerCert.subject,
      notBefore,
      notAfter,
      signingAlgorithm: EC_ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: issuerKey,
      extensions,
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: subject,
      notBefore,
      notAfter,
      signingAlgorithm: EC_ALGORITHM,
      keys,
      extensions,
    });
  }
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: cert.toString("pem") + "\n", key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n" };
}

async function importPkcs8(x509: X509, pem: string): Promise<CryptoKey> {
  let der: ArrayBuffer;
  try {
    der = x509.PemConverter.decodeFirst(pem);
  } catch (err) {
    throw new TypeError("Cannot parse issuer key: not PEM", { cause: err });
  }
  try {
    return await crypto.subtle.importKey("pkcs8", der, EC_ALGORITHM, false, ["sign"]);
  } catch (err) {
    throw new TypeError("Cannot use issuer key: only ECDSA P-256 PKCS#8 keys are supported", { cause: err });
  }
}
