#!/usr/bin/python3
"""python3-hpack as an oracle for dost's HPACK code.

Reads JSON from stdin: {"encode": [[[name, value], ...], ...]} -> prints
{"blocks": [hex, ...]} (one Encoder, so later blocks use its dynamic table
and Huffman coding); or {"decode": [hex, ...]} -> prints {"headers": [...]}
(one Decoder for all blocks).
"""
import json
import sys

import hpack

req = json.load(sys.stdin)
if "encode" in req:
    enc = hpack.Encoder()
    print(json.dumps({"blocks": [enc.encode([tuple(h) for h in block]).hex() for block in req["encode"]]}))
else:
    dec = hpack.Decoder()
    out = []
    for block in req["decode"]:
        out.append([[k, v] for k, v in dec.decode(bytes.fromhex(block), raw=False)])
    print(json.dumps({"headers": out}))
