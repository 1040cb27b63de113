"""PhotoPrint (examples/photoprint) on a free loopback port, registered at a live Tessera
the way ``make photoprint`` registers it (``photoprint.register``, through the CLI)."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from tests.live import PROJECT_ROOT, free_port

EXAMPLE = PROJECT_ROOT / "examples" / "photoprint"


def import_photoprint() -> Any:
    """The example is not installed: import it from its folder, as its README runs it."""
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    import photoprint

    return photoprint


def pdf_pages_and_subject(pdf: bytes) -> tuple[int, str]:
    """How many pages a PDF written by Pillow has, and its Subject (UTF-16 with a BOM)."""
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type /Page\n", pdf))
    subject = re.search(rb"/Subject \((.*?)\)\n", pdf, re.S)
    assert subject is not None
    return pages, subject.group(1).decode("utf-16")


@contextmanager
def running_photoprint(
    tessera_url: str, cli_env: dict[str, str], instance: Path, **config: Any
) -> Iterator[tuple[str, Any]]:
    """Register PhotoPrint at Tessera, serve it in a thread; yields its URL and app."""
    photoprint = import_photoprint()
    from photoprint.register import ensure_client_file

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client_file = instance / "client.json"
    flask = [sys.executable, "-m", "flask"]
    ensure_client_file(client_file, flask, PROJECT_ROOT, cli_env, f"{url}/callback")
    app = photoprint.create_app(
        {"TESSERA_ISSUER": tessera_url, "CLIENT_FILE": str(client_file), **config},
        instance_path=str(instance),
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, app
    finally:
        server.shutdown()
        server.server_close()
