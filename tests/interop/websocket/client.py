"""WebSocket client for dost's interop tests (python3-websockets).

Usage: client.py PORT
Talks to a dost echo server on ws://127.0.0.1:PORT/ws whose echo ignores
message boundaries (a stream), so replies are reassembled by length.
Prints one "ok ..." line per check; exits non-zero on the first failure.
"""

import asyncio
import hashlib
import sys

import websockets


async def recv_exactly(ws, n):
    buf = bytearray()
    while len(buf) < n:
        msg = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(msg, str):
            raise AssertionError(f"expected binary, got text {msg!r}")
        buf += msg
    if len(buf) != n:
        raise AssertionError(f"got {len(buf)} bytes, wanted {n}")
    return bytes(buf)


async def main(port):
    url = f"ws://127.0.0.1:{port}/ws"
    # Compression is offered (the default) and must be declined by dost.
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        for size in (1, 125, 126, 65535, 65536, 70000, 1 << 20, 5 << 20):
            data = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
            data = data[:size]
            await ws.send(data)
            got = await recv_exactly(ws, size)
            assert got == data, f"echo of {size} bytes differs"
            print(f"ok echo {size}", flush=True)

        # Text frames are data too: echoed back as bytes (binary) by dost.
        await ws.send("héllo")
        got = await recv_exactly(ws, len("héllo".encode()))
        assert got == "héllo".encode(), got
        print("ok text", flush=True)

        # A fragmented message is one stream of bytes for dost.
        async def parts():
            yield b"abc"
            yield b"def"

        await ws.send(parts())
        assert await recv_exactly(ws, 6) == b"abcdef"
        print("ok fragmented", flush=True)

        pong = await ws.ping(b"are-you-there")
        await asyncio.wait_for(pong, 5)
        print("ok ping", flush=True)

        await ws.close()
        assert ws.close_code == 1000, f"close code {ws.close_code}"
        print("ok close", flush=True)

    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/nope"):
            raise AssertionError("wrong path was accepted")
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == 404, e.status_code
        print("ok 404", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
