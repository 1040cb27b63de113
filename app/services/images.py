"""Deciding what an upload really is, by decoding it (Pillow), and re-encoding it clean.

The file name and the client's Content-Type are never trusted. Only JPEG, PNG, WebP and GIF
that decode within the pixel limit are accepted; the stored bytes are Pillow's re-encoding, so
whatever else the upload carried (a polyglot's HTML, trailing data) is gone.

Metadata: only the ICC colour profile is kept. An EXIF orientation is applied to the pixels
(``ImageOps.exif_transpose``) and then not stored; EXIF (camera make, serial numbers, GPS),
JPEG/GIF comments, XMP and PNG text chunks are dropped. Pillow writes whatever is in
``image.info`` by default, so the info is reduced to what is kept before saving.
``strip_gps=False`` (PHOTO_STRIP_GPS) keeps the EXIF block itself, minus the orientation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import TesseraError

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
ORIENTATION_TAG = 0x0112
# image.info entries that are picture, not metadata: colour, transparency, animation timing.
KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background", "disposal")


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
            data, size = _reencode(image, keep_exif=not strip_gps)
            return CleanImage(data, FORMATS[image.format], *size)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"Images may have at most {max_pixels} pixels.") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnsupportedImage("The file is not a JPEG, PNG, WebP or GIF image.") from exc


def _reencode(image: Image.Image, keep_exif: bool) -> tuple[bytes, tuple[int, int]]:
    """The clean encoding and its (upright) size."""
    out = io.BytesIO()
    fmt = image.format or "PNG"
    exif = image.getexif()
    picture = image
    if not getattr(image, "is_animated", False):
        # Rotates the pixels by the EXIF orientation and removes the tag from ``exif``.
        picture = ImageOps.exif_transpose(image) or image
        exif = picture.getexif()
    picture.info = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    options: dict[str, object] = {}
    if keep_exif and fmt in ("JPEG", "WEBP") and exif:
        exif.pop(ORIENTATION_TAG, None)
        options["exif"] = exif.tobytes()
    if fmt == "JPEG":
        options |= {"quality": 92, "optimize": True}
        picture = picture.convert("RGB") if picture.mode not in ("RGB", "L", "CMYK") else picture
    if fmt == "GIF" and getattr(image, "is_animated", False):
        options["save_all"] = True
    if "icc_profile" in image.info:
        options["icc_profile"] = image.info["icc_profile"]
    picture.save(out, format=fmt, **options)
    return out.getvalue(), picture.size


def thumbnail(raw: bytes, size: int = 320) -> bytes:
    """A JPEG of at most ``size`` pixels on its longer side (first frame of animations)."""
    with Image.open(io.BytesIO(raw)) as image:
        image.seek(0)
        picture = image.convert("RGB")
        picture.thumbnail((size, size))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=80)
        return out.getvalue()
