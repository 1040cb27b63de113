"""Uploads keep their pixels and colour profile, and nothing else the camera or an editor
wrote (pen-test case 8): no EXIF (camera make, serial number, GPS), no comments, no XMP, no
PNG text chunks. An EXIF orientation is applied to the pixels, then dropped."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from tests.api.conftest import PhotoApi

MAKE, ORIENTATION, EXIF_IFD, GPS_IFD, BODY_SERIAL = 0x010F, 0x0112, 0x8769, 0x8825, 0xA431
SECRETS = (b"SpyCam-Maker", b"SERIAL-0042-SECRET", b"comment-secret", b"xmp-secret", b"52.3702")
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="xmp-secret"/></rdf:RDF></x:xmpmeta>'
)


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "SpyCam-Maker"
    exif[ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = "SERIAL-0042-SECRET"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.3702, 0.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)})
    return exif


def landscape() -> Image.Image:
    """40 x 20: red on the left, blue on the right; shown rotated, red is at the top."""
    image = Image.new("RGB", (40, 20), "blue")
    image.paste((255, 0, 0), (0, 0, 20, 20))
    return image


def upload_with_everything(fmt: str) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = {"exif": camera_exif().tobytes(), "icc_profile": ICC}
    if fmt == "JPEG":
        options |= {"comment": b"comment-secret", "xmp": XMP, "quality": 95}
    elif fmt == "WEBP":
        options |= {"xmp": XMP, "lossless": True}
    elif fmt == "PNG":
        text = PngInfo()
        text.add_text("Comment", "comment-secret")
        text.add_text("XML:com.adobe.xmp", XMP.decode())
        text.add_text("Software", "SERIAL-0042-SECRET", zip=True)
        text.add_itxt("Description", "comment-secret", lang="en")
        options["pnginfo"] = text
    landscape().save(out, format=fmt, **options)
    raw = out.getvalue()
    for secret in (b"SpyCam-Maker", b"comment-secret"):
        assert secret in raw or fmt == "WEBP" and secret == b"comment-secret", (fmt, secret)
    return raw


def stored(api: PhotoApi, raw: bytes, fmt: str) -> bytes:
    response = api.upload(raw, filename=f"x.{fmt.lower()}", content_type="image/" + fmt.lower())
    assert response.status_code == 201, response.get_data(as_text=True)
    content = api.get(f"/photos/{response.json['id']}/content")
    assert content.status_code == 200
    return content.get_data()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_only_the_pixels_rotated_upright_and_the_icc_profile_are_kept(
    bob_api: PhotoApi, fmt: str
) -> None:
    data = stored(bob_api, upload_with_everything(fmt), fmt)
    for secret in SECRETS:
        assert secret not in data, secret
    assert b"xmpmeta" not in data and b"http://ns.adobe.com/xap" not in data
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    assert MAKE not in exif and ORIENTATION not in exif
    assert dict(exif.get_ifd(EXIF_IFD)) == {} and dict(exif.get_ifd(GPS_IFD)) == {}
    assert "comment" not in image.info and "xmp" not in image.info
    assert not {"Comment", "Software", "Description", "XML:com.adobe.xmp"} & set(image.info)
    assert image.info.get("icc_profile") == ICC
    assert image.size == (20, 40)  # orientation 6 applied: portrait now
    top, bottom = image.convert("RGB").getpixel((10, 5)), image.convert("RGB").getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60, top  # red on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_the_photo_rows_size_is_the_upright_size(bob_api: PhotoApi) -> None:
    response = bob_api.upload(upload_with_everything("JPEG"), filename="x.jpg")
    assert (response.json["width"], response.json["height"]) == (20, 40)


@pytest.mark.parametrize("frames", [1, 3])
def test_a_gif_comment_is_dropped_and_the_animation_kept(bob_api: PhotoApi, frames: int) -> None:
    images = [Image.new("P", (16, 16), n % 2) for n in range(frames)]
    for image in images:
        image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    out = io.BytesIO()
    images[0].save(
        out, format="GIF", save_all=True, append_images=images[1:], comment=b"comment-secret"
    )
    assert b"comment-secret" in out.getvalue()
    data = stored(bob_api, out.getvalue(), "GIF")
    assert b"comment-secret" not in data
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == frames
