"""Deciding what an upload really is, by decoding it (Pillow), and re-encoding it clean.

The file name and the client's Content-Type are never trusted. Only JPEG, PNG, WebP and GIF
that decode within the pixel limit are accepted; the stored bytes are Pillow's re-encoding, so
whatever else the upload carried (a polyglot's HTML, trailing data, GPS metadata) is gone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from app.errors import TesseraError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
GPS_IFD_TAG = 0x8825


class UnsupportedImage(TesseraError):
    status = 415
    error = "unsupported_media_type"


class ImageTooLarge(TesseraError):
    status = 413
    error = "request_too_large"


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int


def clean_image(raw: bytes, *, max_pixels: int, strip_gps: bool = True) -> CleanImage:
    """Decode ``raw``, check it, and return a fresh encoding of the same picture."""
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in FORMATS:
                raise UnsupportedImage("Only JPEG, PNG, WebP and GIF images are accepted.")
            # Every frame of an animation is decoded and re-encoded: they all count.
            frames = int(getattr(image, "n_frames", 1))
            if image.width * image.height * frames > max_pixels:
                raise ImageTooLarge(f"Images may have at most {max_pixels} pixels (all frames).")
            image.load()
            data = _reencode(image, strip_gps)
            return CleanImage(data, FORMATS[image.format], image.width, image.height)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"Images may have at most {max_pixels} pixels.") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedImage("The file is not a JPEG, PNG, WebP or GIF image.") from exc


def _reencode(image: Image.Image, strip_gps: bool) -> bytes:
    out = io.BytesIO()
    fmt = image.format or "PNG"
    exif = image.getexif()
    if strip_gps and GPS_IFD_TAG in exif:
        del exif[GPS_IFD_TAG]
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP") and exif:
        options["exif"] = exif.tobytes()
    if fmt == "JPEG":
        options |= {"quality": 92, "optimize": True}
        image = image.convert("RGB") if image.mode not in ("RGB", "L", "CMYK") else image
    if fmt == "GIF" and getattr(image, "is_animated", False):
        options["save_all"] = True
    image.save(out, format=fmt, **options)
    return out.getvalue()


def thumbnail(raw: bytes, size: int = 320) -> bytes:
    """A JPEG of at most ``size`` pixels on its longer side (first frame of animations)."""
    with Image.open(io.BytesIO(raw)) as image:
        image.seek(0)
        picture = image.convert("RGB")
        picture.thumbnail((size, size))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=80)
        return out.getvalue()
