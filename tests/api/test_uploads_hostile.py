"""Uploads that try to hurt the server or the people who later download them.

Issue 4, Deliver item 2 (the type decided by decoding, never by name or Content-Type; size,
pixel and part-count limits; EXIF GPS stripped by default; files stored under a server id)
and item 8 (HTML named x.jpg, polyglot, 1 KB PNG declaring 50,000 x 50,000 px, ``../`` names,
2,000 parts). docs/security.md rows API-03 (size and part count; Werkzeug CVE-2023-25577), API-04
(no content sniffing), API-05 (pixel flood), API-06 (file name never a path). ASVS 5.2.1,
5.2.2, 5.2.4, 5.2.6, 5.3.2.
"""

from __future__ import annotations

import hashlib
import io
import os
import resource
import struct
import time
import zlib
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from tests.api.conftest import PhotoApi, image_bytes

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TMP_TARGET = Path("/", "tmp", "evil.png")  # where the deep ``../`` name points
GPS_IFD = 0x8825
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)


# -- helpers -----------------------------------------------------------------------------------
def assert_error(response: TestResponse, status: int, error: str) -> None:
    """A JSON error with the exact status and code (never a 500, never a traceback)."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json(silent=True)
    assert isinstance(body, dict), response.get_data(as_text=True)[:300]
    assert body["error"] == error
    assert "Traceback" not in response.get_data(as_text=True)


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def stored_files(instance_path: Path) -> set[str]:
    return set(tree(instance_path / "photos"))


def assert_nothing_stored(api: PhotoApi, instance_path: Path) -> None:
    listed = api.get("/photos").get_json()
    assert listed is not None and listed["items"] == []
    assert stored_files(instance_path) == set()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_declaring(width: int, height: int, rows: int = 6) -> bytes:
    """A tiny but well-formed PNG whose IHDR claims ``width`` x ``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * ((width * 3 + 1) * rows), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG with its SOF0 frame header rewritten to claim another size."""
    raw = bytearray(image_bytes("JPEG", (16, 16)))
    sof = raw.index(b"\xff\xc0")
    raw[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(raw)


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Tessera Test Camera"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 1.5)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 2.25)
    return exif


def image_with_gps(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), "green").save(out, format=fmt, exif=gps_exif().tobytes())
    raw = out.getvalue()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD), "test image lacks GPS"
    return raw


def animated_gif(size: tuple[int, int], frames: int) -> bytes:
    images = [Image.new("P", size, n % 2) for n in range(frames)]
    for n, image in enumerate(images):
        image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        image.putpixel((n % size[0], 0), (n + 1) % 2)
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return out.getvalue()


def downloaded(api: PhotoApi, photo_id: str) -> bytes:
    response = api.get(f"/photos/{photo_id}/content")
    assert response.status_code == 200
    return response.get_data()


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str) -> bytes:
    """A multipart/form-data body by hand: (field name, file name or None, value)."""
    out = io.BytesIO()
    for name, filename, value in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if filename is not None:
            out.write(b"Content-Type: image/png\r\n")
        out.write(b"\r\n" + value + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def post_raw(api: PhotoApi, body: bytes, content_type: str) -> TestResponse:
    return api.http.post(
        "/api/v1/photos", data=body, content_type=content_type, headers=api.headers()
    )


# -- API-04: the type is what the bytes decode as --------------------------------------------------
@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        pytest.param(HTML, "x.jpg", "image/jpeg", id="html-named-jpg"),
        pytest.param(HTML, "x.html", "text/html", id="html"),
        pytest.param(SVG, "x.svg", "image/svg+xml", id="svg"),
        pytest.param(SVG, "x.png", "image/png", id="svg-named-png"),
        pytest.param(
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "x.jpg", "image/jpeg", id="pdf"
        ),  # fmt: skip
        pytest.param(
            b"\xff\xd8\xff\xe0" + b"\x00" * 64, "x.jpg", "image/jpeg", id="jpeg-magic-only"
        ),
        pytest.param(image_bytes("BMP"), "x.bmp", "image/bmp", id="bmp"),
        pytest.param(image_bytes("TIFF"), "x.tiff", "image/tiff", id="tiff"),
        pytest.param(b"", "x.png", "image/png", id="empty"),
    ],
)
def test_a_file_that_is_not_a_jpeg_png_webp_or_gif_is_unsupported_media_type(
    bob_api: PhotoApi, instance_path: Path, data: bytes, filename: str, content_type: str
) -> None:
    response = bob_api.upload(data, filename=filename, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert_nothing_stored(bob_api, instance_path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_a_polyglot_image_with_html_appended_is_stored_without_the_html(
    bob_api: PhotoApi, instance_path: Path, fmt: str
) -> None:
    polyglot = image_bytes(fmt) + HTML
    response = bob_api.upload(polyglot, filename="x.html", content_type="text/html")
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()
    assert photo is not None
    content = downloaded(bob_api, photo["id"])
    for marker in (b"<script", b"<html", b"<!DOCTYPE", b"alert("):
        assert marker.lower() not in content.lower()
    stored = (instance_path / "photos" / photo["id"][:2] / photo["id"]).read_bytes()
    assert stored == content
    assert b"<script" not in stored.lower()


def test_html_inside_a_png_text_chunk_is_not_stored(bob_api: PhotoApi) -> None:
    raw = image_bytes("PNG")
    iend = raw.rindex(b"IEND") - 4
    with_text = raw[:iend] + png_chunk(b"tEXt", b"Comment\x00" + HTML) + raw[iend:]
    assert Image.open(io.BytesIO(with_text)).size == (32, 24)
    response = bob_api.upload(with_text)
    assert response.status_code == 201
    photo = response.get_json()
    assert photo is not None
    assert b"<script" not in downloaded(bob_api, photo["id"]).lower()


# -- API-05: pixel floods --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "filename"),
    [
        pytest.param(png_declaring(50_000, 50_000), "bomb.png", id="png-50000x50000"),
        pytest.param(png_declaring(8_000, 8_000), "big.png", id="png-8000x8000-over-limit"),
        pytest.param(jpeg_declaring(65_000, 65_000), "bomb.jpg", id="jpeg-65000x65000"),
    ],
)
def test_a_small_file_declaring_a_huge_image_is_refused_quickly(
    bob_api: PhotoApi, instance_path: Path, data: bytes, filename: str
) -> None:
    assert len(data) < 2048
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.monotonic()
    response = bob_api.upload(data, filename=filename, content_type="image/png")
    elapsed = time.monotonic() - started
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert_error(response, 413, "request_too_large")
    assert elapsed < 1.0
    assert peak_after - peak_before < 100 * 1024, "decoding grew the process by over 100 MB"
    assert_nothing_stored(bob_api, instance_path)


def test_the_1kb_png_bomb_declares_fifty_thousand_squared_pixels() -> None:
    """The fixture is what the issue describes: about 1 KB, valid PNG, 50,000 x 50,000."""
    data = png_declaring(50_000, 50_000)
    assert 500 < len(data) < 1500
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", data[16:24]) == (50_000, 50_000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))


@pytest.mark.parametrize("app_config", [{"PHOTO_MAX_PIXELS": 1_000_000}], indirect=True)
def test_an_animated_gif_whose_frames_add_up_past_the_pixel_limit_is_refused(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    """Each 500 x 500 frame is under the limit; forty of them decode to ten times the limit."""
    data = animated_gif((500, 500), frames=40)
    assert len(data) < 200_000
    started = time.monotonic()
    response = bob_api.upload(data, filename="frames.gif", content_type="image/gif")
    assert_error(response, 413, "request_too_large")
    assert time.monotonic() - started < 2.0
    assert_nothing_stored(bob_api, instance_path)


# -- EXIF location ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
def test_exif_gps_is_stripped_by_default(bob_api: PhotoApi, fmt: str) -> None:
    response = bob_api.upload(image_with_gps(fmt), filename=f"x.{fmt.lower()}")
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()
    assert photo is not None
    content = downloaded(bob_api, photo["id"])
    exif = Image.open(io.BytesIO(content)).getexif()
    assert GPS_IFD not in exif
    assert dict(exif.get_ifd(GPS_IFD)) == {}


def test_xmp_gps_is_not_kept_either(bob_api: PhotoApi) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,22.025N" '
        b'exif:GPSLongitude="4,53.0375E"/></rdf:RDF></x:xmpmeta>'
    )
    out = io.BytesIO()
    Image.new("RGB", (48, 32), "green").save(out, format="JPEG", xmp=xmp)
    assert b"GPSLatitude" in out.getvalue()
    photo = bob_api.upload(out.getvalue(), filename="x.jpg").get_json()
    assert photo is not None
    assert b"GPSLatitude" not in downloaded(bob_api, photo["id"])


@pytest.mark.parametrize("app_config", [{"PHOTO_STRIP_GPS": False}], indirect=True)
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_exif_gps_is_kept_when_photo_strip_gps_is_off(bob_api: PhotoApi, fmt: str) -> None:
    photo = bob_api.upload(image_with_gps(fmt), filename=f"x.{fmt.lower()}").get_json()
    assert photo is not None
    exif = Image.open(io.BytesIO(downloaded(bob_api, photo["id"]))).getexif()
    gps = exif.get_ifd(GPS_IFD)
    assert gps[1] == "N" and gps[3] == "E"
    assert tuple(float(v) for v in gps[2]) == (52.0, 22.0, 1.5)


# -- API-06: the client's file name is never a path ------------------------------------------------
@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("../../wsgi.py", id="dot-dot"),
        pytest.param("../../../../../../tmp/evil.png", id="deep-dot-dot"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("..\\..\\wsgi.py", id="backslashes"),
        pytest.param("evil\x00.png", id="nul"),
        pytest.param("x" * 4096 + ".png", id="4kb-name"),
        pytest.param("ab/../../photos", id="into-the-store"),
    ],
)
def test_a_hostile_file_name_is_never_used_as_a_path(
    bob_api: PhotoApi, instance_path: Path, filename: str
) -> None:
    wsgi = PROJECT_ROOT / "wsgi.py"
    wsgi_before = wsgi.read_bytes()
    outside = instance_path.parent
    before = {k: v for k, v in tree(outside).items() if not k.startswith("instance/photos/")}
    evil_before = TMP_TARGET.exists()

    response = bob_api.upload(image_bytes(), filename=filename, content_type="image/png")
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    photo = response.get_json()
    assert photo is not None

    photo_id = photo["id"]
    assert "/" not in photo_id and "\\" not in photo_id and ".." not in photo_id
    assert stored_files(instance_path) == {f"{photo_id[:2]}/{photo_id}"}
    after = {k: v for k, v in tree(outside).items() if not k.startswith("instance/photos/")}
    assert after == before
    assert wsgi.read_bytes() == wsgi_before
    assert TMP_TARGET.exists() == evil_before

    content = bob_api.get(f"/photos/{photo_id}/content")
    assert content.status_code == 200
    disposition = content.headers["Content-Disposition"]
    assert photo_id in disposition
    assert "wsgi" not in disposition and "evil" not in disposition and ".." not in disposition


# -- API-03: size and part-count limits ------------------------------------------------------------
def noisy_png(side: int) -> bytes:
    """A PNG of random pixels: it does not compress, so its size is about 3 x side^2 bytes."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("app_config", [{"PHOTO_MAX_BYTES": 20_000}], indirect=True)
@pytest.mark.parametrize("side", [100, 400], ids=["just-over", "far-over"])
def test_a_file_over_photo_max_bytes_is_413(
    bob_api: PhotoApi, instance_path: Path, side: int
) -> None:
    data = noisy_png(side)
    assert len(data) > 20_000
    assert_error(bob_api.upload(data), 413, "request_too_large")
    assert_nothing_stored(bob_api, instance_path)


@pytest.mark.parametrize("app_config", [{"PHOTO_MAX_BYTES": 20_000}], indirect=True)
def test_a_file_under_a_small_photo_max_bytes_is_still_accepted(bob_api: PhotoApi) -> None:
    data = noisy_png(60)
    assert len(data) < 20_000
    assert bob_api.upload(data).status_code == 201


@pytest.mark.parametrize("count", [2_000, 60])
def test_a_multipart_body_with_too_many_parts_is_refused_fast(
    bob_api: PhotoApi, instance_path: Path, count: int
) -> None:
    boundary = "tessera-boundary-7d1f"
    parts: list[tuple[str, str | None, bytes]] = [("file", "x.png", image_bytes())]
    parts += [(f"f{n}", None, b"v") for n in range(count)]
    body = multipart(parts, boundary)
    started = time.monotonic()
    response = post_raw(bob_api, body, f"multipart/form-data; boundary={boundary}")
    elapsed = time.monotonic() - started
    assert response.status_code in (400, 413), response.get_data(as_text=True)[:300]
    assert_error(
        response,
        response.status_code,
        "request_too_large" if response.status_code == 413 else "invalid_request",
    )
    assert elapsed < 0.5
    assert_nothing_stored(bob_api, instance_path)


def test_a_multipart_body_with_a_few_extra_fields_is_fine(bob_api: PhotoApi) -> None:
    boundary = "tessera-boundary-7d1f"
    parts: list[tuple[str, str | None, bytes]] = [
        ("file", "x.png", image_bytes()),
        ("title", None, b"Hello"),
        ("unrelated", None, b"ignored"),
    ]
    response = post_raw(
        bob_api, multipart(parts, boundary), f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["title"] == "Hello"


def test_an_upload_with_no_file_part_is_invalid_request(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    response = bob_api.http.post(
        "/api/v1/photos",
        data={"title": "no file"},
        content_type="multipart/form-data",
        headers=bob_api.headers(),
    )
    assert_error(response, 400, "invalid_request")
    assert_nothing_stored(bob_api, instance_path)


def test_an_upload_with_the_image_in_another_field_is_invalid_request(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    response = bob_api.http.post(
        "/api/v1/photos",
        data={"image": (io.BytesIO(image_bytes()), "x.png", "image/png")},
        content_type="multipart/form-data",
        headers=bob_api.headers(),
    )
    assert_error(response, 400, "invalid_request")
    assert_nothing_stored(bob_api, instance_path)


def test_an_upload_with_two_file_parts_is_invalid_request(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    boundary = "tessera-boundary-2f"
    parts: list[tuple[str, str | None, bytes]] = [
        ("file", "a.png", image_bytes(color="red")),
        ("file", "b.png", image_bytes(color="blue")),
    ]
    response = post_raw(
        bob_api, multipart(parts, boundary), f"multipart/form-data; boundary={boundary}"
    )
    assert_error(response, 400, "invalid_request")
    assert_nothing_stored(bob_api, instance_path)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b'{"file": "iVBORw0KGgo="}', "application/json", id="json"),
        pytest.param(b"file=abc", "application/x-www-form-urlencoded", id="urlencoded"),
        pytest.param(image_bytes(), "image/png", id="raw-png"),
        pytest.param(b"", "text/plain", id="empty-text"),
    ],
)
def test_an_upload_that_is_not_multipart_is_unsupported_media_type(
    bob_api: PhotoApi, instance_path: Path, body: bytes, content_type: str
) -> None:
    assert_error(post_raw(bob_api, body, content_type), 415, "unsupported_media_type")
    assert_nothing_stored(bob_api, instance_path)


def test_a_multipart_body_without_a_boundary_is_refused_without_a_server_error(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    response = post_raw(bob_api, b"--x\r\n\r\nnothing\r\n--x--\r\n", "multipart/form-data")
    assert_error(response, 400, "invalid_request")
    assert_nothing_stored(bob_api, instance_path)


def test_a_truncated_multipart_body_is_refused_without_a_server_error(
    bob_api: PhotoApi, instance_path: Path
) -> None:
    boundary = "tessera-boundary-cut"
    body = multipart([("file", "x.png", image_bytes())], boundary)[:-40]
    response = post_raw(bob_api, body, f"multipart/form-data; boundary={boundary}")
    assert response.status_code in (400, 415), response.get_data(as_text=True)[:300]
    assert_nothing_stored(bob_api, instance_path)


# -- what is accepted ------------------------------------------------------------------------------
def test_an_animated_gif_is_accepted_and_stays_animated(bob_api: PhotoApi) -> None:
    data = animated_gif((32, 24), frames=3)
    response = bob_api.upload(data, filename="x.gif", content_type="image/gif")
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()
    assert photo is not None
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/gif", 32, 24)
    content = bob_api.get(f"/photos/{photo['id']}/content")
    assert content.mimetype == "image/gif"
    with Image.open(io.BytesIO(content.get_data())) as image:
        assert image.format == "GIF"
        assert getattr(image, "is_animated", False)
        assert getattr(image, "n_frames", 1) == 3


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_each_supported_format_is_accepted_whatever_the_client_calls_it(
    bob_api: PhotoApi, fmt: str
) -> None:
    response = bob_api.upload(
        image_bytes(fmt, (20, 10)), filename="upload.bin", content_type="application/octet-stream"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()
    assert photo is not None
    assert photo["content_type"] == f"image/{fmt.lower()}"
    assert (photo["width"], photo["height"]) == (20, 10)


def test_the_upload_route_needs_a_token_before_reading_the_body(
    client: FlaskClient, instance_path: Path
) -> None:
    response = client.post(
        "/api/v1/photos",
        data={"file": (io.BytesIO(image_bytes()), "x.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 401
    assert stored_files(instance_path) == set()
