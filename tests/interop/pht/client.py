#!/usr/bin/python3
"""An independent PHT client (python3-requests) that drives dost's PHT server
by hand: authorize / push / pull as both client generations use them, plus
bad requests. The server behind BASE must echo every session's bytes and
half-close after the client's close POST.

Usage: client.py BASE [--insecure]
Prints one JSON object: {"check name": true | "what went wrong", ...}.
"""
import base64
import hashlib
import json
import os
import queue
import random
import sys
import threading
import time

import requests
import urllib3

urllib3.disable_warnings()

BASE = sys.argv[1].rstrip("/")
VERIFY = "--insecure" not in sys.argv
S = requests.Session()
S.trust_env = False  # no proxy or CA bundle from the environment (REQUESTS_CA_BUNDLE would override verify)
S.verify = VERIFY
RESULTS = {}


def check(name, cond, detail=""):
    RESULTS[name] = True if cond else (detail or False)


class Pull(threading.Thread):
    """One long GET /pull?token=…; its lines (data decoded, heartbeats as b"") go to a queue."""

    def __init__(self, token):
        super().__init__(daemon=True)
        self.token = token
        self.lines = queue.Queue()
        self.status = None
        self.headers = {}
        self.ended = threading.Event()
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = VERIFY

    def run(self):
        try:
            r = self.session.get(f"{BASE}/pull", params={"token": self.token}, stream=True, timeout=(5, 30))
            self.status = r.status_code
            self.headers = r.headers
            buf = b""
            for chunk in r.iter_content(chunk_size=None):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.lines.put(base64.b64decode(line, validate=True) if line else b"")
            r.close()
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            self.lines.put(e)
        finally:
            self.ended.set()

    def read(self, n, timeout=10):
        """Returns n data bytes (heartbeats skipped) and the number of heartbeats seen meanwhile."""
        out = b""
        beats = 0
        deadline = time.time() + timeout
        while len(out) < n:
            item = self.lines.get(timeout=max(0.01, deadline - time.time()))
            if isinstance(item, Exception):
                raise item
            if item == b"":
                beats += 1
            out += item
        return out, beats


def push(token, data):
    body = base64.b64encode(data) + b"\n"
    return S.post(f"{BASE}/push", params={"token": token}, data=body, timeout=10).status_code


def close(token):
    return S.post(f"{BASE}/push", params={"token": token}, data=b"", timeout=10).status_code


def xid():
    return "".join(random.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(20))


def classic():
    r = S.get(f"{BASE}/authorize", timeout=10)
    body = r.text
    check("authorize: 200", r.status_code == 200, f"status {r.status_code}")
    check("authorize: token=<20 chars 0-9a-v>, no newline",
          body.startswith("token=") and len(body) == 26 and all(c in "0123456789abcdefghijklmnopqrstuv" for c in body[6:]),
          repr(body))
    check("authorize: Content-Type text/plain", r.headers.get("Content-Type", "").startswith("text/plain"),
          r.headers.get("Content-Type"))
    token = body[6:]
    pull = Pull(token)
    pull.start()
    check("classic: push 200", push(token, b"hello") == 200)
    data, _ = pull.read(5)
    check("classic: pull gets the echo", data == b"hello", repr(data))
    check("pull: 200, X-Accel-Buffering: no, Cache-Control: no-cache, chunked",
          pull.status == 200 and pull.headers.get("X-Accel-Buffering") == "no"
          and pull.headers.get("Cache-Control") == "no-cache"
          and pull.headers.get("Transfer-Encoding") == "chunked",
          dict(pull.headers))
    # an idle pull carries heartbeat lines and stays open
    try:
        item = pull.lines.get(timeout=5)
        check("pull: idle heartbeat is an empty line", item == b"", repr(item))
    except queue.Empty:
        check("pull: idle heartbeat is an empty line", False, "no heartbeat within 5 s")
    check("pull: stays open after a heartbeat", not pull.ended.is_set())
    # 1 MiB in 256 KiB pushes comes back intact
    payload = os.urandom(1 << 20)
    ok = all(push(token, payload[i:i + (256 << 10)]) == 200 for i in range(0, len(payload), 256 << 10))
    back, _ = pull.read(len(payload), timeout=30)
    check("classic: 1 MiB in 4 pushes echoed intact",
          ok and hashlib.sha256(back).digest() == hashlib.sha256(payload).digest())
    # close: empty POST; the echo half-closes, so the pull ends
    check("close: empty POST answers 200", close(token) == 200)
    pull.ended.wait(10)
    check("close: the pull ends after the close", pull.ended.is_set())
    time.sleep(0.2)
    check("closed token: pull 403", S.get(f"{BASE}/pull", params={"token": token}, timeout=10).status_code == 403)
    check("closed token: push 403", push(token, b"late") == 403)


def current():
    token = xid()
    pull = Pull(token)
    pull.start()
    time.sleep(0.1)
    check("current: push with a self-made token 200", push(token, b"lazy session") == 200)
    data, _ = pull.read(12)
    check("current: pull gets the echo", data == b"lazy session", repr(data))
    check("current: close 200", close(token) == 200)
    pull.ended.wait(10)
    check("current: the pull ends", pull.ended.is_set())


def bad():
    token = S.get(f"{BASE}/authorize", timeout=10).text[6:]
    check("bad: GET push is 400", S.get(f"{BASE}/push", params={"token": token}, timeout=10).status_code == 400)
    check("bad: POST pull is 400", S.post(f"{BASE}/pull", params={"token": token}, timeout=10).status_code == 400)
    check("bad: unknown path is 404", S.get(f"{BASE}/nope", timeout=10).status_code == 404)
    check("bad: push without a token is 403", S.post(f"{BASE}/push", data=b"aGk=\n", timeout=10).status_code == 403)
    r = S.post(f"{BASE}/push", params={"token": token}, data=b"%%%% not base64\n", timeout=10)
    check("bad: invalid base64 is 400", r.status_code == 400, f"status {r.status_code}")
    check("bad: the session is gone after it (403)", push(token, b"x") == 403)
    t2 = S.get(f"{BASE}/authorize", timeout=10).text[6:]
    r = S.post(f"{BASE}/push", params={"token": t2}, data=b"A" * (1024 * 1024 + 8) + b"\n", timeout=10)
    check("bad: a push line over 1 MiB is 413", r.status_code == 413, f"status {r.status_code}")


for part in (classic, current, bad):
    try:
        part()
    except Exception as e:  # noqa: BLE001
        RESULTS[f"{part.__name__}: exception"] = repr(e)
print(json.dumps(RESULTS))
