"""Pictures for tests, made on the spot."""

import struct
import zlib
from io import BytesIO

from PIL import Image


def picture(kind="PNG", size=(64, 64)):
    """The bytes of a small picture of one colour."""
    buffer = BytesIO()
    Image.new("RGB", size, "#f0c0d0").save(buffer, format=kind)
    return buffer.getvalue()


def png_header_only(width, height):
    """A PNG that claims width x height pixels in a few dozen bytes: what a
    decompression bomb looks like before anything decodes it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks
