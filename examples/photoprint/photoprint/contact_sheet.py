"""A printable contact sheet: Bob's photos on A4 pages, 3 across and 4 down, titled.

Pillow draws each page at 150 dpi (1240 x 1754 pixels) and writes them as one PDF; the
PDF's Subject says how many photos it holds ("3 photos"), and there is one page per 12.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

DPI = 150
PAGE = (1240, 1754)  # A4, 210 x 297 mm at 150 dpi
MARGIN = 90
COLUMNS, ROWS = 3, 4
PER_PAGE = COLUMNS * ROWS
GAP = 30
CAPTION = 44  # pixels under each picture for its title
HEADER = 90


@dataclass(frozen=True)
class Picture:
    title: str
    data: bytes


def render(pictures: Sequence[Picture], heading: str) -> bytes:
    """The PDF's bytes; an empty sheet still has one page that says so."""
    chunks = [pictures[i : i + PER_PAGE] for i in range(0, len(pictures), PER_PAGE)] or [[]]
    pages = [
        _page(chunk, f"{heading} · page {n} of {len(chunks)}")
        for n, chunk in enumerate(chunks, start=1)
    ]
    out = io.BytesIO()
    pages[0].save(
        out,
        format="PDF",
        save_all=True,
        append_images=pages[1:],
        resolution=DPI,
        title=heading,
        author="PhotoPrint",
        subject=f"{len(pictures)} photo{'' if len(pictures) == 1 else 's'}",
    )
    return out.getvalue()


def _page(pictures: Sequence[Picture], heading: str) -> Image.Image:
    page = Image.new("RGB", PAGE, "white")
    draw = ImageDraw.Draw(page)
    draw.text((MARGIN, MARGIN // 2), heading, fill="black", font=_font(32))
    if not pictures:
        draw.text((MARGIN, MARGIN + HEADER), "No photos yet.", fill="black", font=_font(28))
    cell_w = (PAGE[0] - 2 * MARGIN - (COLUMNS - 1) * GAP) // COLUMNS
    cell_h = (PAGE[1] - 2 * MARGIN - HEADER - (ROWS - 1) * GAP) // ROWS
    for index, picture in enumerate(pictures):
        x = MARGIN + (index % COLUMNS) * (cell_w + GAP)
        y = MARGIN + HEADER + (index // COLUMNS) * (cell_h + GAP)
        thumb = _thumbnail(picture.data, (cell_w, cell_h - CAPTION))
        box_h = cell_h - CAPTION
        page.paste(thumb, (x + (cell_w - thumb.width) // 2, y + (box_h - thumb.height) // 2))
        draw.rectangle((x, y, x + cell_w - 1, y + box_h - 1), outline=(200, 200, 200))
        draw.text((x, y + cell_h - CAPTION + 8), _fit(picture.title), fill="black", font=_font(24))
    return page


def _thumbnail(data: bytes, box: tuple[int, int]) -> Image.Image:
    """The picture scaled to fit ``box``; a grey tile if it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return ImageOps.contain(ImageOps.exif_transpose(image).convert("RGB"), box)
    except (UnidentifiedImageError, OSError, ValueError):
        return Image.new("RGB", box, (220, 220, 220))


def _fit(title: str, limit: int = 28) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)
