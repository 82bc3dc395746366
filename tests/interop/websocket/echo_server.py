"""WebSocket echo server for dost's interop tests (python3-websockets).

Prints its port on the first line of stdout, then serves until killed.
Each binary or text message is echoed with its type, except commands:
  b"whoami"      -> JSON with the request path and headers
  b"text-please" -> a text message "héllo"
  b"frag-please" -> one binary message sent as three fragments
  b"close-me"    -> a close frame (1000, "bye")
The server also pings every 0.1 s, so a peer that ignores pings is dropped.
"""

import asyncio
import json
import sys

import websockets


async def handler(ws, path=None):
    try:
        async for msg in ws:
            if msg == b"whoami":
                headers = {k: v for k, v in ws.request_headers.raw_items()}
                await ws.send(json.dumps({"path": ws.path, "headers": headers}).encode())
            elif msg == b"text-please":
                await ws.send("héllo")
            elif msg == b"frag-please":
                await ws.send([b"frag1-", b"frag2-", b"frag3"])
            elif msg == b"close-me":
                await ws.close(1000, "bye")
                print(f"closed code={ws.close_code}", file=sys.stderr, flush=True)
                return
            else:
                await ws.send(msg)
    except websockets.exceptions.ConnectionClosed:
        pass


async def main():
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        max_size=None,
        ping_interval=0.1,
        ping_timeout=2,
        compression=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
