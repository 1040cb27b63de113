"""Drive one scenario with wrk and read its figures: req/s, p50, p99, errors, CPU per request."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

from bench.databases import Database, db_cpu_seconds
from bench.servers import ROOT, Server

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = 2
LUA = ROOT / "bench" / "lua"


@dataclass(frozen=True)
class Scenario:
    """One wrk run: a path, headers, and optionally a Lua script with its arguments."""

    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    script: str | None = None  # file name in bench/lua/
    script_args: tuple[str, ...] = ()
    target_ratio: float | None = None  # share of the bare endpoint's req/s to reach (SQLite)
    target_ratio_postgres: float | None = None  # the same on PostgreSQL (issue 14's table)


@dataclass(frozen=True)
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    app_cpu_ms: float  # gunicorn processes, per request
    db_cpu_ms: float | None  # PostgreSQL backends, per request (None on SQLite)
    target_ratio: float | None = None
    notes: str = ""


def run(
    scenario: Scenario, server: Server, database: Database | None = None, seconds: int = DURATION
) -> Result:
    """Run wrk for ``seconds`` (DURATION) against ``server``; CPU is sampled around it."""
    command = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s"]
    command.append("--latency")
    for key, value in scenario.headers.items():
        command += ["-H", f"{key}: {value}"]
    if scenario.script:
        command += ["-s", str(LUA / scenario.script)]
    command.append(server.url + scenario.path)
    if scenario.script_args:
        command += ["--", *scenario.script_args]
    app_before = server.cpu_seconds()
    db_before = database.backend_cpu() if database else {}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    app_cpu = server.cpu_seconds() - app_before
    db_cpu = db_cpu_seconds(db_before, database.backend_cpu()) if database else 0.0
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed for {scenario.name}:\n{done.stdout}{done.stderr}")
    return parse(scenario, done.stdout, app_cpu, db_cpu if database and database.is_postgres
                 else None, done.stderr.strip())  # fmt: skip


def parse(
    scenario: Scenario, output: str, app_cpu: float, db_cpu: float | None, notes: str = ""
) -> Result:
    requests = int(_search(r"(\d+) requests in", output))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    per_request = 1000 / max(requests, 1)
    return Result(
        name=scenario.name,
        requests_per_second=float(_search(r"Requests/sec:\s+([\d.]+)", output)),
        p50_ms=_latency(output, "50%"),
        p99_ms=_latency(output, "99%"),
        requests=requests,
        errors=errors,
        app_cpu_ms=app_cpu * per_request,
        db_cpu_ms=None if db_cpu is None else db_cpu * per_request,
        # db CPU is measured on PostgreSQL only, and PostgreSQL has its own targets
        target_ratio=scenario.target_ratio if db_cpu is None else scenario.target_ratio_postgres,
        notes=notes,
    )


def _search(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"wrk output has no {pattern!r}:\n{output}")
    return match.group(1)


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if match is None:
        raise RuntimeError(f"wrk output has no {percentile} latency:\n{output}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
