#!/usr/bin/python3
"""python3-h2 (hyper-h2) as an HTTP/2 peer of dost.

  peer.py client HOST:PORT [--tls] [--method CONNECT] [--authority A] [--path P]
                 [--header NAME:VALUE ...] [--streams N] [--size BYTES]
      One HTTP/2 connection (TLS with ALPN h2, or prior knowledge), N
      concurrent streams; each sends SIZE deterministic bytes as the request
      body, ends it and reads the response body to its end. Prints one JSON
      line: {"alpn": ..., "streams": [{"status", "headers", "sent",
      "received", "bytes", "reset"}]}. SIZE 0 sends no body.

  peer.py server [--tls CERT KEY]
      Echo server: every request gets 200, its body is echoed as the
      response body and the response ends with the request. Prints its port,
      serves until stdin closes.
"""
import argparse
import hashlib
import json
import select
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.events


def pattern(n, seed):
    out = bytearray()
    block = hashlib.sha256(b"dost-h2-%d" % seed).digest()
    while len(out) < n:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:n])


def flush(sock, conn):
    data = conn.data_to_send()
    if data:
        sock.sendall(data)


def client(args):
    host, port = args.target.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)), timeout=30)
    sock = raw
    alpn = None
    if args.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        alpn = sock.selected_alpn_protocol()
    # python-h2 wants :path on every request; a plain CONNECT (RFC 9113 §8.5) has none.
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=False))
    conn.initiate_connection()
    conn.increment_flow_control_window(16 << 20)
    flush(sock, conn)
    extra = [tuple(h.split(":", 1)) for h in args.header]
    streams = {}
    for k in range(args.streams):
        sid = conn.get_next_available_stream_id()
        headers = [(":method", args.method), (":authority", args.authority)]
        if args.method != "CONNECT" or args.path:
            headers += [(":scheme", "https" if args.tls else "http"), (":path", args.path or "/")]
        headers += extra
        body = pattern(args.size, k)
        conn.send_headers(sid, headers, end_stream=False)
        streams[sid] = {"body": body, "off": 0, "ended": False, "status": None, "headers": {},
                        "got": hashlib.sha256(), "bytes": 0, "done": False, "reset": None,
                        "sent": hashlib.sha256(body).hexdigest()}
    flush(sock, conn)

    def pump_out():
        for sid, s in streams.items():
            if s["ended"] or s["done"]:
                continue
            while s["off"] < len(s["body"]):
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                n = min(window, len(s["body"]) - s["off"])
                conn.send_data(sid, s["body"][s["off"]:s["off"] + n])
                s["off"] += n
            if s["off"] >= len(s["body"]) and s["status"] is not None:
                conn.end_stream(sid)
                s["ended"] = True

    while not all(s["done"] for s in streams.values()):
        pump_out()
        flush(sock, conn)
        data = sock.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            s = streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                s["headers"] = dict(ev.headers)
                s["status"] = int(s["headers"].get(":status"))
                if s["status"] != 200:
                    s["ended"] = True
            elif isinstance(ev, h2.events.DataReceived):
                s["got"].update(ev.data)
                s["bytes"] += len(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                s["done"] = True
            elif isinstance(ev, h2.events.StreamReset):
                s["reset"] = ev.error_code
                s["done"] = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                for x in streams.values():
                    x["done"] = True
        flush(sock, conn)
    conn.close_connection()
    try:
        flush(sock, conn)
    except OSError:
        pass
    sock.close()
    out = [{"status": s["status"], "headers": s["headers"], "sent": s["sent"], "received": s["got"].hexdigest(),
            "bytes": s["bytes"], "reset": s["reset"]} for s in streams.values()]
    print(json.dumps({"alpn": alpn, "streams": out}), flush=True)


def serve_conn(sock):
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="utf-8", validate_inbound_headers=False))
    conn.initiate_connection()
    flush(sock, conn)
    pending = {}  # stream id -> bytes waiting for window
    ended = set()
    try:
        while True:
            r, _, _ = select.select([sock], [], [], 30)
            if not r:
                return
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    conn.send_headers(ev.stream_id, [(":status", "200")])
                    pending[ev.stream_id] = b""
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    pending[ev.stream_id] = pending.get(ev.stream_id, b"") + ev.data
                elif isinstance(ev, h2.events.StreamEnded):
                    ended.add(ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    pending.pop(ev.stream_id, None)
                    ended.discard(ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return
            for sid in list(pending):
                buf = pending[sid]
                while buf:
                    n = min(len(buf), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                    if n <= 0:
                        break
                    conn.send_data(sid, buf[:n])
                    buf = buf[n:]
                pending[sid] = buf
                if not buf and sid in ended:
                    conn.end_stream(sid)
                    del pending[sid]
                    ended.discard(sid)
            flush(sock, conn)
    except (OSError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def server(args):
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(16)
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        ctx.set_alpn_protocols(["h2"])
    print(ln.getsockname()[1], flush=True)

    def accept():
        while True:
            try:
                c, _ = ln.accept()
            except OSError:
                return
            if ctx:
                try:
                    c = ctx.wrap_socket(c, server_side=True)
                except (OSError, ssl.SSLError):
                    c.close()
                    continue
            threading.Thread(target=serve_conn, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()
    ln.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("client")
    c.add_argument("target")
    c.add_argument("--tls", action="store_true")
    c.add_argument("--method", default="CONNECT")
    c.add_argument("--authority", default="example.com:443")
    c.add_argument("--path")
    c.add_argument("--header", action="append", default=[])
    c.add_argument("--streams", type=int, default=1)
    c.add_argument("--size", type=int, default=1000)
    s = sub.add_parser("server")
    s.add_argument("--tls", nargs=2)
    args = p.parse_args()
    if args.mode == "client":
        client(args)
    else:
        server(args)


if __name__ == "__main__":
    main()
