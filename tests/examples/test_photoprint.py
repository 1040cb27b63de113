"""examples/photoprint on its own: it imports nothing of Tessera, draws its contact sheet,
and shows a page (no traceback) when Tessera cannot be reached."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.examples.photoprint_support import EXAMPLE, import_photoprint, pdf_pages_and_subject
from tests.live import free_port

TESSERA_MODULES = ("app", "tests", "wsgi", "bench", "migrations")


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_photoprint_talks_to_tessera_only_over_http() -> None:
    """No module of the example imports Tessera's code (it may run Tessera's CLI to register)."""
    sources = sorted(EXAMPLE.rglob("*.py"))
    assert len(sources) >= 8
    for source in sources:
        assert not imported_roots(source) & set(TESSERA_MODULES), source
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, photoprint, photoprint.register, launch; "
         "print(sorted({m.split('.')[0] for m in sys.modules}))"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert not set(TESSERA_MODULES) & set(ast.literal_eval(loaded))


def jpeg(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 426), color).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (3, 1), (12, 1), (13, 2), (25, 3)])
def test_the_contact_sheet_has_one_a4_page_per_twelve_photos(count: int, pages: int) -> None:
    import_photoprint()
    from photoprint import contact_sheet

    pictures = [contact_sheet.Picture(f"Photo {n}", jpeg("navy")) for n in range(count)]
    pdf = contact_sheet.render(pictures, "Contact sheet")
    assert pdf_pages_and_subject(pdf) == (pages, f"{count} photos")
    assert re.search(rb"/MediaBox \[ ?0 0 595\.\d* 841\.\d* ?\]", pdf), "A4 in points"


def test_a_picture_pillow_cannot_read_becomes_a_grey_tile() -> None:
    import_photoprint()
    from photoprint import contact_sheet

    pdf = contact_sheet.render([contact_sheet.Picture("Broken", b"not an image")], "Sheet")
    assert pdf_pages_and_subject(pdf) == (1, "1 photo")


def test_tessera_down_shows_a_page_not_a_traceback(tmp_path: Path) -> None:
    photoprint = import_photoprint()
    client_file = tmp_path / "client.json"
    client_file.write_text(
        '{"client_id": "c", "client_secret": "s", "scope": "openid",'
        ' "redirect_uri": "http://127.0.0.1:8080/callback"}'
    )
    app = photoprint.create_app(
        {"TESSERA_ISSUER": f"http://127.0.0.1:{free_port()}", "CLIENT_FILE": str(client_file)},
        instance_path=str(tmp_path / "instance"),
    )
    answer = app.test_client().post("/connect")
    assert answer.status_code == 502
    page = answer.get_data(as_text=True)
    assert "Tessera is not answering" in page
    assert "Traceback" not in page and "ConnectionError" not in page
