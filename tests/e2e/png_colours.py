#!/usr/bin/env python3
"""Counts the pixels of given colours in a PNG, without PIL (a pure-Python decoder: zlib
plus the five PNG filters; 8-bit RGB or RGBA, non-interlaced, which is what Chromium writes).

  png_colours.py FILE NAME=RRGGBB... -> one line "NAME COUNT" per colour (exact matches)
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit(f"{path}: unsupported PNG (depth {depth}, type {ctype})")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = decode(sys.argv[1])
    wanted = {}
    for arg in sys.argv[2:]:
        name, hexrgb = arg.split("=")
        wanted[bytes.fromhex(hexrgb)] = name
    counts = {name: 0 for name in wanted.values()}
    for line in rows:
        for x in range(0, width * bpp, bpp):
            name = wanted.get(line[x:x + 3])
            if name is not None:
                counts[name] += 1
    print(f"size {width}x{height}")
    for name, n in counts.items():
        print(f"{name} {n}")


if __name__ == "__main__":
    main()
