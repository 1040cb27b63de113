"""``make photoprint``: Tessera and PhotoPrint side by side on loopback, until Ctrl-C.

Seeds the demo story (bob, alice, their photos), registers PhotoPrint's client if needed
(``photoprint.register``), starts Tessera under gunicorn as ``make run`` does and PhotoPrint
under gunicorn (one process: its refresh lock is per process), prints both URLs and bob's
sign-in, and stops both process groups on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import requests
from photoprint.register import DEFAULT_FILE, ensure_client_file, tessera_cli

HERE = Path(__file__).resolve().parent
TESSERA = HERE.parent.parent
BIN = Path(sys.executable).parent
# The path without its query: /callback?code=... must not reach a log.
ACCESS_LOG = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
BOB_FILE = HERE / "instance" / "demo-bob-password"


def bob_password(flask: list[str], env: dict[str, str]) -> str:
    """Seed the demo; bob's password is made on the first run and kept (0600) for later ones."""
    password = BOB_FILE.read_text().strip() if BOB_FILE.exists() else secrets.token_urlsafe(12)
    seeded = tessera_cli(flask, TESSERA, env, "demo", "--password-stdin", stdin=password + "\n")
    if seeded.returncode != 0:
        raise SystemExit(f"flask demo failed: {seeded.stderr.strip()}")
    if "created user bob" in seeded.stdout:
        BOB_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        BOB_FILE.touch(mode=0o600)
        BOB_FILE.write_text(password)
    elif not BOB_FILE.exists():
        return "(bob existed before; the password you gave `flask demo`)"
    return password


def start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own argument list
        command, cwd=cwd, env={**os.environ, **env}, start_new_session=True
    )


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with status {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--photoprint-port", type=int, default=8080)
    args = parser.parse_args()
    bind = f"{args.host}:{args.port}"
    tessera_url = f"http://{bind}"
    photoprint_url = f"http://127.0.0.1:{args.photoprint_port}"
    flask, env = [str(BIN / "flask")], {"FLASK_BIND": bind}
    password = bob_password(flask, env)
    ensure_client_file(DEFAULT_FILE, flask, TESSERA, env, f"{photoprint_url}/callback")
    processes: list[subprocess.Popen[bytes]] = []

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also when started in the background
    try:
        processes.append(start([  # no access log: Tessera writes a line per request
            str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind", bind,
            "--workers", str(args.workers), "--preload", "--no-control-socket", "wsgi:app",
        ], env, TESSERA))  # fmt: skip
        wait_healthy(f"{tessera_url}/healthz", processes[-1])
        processes.append(start([
            str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{args.photoprint_port}",
            "--workers", "1", "--threads", "4", "--no-control-socket", "--access-logfile", "-",
            "--access-logformat", ACCESS_LOG, "photoprint:create_app()",
        ], {"PHOTOPRINT_TESSERA_ISSUER": tessera_url}, HERE))  # fmt: skip
        wait_healthy(photoprint_url, processes[-1])
        print(f"\nTessera:    {tessera_url}\nPhotoPrint: {photoprint_url}", flush=True)
        print(f"Sign in at Tessera as bob, password {password}\nCtrl-C stops both.\n", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("a server exited; stopping the other", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stop(processes)


if __name__ == "__main__":
    main()
