"""A small PNG decoder: 8- and 16-bit greyscale, RGB, palette, with or without alpha.

Not interlaced (the ``frames`` step never writes interlaced PNGs); an interlaced or
otherwise unusual file is refused with a message saying so. Rows are unfiltered in place
(PNG's five filters); the decoded picture is always 8-bit RGB, the only form the
statistics need.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Channels per pixel by colour type.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class PngError(ValueError):
    """The bytes are not a PNG this decoder reads; the message says why."""


@dataclass
class Rgb:
    """An 8-bit RGB picture, rows top to bottom, ``width * 3`` bytes a row."""

    width: int
    height: int
    data: bytearray

    def row(self, y: int) -> bytearray:
        """Row ``y`` (a copy)."""
        stride = self.width * 3
        return self.data[y * stride : (y + 1) * stride]


def _chunks(data: bytes):
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG file (bad signature)")
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise PngError(f"chunk {kind!r} is cut short")
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return
    raise PngError("no IEND chunk: the file is cut short")


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> bytearray:
    """Reverses PNG filtering; ``raw`` holds a filter byte before each row."""
    if len(raw) < height * (stride + 1):
        raise PngError(f"image data is {len(raw)} bytes, expected {height * (stride + 1)}")
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        if ftype == 0:
            pass
        elif ftype == 1:  # Sub
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            row = bytearray([(a + b) & 0xFF for a, b in zip(row, prev)])
        elif ftype == 3:  # Average
            for i in range(bpp):
                row[i] = (row[i] + (prev[i] >> 1)) & 0xFF
            for i in range(bpp, stride):
                row[i] = (row[i] + ((row[i - bpp] + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa = abs(p - a)
                pb = abs(p - b)
                pc = abs(p - c)
                if pa <= pb and pa <= pc:
                    pred = a
                elif pb <= pc:
                    pred = b
                else:
                    pred = c
                row[i] = (row[i] + pred) & 0xFF
        else:
            raise PngError(f"row {y} has unknown filter type {ftype}")
        out[y * stride : (y + 1) * stride] = row
        prev = row
    return out


def decode(data: bytes) -> Rgb:
    """Decodes a PNG to 8-bit RGB."""
    header = None
    palette = b""
    idat = []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            if len(body) != 13:
                raise PngError("IHDR chunk is not 13 bytes")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise PngError("no IHDR chunk")
    width, height, depth, ctype, _compression, _filter, interlace = header
    if ctype not in _CHANNELS:
        raise PngError(f"unknown colour type {ctype}")
    if depth not in (8, 16) or (ctype == 3 and depth != 8):
        raise PngError(f"bit depth {depth} is not supported (8 or 16)")
    if interlace:
        raise PngError("interlaced PNGs are not supported")
    if width == 0 or height == 0 or width * height > 8192 * 8192:
        raise PngError(f"unsupported size {width}x{height}")
    channels = _CHANNELS[ctype]
    bpp = channels * depth // 8
    stride = width * bpp
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise PngError(f"image data does not inflate: {exc}") from None
    pixels = _unfilter(raw, height, stride, bpp)
    if depth == 16:  # keep the high byte of each sample
        pixels = pixels[0::2]
    return Rgb(width, height, _to_rgb(pixels, ctype, palette, width * height))


def _to_rgb(pixels: bytearray, ctype: int, palette: bytes, count: int) -> bytearray:
    if ctype == 2:
        return pixels
    rgb = bytearray(count * 3)
    if ctype == 6:
        for c in range(3):
            rgb[c::3] = pixels[c::4]
    elif ctype in (0, 4):
        grey = pixels[0 :: 1 if ctype == 0 else 2]
        for c in range(3):
            rgb[c::3] = grey
    else:  # palette
        if len(palette) % 3 or not palette:
            raise PngError("palette image without a valid PLTE chunk")
        entries = len(palette) // 3
        for i, index in enumerate(pixels):
            if index >= entries:
                raise PngError(f"palette index {index} past the {entries} entries")
            rgb[i * 3 : i * 3 + 3] = palette[index * 3 : index * 3 + 3]
    return rgb


def encode_rgb(width: int, height: int, data: bytes, filters: tuple[int, ...] = (0,)) -> bytes:
    """Encodes 8-bit RGB as PNG, cycling through ``filters`` row by row (for tests)."""
    stride = width * 3
    raw = bytearray()
    prev = bytes(stride)
    for y in range(height):
        row = data[y * stride : (y + 1) * stride]
        ftype = filters[y % len(filters)]
        raw.append(ftype)
        raw += _filter_row(ftype, row, prev, 3)
        prev = row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


def _filter_row(ftype: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if ftype == 0:
            pred = 0
        elif ftype == 1:
            pred = a
        elif ftype == 2:
            pred = b
        elif ftype == 3:
            pred = (a + b) >> 1
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (x - pred) & 0xFF
    return bytes(out)
