/**
 * The `grpc` tunnel transport (shared/spec/h2-and-grpc.md §2): GOST's
 * `GostTunel.Tunnel` bidirectional stream of `Chunk { bytes data = 1 }`
 * messages, on dost's HTTP/2 (transports/h2). See docs/grpc.md for why it
 * is not built on `@grpc/grpc-js`.
 *
 * @module
 */
export { GRPC_ALPN, GrpcListener, isGrpcContentType, listenGrpc } from "./listener.ts";
export { GRPC_USER_AGENT, GrpcDialer, grpcDialer, stripPort } from "./dialer.ts";
export { decodeGrpcMessage, encodeGrpcMessage, GrpcConn, GrpcStatusError, OK_TRAILERS } from "./conn.ts";
export {
  chunkHeader,
  DEFAULT_METHOD_PATH,
  encodeChunkMessage,
  GrpcFramingError,
  MAX_CHUNK,
  MAX_MESSAGE_SIZE,
  methodPath,
  Status,
} from "./_proto.ts";
export {
  DEFAULT_BACKLOG,
  type GrpcDialerOptions,
  type GrpcListenerOptions,
  parseDialerMetadata,
  parseListenerMetadata,
} from "./metadata.ts";
