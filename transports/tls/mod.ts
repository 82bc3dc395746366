/**
 * The `tls` transport and the TLS utilities other transports build on.
 *
 * @module
 */
export { listenTls, TlsListener } from "./listener.ts";
export { TlsDialer, tlsDialer } from "./dialer.ts";
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  isDenoTcpConn,
  tlsClient,
  type TlsConn,
  type TlsHandshakeOptions,
  tlsServer,
} from "./conn.ts";
export { type CertificateKeyPair, type CertificateOptions, generateCertificate } from "./cert.ts";
export {
  defaultServerTLS,
  type DefaultTLSOptions,
  type GlobalTLSConfig,
  loadClientTLS,
  loadServerTLS,
  type TLSFileConfig,
} from "./load.ts";
