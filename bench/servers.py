"""gunicorn servers on free loopback ports, and what they cost: CPU time and memory (PSS).

Every server is started in its own session and stopped by its process group id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORKERS = os.cpu_count() or 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Server:
    """gunicorn serving ``app`` as ``make run`` does (sync workers = CPU cores, --preload); the
    port is chosen at once,
    so data that must name the server's URL (a token's issuer) can be seeded before start."""

    def __init__(self, app: str, env: dict[str, str], log: Path, port: int | None = None) -> None:
        """``port``: a given one (servers started one after another on the same URL, so the
        same seeded tokens, whose issuer names the URL, serve each); a free one otherwise."""
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env | {"FLASK_OAUTH_ISSUER": self.url}
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def logger_class(self) -> list[str]:
        """Tessera logs as gunicorn.conf.py has it; the bare Flask baseline keeps gunicorn's own
        logger, so it never imports ``app``."""
        return [] if self.app == "wsgi:app" else ["--logger-class", "gunicorn.glogging.Logger"]

    def start(self, ready_path: str, timeout: float = 60) -> Server:
        """Start gunicorn and wait until ``ready_path`` answers 200."""
        command = [
            PYTHON, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(WORKERS), "--graceful-timeout", "5", "--no-control-socket",
            "--preload", "--config", "gunicorn.conf.py", *self.logger_class(), self.app,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=os.environ | self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=5) as response:
                    if response.status == 200 and len(self.worker_pids()) == WORKERS:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn {self.app} did not answer {ready_path}:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the arbiter's process group; SIGKILL it if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def cpu_seconds(self) -> float:
        """user + system CPU of the arbiter and its workers so far."""
        assert self.process is not None
        return sum(process_cpu_seconds(p) for p in [self.process.pid, *self.worker_pids()])

    def worker_pss_mib(self) -> list[float]:
        """Proportional set size of each worker (shared pages split among their users)."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
