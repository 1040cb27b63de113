"""`make bench-overhead`: what a switch costs the hot paths, measured in interleaved rounds.

Tessera is served twice with the same settings but for one toggle: the "off" side and the
"on" side. They run one at a time, on the same port (the seeded access token names that
URL as its issuer), never together on the machine's cores. Each round starts one side, warms
it up, drives the hot paths with wrk (client_credentials, the photo listing, introspection)
and stops it; rounds go off, on, off, on, ... so that drift (another process's load, the page
cache) falls on both sides alike. The report gives each side's median req/s and CPU per
request, and the cost: how much of the off side's throughput the toggle takes.

A toggle is a name and two sets of environment variables (TOGGLES below; "metrics":
METRICS_TOKEN set vs unset); ``--on`` / ``--off`` KEY=VALUE define another without editing
this file. Results go to bench/results/overhead.md, one section per toggle and database
(a new run replaces its own section and keeps the others).

    python -m bench.overhead [--toggle metrics] [--on K=V ...] [--off K=V ...]
                             [--pairs 3] [--seconds 5] [--postgresql] [--in-process CALLS]

``--in-process CALLS`` skips gunicorn and wrk: each round builds the side's app in this
process and times CALLS calls per path through Flask's test client, in CPU time of this
process (bench/in_process.py), the steadier figure when other work shares the cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import in_process, scenarios, wrk
from bench.databases import (
    Database,
    migrate,
    postgres_admin_url,
    postgres_database,
    sqlite_database,
)
from bench.run import seed, tessera_env
from bench.servers import ROOT, WORKERS, Server, free_port

RESULTS = ROOT / "bench" / "results" / "overhead.md"
TITLE = "# Overhead of switchable features (make bench-overhead)"
WARM_UP_SECONDS = 1
METRICS_TOKEN = "bench-metrics-token-" + "x" * 32  # noqa: S105 - a benchmark's throwaway token


@dataclass(frozen=True)
class Toggle:
    """Two environments that differ by one feature; ``check`` proves a side is what it says."""

    name: str
    description: str
    on: dict[str, str]
    off: dict[str, str] = field(default_factory=dict)
    check: Callable[[Server, bool], None] | None = None


def _check_metrics(server: Server, on: bool) -> None:
    """/metrics answers the token (and has counted) on the on side, and is 404 on the off side."""
    request = urllib.request.Request(
        server.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as error:
        if on or error.code != 404:
            raise RuntimeError(f"/metrics answered {error.code} on the {on=} side") from None
        return
    if not on or "tessera_tokens_issued_total{" not in body:
        raise RuntimeError(f"/metrics counted nothing, or answered on the off side ({on=})")


def _check_request_log(server: Server, on: bool) -> None:
    """Every answer carries X-Request-ID on the on side, none on the off side."""
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
        echoed = response.headers.get("X-Request-ID")
    if (echoed is not None) != on:
        raise RuntimeError(f"X-Request-ID {echoed!r} on the {on=} side")


TOGGLES = {
    "metrics": Toggle(
        "metrics",
        "Prometheus counting: METRICS_TOKEN set (on) vs unset (off)",
        on={"FLASK_METRICS_TOKEN": METRICS_TOKEN},
        check=_check_metrics,
    ),
    "request_log": Toggle(
        "request_log",
        "One JSON line per request: REQUEST_LOG on vs off (lines to the server's log file)",
        on={"FLASK_REQUEST_LOG": "true", "FLASK_LOG_FORMAT": "json"},
        off={"FLASK_REQUEST_LOG": "false"},
        check=_check_request_log,
    ),
}


@dataclass
class Side:
    name: str  # "off" or "on"
    server: Server
    results: dict[str, list[wrk.Result]] = field(default_factory=dict)


def _pairs(values: list[str]) -> dict[str, str]:
    """KEY=VALUE arguments as a mapping."""
    found = {}
    for value in values:
        key, equals, setting = value.partition("=")
        if not equals or not key:
            raise SystemExit(f"expected KEY=VALUE, got {value!r}")
        found[key] = setting
    return found


def chosen_toggle(args: argparse.Namespace) -> Toggle:
    if args.on or args.off:
        on, off = _pairs(args.on), _pairs(args.off)
        name = args.toggle if args.toggle != "metrics" else "custom"
        nothing = "(nothing)"
        described = f"on: {' '.join(args.on) or nothing}; off: {' '.join(args.off) or nothing}"
        return Toggle(name, described, on, off)
    if args.toggle not in TOGGLES:
        raise SystemExit(f"unknown toggle {args.toggle!r}; known: {', '.join(TOGGLES)}")
    return TOGGLES[args.toggle]


def hot_paths(fixtures: dict[str, Any]) -> list[wrk.Scenario]:
    return [
        scenarios.client_credentials(fixtures),
        scenarios.photos(fixtures),
        scenarios.introspection(fixtures),
    ]


def one_round(side: Side, toggle: Toggle, paths: list[wrk.Scenario], seconds: int) -> None:
    """Start ``side``, warm each path up, measure each, stop."""
    side.server.start("/healthz")
    try:
        for scenario in paths:
            wrk.run(scenario, side.server, seconds=WARM_UP_SECONDS)
            result = wrk.run(scenario, side.server, seconds=seconds)
            side.results.setdefault(scenario.name, []).append(result)
            print(
                f"  {side.name:3} {scenario.name[:48]:48} {result.requests_per_second:8.1f} req/s"
                f"  {result.app_cpu_ms:.3f} ms CPU/req  errors {result.errors}",
                file=sys.stderr,
            )
        if toggle.check is not None:
            toggle.check(side.server, side.name == "on")
    finally:
        side.server.stop()


def prepare(
    toggle: Toggle, database: Database, workdir: Path
) -> tuple[Side, Side, list[wrk.Scenario]]:
    """The two sides on one port and one seeded database, and the hot paths to drive."""
    workdir.mkdir(parents=True)
    env = tessera_env(database, workdir / "instance")
    migrate(env)
    port = free_port()
    off = Side("off", Server("wsgi:app", env | toggle.off, workdir / "off.log", port=port))
    on = Side("on", Server("wsgi:app", env | toggle.on, workdir / "on.log", port=port))
    fixtures = seed(off.server.env, workdir / "fixtures.json",
                    "--refresh-tokens", "0", "--flow-users", "0")  # fmt: skip
    return off, on, hot_paths(fixtures)


def measure(
    toggle: Toggle, database: Database, workdir: Path, pairs: int, seconds: int
) -> tuple[Side, Side]:
    off, on, paths = prepare(toggle, database, workdir)
    for pair in range(pairs):
        for side in (off, on):
            print(f"[{database.label}] pair {pair + 1}/{pairs}: {side.name}", file=sys.stderr)
            one_round(side, toggle, paths, seconds)
    return off, on


def measure_in_process(
    toggle: Toggle, database: Database, workdir: Path, pairs: int, calls: int
) -> str:
    """``--in-process``: CPU per call through the test client, off and on rounds alternating;
    the report section."""
    off, on, paths = prepare(toggle, database, workdir)
    counts = workdir / "metrics"  # removed with the working directory
    counts.mkdir()
    in_process.multiprocess_counts(counts)
    rounds: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    for pair in range(pairs):
        for side in (off, on):
            for name, micros in in_process.cpu_per_call(side.server.env, paths, calls).items():
                rounds[side.name].setdefault(name, []).append(micros)
            print(f"[{database.label}] in process, pair {pair + 1}/{pairs}: {side.name}",
                  file=sys.stderr)  # fmt: skip
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {toggle.name} on {database.label}, in process",
        "",
        f"{toggle.description}. {when}; Flask's test client in one process, {pairs} pairs of "
        f"rounds (off, on, ...), {calls} calls per path and round after "
        f"{in_process.WARM_UP_CALLS} warm-up calls; CPU time of the process per call.",
        "",
        "| hot path | off µs CPU/call | on µs CPU/call | cost |",
        "|---|---:|---:|---:|",
    ]
    for name, off_rounds in rounds["off"].items():
        off_cpu, on_cpu = statistics.median(off_rounds), statistics.median(rounds["on"][name])
        lines.append(
            f"| {name} | {off_cpu:,.0f} | {on_cpu:,.0f} | {100 * (on_cpu / off_cpu - 1):+.1f} % |"
        )
    return "\n".join(lines) + "\n"


def _median(results: list[wrk.Result], figure: Callable[[wrk.Result], float]) -> float:
    return statistics.median(figure(result) for result in results)


def section(
    toggle: Toggle, database: Database, off: Side, on: Side, pairs: int, seconds: int,
    load_average: float,
) -> str:  # fmt: skip
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {toggle.name} on {database.label}",
        "",
        f"{toggle.description}. {when}; gunicorn {WORKERS} sync workers (--preload), wrk "
        f"{wrk.THREADS} threads and {wrk.CONNECTIONS} connections; {pairs} pairs of rounds "
        f"(off, on, off, on, ...), each path {seconds} s per round after a {WARM_UP_SECONDS} s "
        f"warm-up; one server at a time. Load average at the start: {load_average:.2f}.",
        "",
        "| hot path | off req/s | on req/s | cost (req/s) | off CPU ms/req | on CPU ms/req "
        "| cost (CPU) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, off_results in off.results.items():
        on_results = on.results[name]
        off_rps = _median(off_results, lambda r: r.requests_per_second)
        on_rps = _median(on_results, lambda r: r.requests_per_second)
        off_cpu = _median(off_results, lambda r: r.app_cpu_ms)
        on_cpu = _median(on_results, lambda r: r.app_cpu_ms)
        errors = sum(r.errors for r in off_results + on_results)
        lines.append(
            f"| {name} | {off_rps:,.0f} | {on_rps:,.0f} | {100 * (1 - on_rps / off_rps):+.1f} % "
            f"| {off_cpu:.3f} | {on_cpu:.3f} | {100 * (on_cpu / off_cpu - 1):+.1f} % | {errors} |"
        )
    lines += ["", "Each round's req/s (off / on):", ""]
    for name, off_results in off.results.items():
        rounds = zip(off_results, on.results[name], strict=True)
        shown = ", ".join(
            f"{a.requests_per_second:,.0f} / {b.requests_per_second:,.0f}" for a, b in rounds
        )
        lines.append(f"- {name}: {shown}")
    lines.append("")
    return "\n".join(lines)


def _sections(text: str) -> Iterator[tuple[str, str]]:
    """(heading, body) of each ``## `` section of a results file."""
    for match in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        yield match.group(1), match.group(0)


def write(new_section: str) -> str:
    """The results file with ``new_section`` in place of its earlier run (or appended)."""
    heading = new_section.splitlines()[0][3:]
    kept = RESULTS.read_text() if RESULTS.exists() else ""
    sections = {name: body.rstrip("\n") + "\n\n" for name, body in _sections(kept)}
    sections[heading] = new_section.rstrip("\n") + "\n\n"
    intro = (
        "What a switch costs the hot paths; `make bench-overhead` (bench/overhead.py) replaces "
        "its own section. Cost: how much of the off side's median req/s the on side loses "
        "(negative: it was faster, i.e. noise), and how much more CPU a request takes."
    )
    text = f"{TITLE}\n\n{intro}\n\n" + "".join(sections.values())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text.rstrip("\n") + "\n")
    return text


def database_context(postgresql: bool, workdir: Path) -> AbstractContextManager[Database]:
    if not postgresql:
        return sqlite_database(workdir)
    admin_url, label = postgres_admin_url()
    if admin_url is None:
        raise SystemExit(label)
    return postgres_database(admin_url, label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toggle", default=os.environ.get("TOGGLE") or "metrics")
    parser.add_argument("--on", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--off", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--postgresql", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--in-process", type=int, metavar="CALLS", default=0,
        help="instead of gunicorn and wrk: CALLS calls per path and round through the test client",
    )  # fmt: skip
    args = parser.parse_args()
    if args.pairs < 3:
        raise SystemExit("--pairs: at least 3, for a median of each side")
    if shutil.which("wrk") is None:
        sys.exit("make bench-overhead needs wrk (Debian: apt-get install wrk)")
    toggle = chosen_toggle(args)
    load_average = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="tessera-overhead-"))
    try:
        with database_context(args.postgresql, workdir) as database:
            if args.in_process:
                new = measure_in_process(
                    toggle, database, workdir / "run", args.pairs, args.in_process
                )
            else:
                off, on = measure(toggle, database, workdir / "run", args.pairs, args.seconds)
                new = section(toggle, database, off, on, args.pairs, args.seconds, load_average)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write(new)
    print(new)


if __name__ == "__main__":
    main()
