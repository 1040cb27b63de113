"""`make screenshots`: PNGs of the main pages at desktop and phone width, in docs/screenshots/.

Starts Tessera under gunicorn on a free loopback port with a fresh SQLite database and the
demo data, then drives Debian's chromium with playwright.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "demo password 1"  # noqa: S105 - a throwaway demo database
SIZES = {"desktop": (1280, 800), "phone": (360, 740)}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def flask(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=os.environ | env, input=stdin, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout


def authorize_url(base: str, client_id: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return f"{base}/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id,
        "redirect_uri": "http://127.0.0.1:8080/callback",
        "scope": "openid profile offline_access photos.read", "state": "demo", "prompt": "consent",
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    })  # fmt: skip


def sign_in(page: Any, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shoot(browser: Any, base: str, client_id: str) -> None:
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.route("http://127.0.0.1:8080/**", lambda route: route.fulfill(body="PhotoPrint"))
        page.goto(f"{base}/login")
        page.screenshot(path=OUT / f"login-{size}.png", full_page=True)
        sign_in(page, base, "bob", "/")
        page.goto(authorize_url(base, client_id))
        page.screenshot(path=OUT / f"consent-{size}.png", full_page=True)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_timeout(300)
        for name, path in (("my-apps", "/account/apps"), ("my-photos", "/account/photos")):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / f"{name}-{size}.png", full_page=True)
        confirm_pages = (("confirm-revoke", "/account/apps", "Revoke PhotoPrint"),
                         ("confirm-delete", "/account/photos", "Delete Harbour"))  # fmt: skip
        for name, path, link in confirm_pages:
            page.goto(base + path)
            page.get_by_role("link", name=link).first.click()
            page.wait_for_load_state()
            page.screenshot(path=OUT / f"{name}-{size}.png", full_page=True)
        context.clear_cookies()
        page.goto(f"{base}/login")  # a failed sign-in, for the activity chart
        page.get_by_label("Username").fill("root")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        sign_in(page, base, "root", "/admin/clients")
        for name, path in (("admin-clients", "/admin/clients"),
                           ("admin-register-client", "/admin/clients/new"),
                           ("admin-activity", "/admin/activity"),
                           ("admin-audit", "/admin/audit")):  # fmt: skip
            page.goto(base + path)
            page.screenshot(path=OUT / f"{name}-{size}.png", full_page=True)
        context.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tessera-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "FLASK_INSTANCE_PATH": str(workdir),
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/shots.sqlite",
        "FLASK_SECRET_KEY": "screenshots-" + "x" * 32,
        "FLASK_OAUTH_ISSUER": base,
    }
    flask(env, "db", "upgrade")
    output = flask(env, "demo", "--password-stdin", stdin=PASSWORD + "\n")
    # The first client demo registers (PhotoPrint); more JSON and lines follow it.
    client_id = json.JSONDecoder().raw_decode(output, output.index("{"))[0]["client_id"]
    flask(env, "users", "create", "root", "--email", "root@example.com", "--password-stdin",
          "--admin", stdin=PASSWORD + "\n")  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--no-control-socket", "wsgi:app"],
        cwd=ROOT, env=os.environ | env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                headless=True, args=CHROMIUM_ARGS,
            )  # fmt: skip
            shoot(browser, base, client_id)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    print(f"wrote {len(list(OUT.glob('*.png')))} screenshots to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
