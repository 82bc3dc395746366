#!/usr/bin/python3
"""grpcio (gRPC C-core) as a peer of dost's grpc transport.

GOST's tunnel service, with hand-written (de)serializers for
`message Chunk { bytes data = 1; }` (python3-grpcio has no protoc here):

  peer.py server [--tls CERT KEY] [--path /GostTunel/Tunnel]
      Echo server: every Chunk received is sent back. Prints its port,
      serves until stdin closes.

  peer.py client HOST:PORT [--tls CA] [--authority NAME] [--path P]
                 [--count N] [--size BYTES] [--calls C] [--expect-code CODE]
      Opens C concurrent Tunnel calls, sends N chunks of SIZE bytes on each,
      half-closes and reads until the server ends the call. Prints one JSON
      line: {"calls": [{"sent": sha256, "received": sha256, "bytes": n,
      "code": status name, "details": text}]}.
"""
import argparse
import hashlib
import json
import sys
import threading
from concurrent import futures

import grpc


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_chunk(data):
    """Chunk{data} as protobuf; proto3 omits an empty field."""
    if not data:
        return b""
    return b"\x0a" + varint(len(data)) + data


def read_varint(buf, i):
    shift = 0
    v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7


def decode_chunk(msg):
    """The `data` field of a Chunk; unknown fields are skipped."""
    i = 0
    data = b""
    while i < len(msg):
        tag, i = read_varint(msg, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            _, i = read_varint(msg, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = read_varint(msg, i)
            if field == 1:
                data = msg[i:i + n]
            i += n
        else:
            raise ValueError("bad wire type %d" % wire)
    return data


def method_names(path):
    parts = path.strip("/").split("/", 1)
    return parts[0], parts[1] if len(parts) > 1 else "Tunnel"


def pattern(n, seed):
    """Deterministic bytes, different per seed."""
    out = bytearray()
    block = hashlib.sha256(b"dost-%d" % seed).digest()
    while len(out) < n:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:n])


def serve(args):
    service, method = method_names(args.path)

    def tunnel(request_iterator, context):
        for chunk in request_iterator:
            yield chunk

    handler = grpc.method_handlers_generic_handler(service, {
        method: grpc.stream_stream_rpc_method_handler(
            tunnel, request_deserializer=decode_chunk, response_serializer=encode_chunk),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((handler,))
    if args.tls:
        cert = open(args.tls[0], "rb").read()
        key = open(args.tls[1], "rb").read()
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


def client(args):
    options = []
    if args.authority:
        options.append(("grpc.default_authority", args.authority))
    if args.tls:
        creds = grpc.ssl_channel_credentials(root_certificates=open(args.tls, "rb").read())
        options.append(("grpc.ssl_target_name_override", args.authority or "localhost"))
        channel = grpc.secure_channel(args.target, creds, options=options)
    else:
        channel = grpc.insecure_channel(args.target, options=options)
    call = channel.stream_stream(args.path, request_serializer=encode_chunk, response_deserializer=decode_chunk)
    results = [None] * args.calls

    def one(k):
        chunks = [pattern(args.size, k * 100000 + i) for i in range(args.count)]
        sent = hashlib.sha256(b"".join(chunks)).hexdigest()
        got = hashlib.sha256()
        n = 0
        code, details = "OK", ""
        try:
            for data in call(iter(chunks), timeout=60):
                got.update(data)
                n += len(data)
        except grpc.RpcError as e:
            code, details = e.code().name, e.details() or ""
        results[k] = {"sent": sent, "received": got.hexdigest(), "bytes": n, "code": code, "details": details}

    threads = [threading.Thread(target=one, args=(k,)) for k in range(args.calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    channel.close()
    print(json.dumps({"calls": results}), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--tls", nargs=2)
    s.add_argument("--path", default="/GostTunel/Tunnel")
    c = sub.add_parser("client")
    c.add_argument("target")
    c.add_argument("--tls")
    c.add_argument("--authority")
    c.add_argument("--path", default="/GostTunel/Tunnel")
    c.add_argument("--count", type=int, default=4)
    c.add_argument("--size", type=int, default=1000)
    c.add_argument("--calls", type=int, default=1)
    args = p.parse_args()
    if args.mode == "server":
        serve(args)
    else:
        client(args)


if __name__ == "__main__":
    main()
