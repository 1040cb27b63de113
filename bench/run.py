"""`make bench`: Tessera under gunicorn, driven by wrk, next to a bare Flask endpoint.

Both servers run with the same gunicorn settings (sync workers = CPU cores) on free loopback
ports, one after the other in the same run; the ratio of their figures is the result, since
shared machines are noisy. Writes bench/results/latest.md (and prints it).

Environment: BENCH_DURATION (seconds per scenario, default 10), BENCH_CONNECTIONS (16),
BENCH_DATABASE_URL (default: a fresh SQLite file; a postgresql+psycopg:// URL is used as is).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.md"
PYTHON = sys.executable
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WORKERS = os.cpu_count() or 2
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms_per_request: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """user+system CPU of a gunicorn arbiter and its workers (children)."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid] + [int(p) for p in children.read_text().split()] if children.exists() else [pid]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


class Server:
    def __init__(self, app: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            PYTHON,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(WORKERS),
            "--no-control-socket",
            app,
        ]
        env = env | {"FLASK_OAUTH_ISSUER": self.url}
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ | env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, headers: dict[str, str]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(self.url + path, headers=headers)
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server on {self.url} did not answer {path}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=20)
        self.log.close()


def run_wrk(name: str, server: Server, path: str, headers: dict[str, str]) -> Result:
    command = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{DURATION}s", "--latency"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    before = cpu_seconds(server.process.pid)
    output = subprocess.run(
        command + [server.url + path], capture_output=True, text=True, check=True
    ).stdout
    cpu = cpu_seconds(server.process.pid) - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Result(
        name=name,
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_latency(output, "50%"),
        p99_ms=_latency(output, "99%"),
        requests=requests,
        errors=errors,
        cpu_ms_per_request=cpu * 1000 / max(requests, 1),
    )


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def seed(env: dict[str, str]) -> str:
    subprocess.run(
        [PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=os.environ | env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [PYTHON, "bench/seed.py", "20"],
        cwd=ROOT,
        env=os.environ | env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def table(results: list[Result], baseline: Result, database: str) -> str:
    lines = [
        f"# Benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"gunicorn sync workers: {WORKERS} (= CPU cores); wrk 2 threads, {CONNECTIONS} "
        f"connections, {DURATION} s per scenario; database: {database}.",
        "Ratios compare with the bare Flask endpoint measured in the same run.",
        "",
        "| scenario | req/s | ratio to bare Flask | p50 ms | p99 ms | errors | server CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in [baseline, *results]:
        ratio = result.requests_per_second / baseline.requests_per_second
        lines.append(
            f"| {result.name} | {result.requests_per_second:,.0f} | {ratio:.0%} | "
            f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} | "
            f"{result.cpu_ms_per_request:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk (Debian: apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite"
    env = {
        "FLASK_INSTANCE_PATH": str(workdir / "instance"),
        "FLASK_SQLALCHEMY_DATABASE_URI": database,
        "FLASK_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "FLASK_OAUTH_ACCESS_TOKEN_TTL": "3600",
    }
    bare = Server("bench.bare:app", {}, workdir / "bare.log")
    try:
        bare.wait_ready("/hello", {})
        baseline = run_wrk("bare Flask JSON endpoint", bare, "/hello", {})
    finally:
        bare.stop()
    # Tessera's issuer is its own URL: seed after choosing the port, so the token's iss matches.
    tessera = Server("wsgi:app", env, workdir / "tessera.log")
    try:
        token = seed(env | {"FLASK_OAUTH_ISSUER": tessera.url})
        auth = {"Authorization": f"Bearer {token}"}
        tessera.wait_ready("/api/v1/photos", auth)
        results = [
            run_wrk("GET /api/v1/photos (20 photos, valid token)", tessera, "/api/v1/photos", auth)
        ]
    finally:
        tessera.stop()
    kind = "PostgreSQL" if database.startswith("postgresql") else "SQLite (WAL)"
    report = table(results, baseline, kind)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
