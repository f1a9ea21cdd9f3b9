"""Images made in the tests with Pillow: good ones with metadata, and bad uploads."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage

RED, BLUE = (220, 20, 20), (20, 20, 220)
GPS_IFD, ORIENTATION = 0x8825, 0x0112


def two_halves(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: where they end up shows the image's orientation."""
    image = Image.new(mode, (width, height), RED)
    ImageDraw.Draw(image).rectangle((width // 2, 0, width, height), fill=BLUE)
    return image


def big_jpeg_with_gps(width: int = 3000, height: int = 2000, orientation: int = 6) -> bytes:
    """A camera photo: EXIF with GPS coordinates and an orientation (6: turn it 90° clockwise), a comment."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    out = io.BytesIO()
    two_halves(width, height).save(out, "JPEG", quality=80, exif=exif.tobytes(), comment=b"secret place")
    return out.getvalue()


def png(width: int = 400, height: int = 300, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    two_halves(width, height, mode).save(out, "PNG")
    return out.getvalue()


def gif(frames: int = 3, size: int = 120) -> bytes:
    """An animation: one colour per frame."""
    colours = [RED, BLUE, (20, 200, 20), (200, 200, 20)]
    images = [Image.new("RGB", (size, size), colours[i % 4]).convert("P") for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return out.getvalue()


def webp(width: int = 200, height: int = 100) -> bytes:
    out = io.BytesIO()
    two_halves(width, height).save(out, "WEBP")
    return out.getvalue()


SVG_WITH_SCRIPT = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                   b'<script>alert(document.cookie)</script></svg>')
PHP_SCRIPT = b"<?php system($_GET['cmd']); ?>\n"


def bad_files() -> dict[str, tuple[str, bytes]]:
    """What should be refused: label -> (file name sent, bytes)."""
    whole = big_jpeg_with_gps(800, 600)
    return {
        "renamed script": ("x.jpg", PHP_SCRIPT),
        "svg with script": ("logo.svg", SVG_WITH_SCRIPT),
        "svg named png": ("logo.png", SVG_WITH_SCRIPT),
        "truncated jpeg": ("cut.jpg", whole[: len(whole) // 2]),
        "truncated png": ("cut.png", png(300, 300, "RGB")[:400]),
        "zero bytes": ("empty.jpg", b""),
        "text": ("notes.png", b"just some text, not an image"),
        "bmp": ("old.bmp", _bmp()),
    }


def _bmp() -> bytes:
    out = io.BytesIO()
    two_halves(20, 20).save(out, "BMP")
    return out.getvalue()


def bomb_png(side: int = 30_000) -> bytes:
    """A tiny PNG whose header says side x side pixels (a decompression bomb: its zeros
    would decode to gigabytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" * (side // 8 + 1) * 64, 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def upload(data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> dict:
    """The ``files=`` argument of Quart's test client: one part named ``file``."""
    return {"file": FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)}


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sunrise(width: int = 2000, height: int = 1200) -> bytes:
    """A JPEG that looks like a photo in screenshots: a sky from night blue to orange, the
    sun on the horizon, hills, and water with the sun's reflection."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = int(height * 0.62)
    top, low = (24, 38, 92), (250, 164, 84)
    for y in range(horizon):
        t = y / horizon
        draw.line([(0, y), (width, y)], fill=tuple(round(a + (b - a) * t ** 1.6) for a, b in zip(top, low)))
    sun_x, radius = int(width * 0.58), int(height * 0.09)
    draw.ellipse((sun_x - radius, horizon - radius, sun_x + radius, horizon + radius), fill=(255, 214, 120))
    draw.polygon([(0, horizon), (0, int(horizon * 0.82)), (int(width * 0.2), int(horizon * 0.9)),
                  (int(width * 0.38), int(horizon * 0.8)), (int(width * 0.5), horizon)], fill=(58, 52, 88))
    draw.polygon([(int(width * 0.66), horizon), (int(width * 0.82), int(horizon * 0.86)),
                  (width, int(horizon * 0.92)), (width, horizon)], fill=(70, 60, 96))
    for y in range(horizon, height):
        t = (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=tuple(round(a * (1 - t) + b * t) for a, b in
                                                     zip((180, 120, 90), (30, 40, 70))))
    for n, y in enumerate(range(horizon + 8, height, 14)):
        half = int(radius * (1.1 - (y - horizon) / (height - horizon))) + (n % 3) * 6
        draw.line([(sun_x - half, y), (sun_x + half, y)], fill=(255, 200, 120), width=4)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
