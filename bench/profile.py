"""`make profile`: one bench scenario under wrk while py-spy samples a Tessera worker.

Seeds a fresh SQLite (or PostgreSQL with BENCH_DATABASES=postgresql) database as `make bench`
does, serves Tessera with the bench's gunicorn settings, runs the chosen scenario and records
one worker with ``py-spy record -f raw``. Prints the functions with the most samples,
inclusive (on the stack) and own (at the top), and keeps the raw file for flame graphs.

Usage: python -m bench.profile SCENARIO [SECONDS]; SCENARIO is photos, userinfo,
client_credentials, introspection or refresh. Needs py-spy (pip install py-spy) and wrk.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import scenarios, wrk
from bench.databases import migrate, postgres_admin_url, postgres_database, sqlite_database
from bench.run import REFRESH_TOKENS, seed, tessera_env
from bench.servers import PYTHON, ROOT, Server

OUT = ROOT / "bench" / "results" / "profiles"


def summarise(raw: Path, top: int = 70) -> str:
    """Functions by inclusive and by own share of the samples, from a py-spy raw file."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [frame.rsplit(":", 1)[0] for frame in stack.split(";")]
        if not any(frame.startswith("SyncWorker.run ") for frame in frames):
            continue  # other threads (timers) wait; only the request thread costs
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "own:"]
    lines += [f"{100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def _own_refresh_tokens(
    scenario: wrk.Scenario, fixtures: dict[str, Any], workdir: Path
) -> tuple[wrk.Scenario, wrk.Scenario]:
    """The warm-up of the refresh scenario spends the first half of the seeded tokens and
    the profiled run the second half: spent twice, every token would be reuse (a 400 and a
    revoked grant), and the profile would show only the reuse path."""
    if scenario.script != "refresh.lua":
        return scenario, scenario
    lines = Path(fixtures["refresh_tokens_file"]).read_text().splitlines(keepends=True)
    half = len(lines) // 2
    warm_file, run_file = workdir / "refresh_warm_up.txt", workdir / "refresh_profiled.txt"
    warm_file.write_text("".join(lines[:half]))
    run_file.write_text("".join(lines[half:]))
    threads = scenario.script_args[1:]
    return (
        dataclasses.replace(scenario, script_args=(str(warm_file), *threads)),
        dataclasses.replace(scenario, script_args=(str(run_file), *threads)),
    )


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "client_credentials"
    seconds = sys.argv[2] if len(sys.argv) > 2 else "10"
    py_spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="tessera-profile-"))
    postgres = os.environ.get("BENCH_DATABASES") == "postgresql"
    if postgres:
        admin_url, label = postgres_admin_url()
        if admin_url is None:
            sys.exit(label)
        context = postgres_database(admin_url, label)
    else:
        context = sqlite_database(workdir)
    try:
        with context as database:
            env = tessera_env(database, workdir / "instance")
            migrate(env)
            server = Server("wsgi:app", env, workdir / "tessera.log")
            fixtures = seed(server.env, workdir / "fixtures.json",
                            "--refresh-tokens", str(REFRESH_TOKENS))  # fmt: skip
            scenario = getattr(scenarios, name)(fixtures)
            warm_up, scenario = _own_refresh_tokens(scenario, fixtures, workdir)
            server.start("/healthz")
            try:
                wrk.run(warm_up, server)  # warm-up: caches, pools, keys
                OUT.mkdir(parents=True, exist_ok=True)
                raw = OUT / f"{name}{'-pg' if postgres else ''}.txt"
                spy = subprocess.Popen(
                    [py_spy, "record", "-p", str(server.worker_pids()[0]), "-f", "raw",
                     "-d", seconds, "-r", "250", "-o", str(raw)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                result = wrk.run(scenario, server)
                spy.wait(timeout=int(seconds) + 60)
            finally:
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{scenario.name}: {result.requests_per_second:,.0f} req/s, "
          f"{result.app_cpu_ms:.2f} app CPU ms/req, p99 {result.p99_ms:.1f} ms, "
          f"{result.errors} errors")  # fmt: skip
    print(f"raw profile: {raw}\n")
    print(summarise(raw))


if __name__ == "__main__":
    main()
