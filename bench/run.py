"""`make bench`: Tessera under gunicorn, driven by wrk and bench.flows, next to bare Flask.

For each database (SQLite; then PostgreSQL, see bench.databases) a fresh database is migrated
and seeded (bench.seed), the bare Flask endpoint and Tessera are served by the same gunicorn
settings (sync workers = CPU cores, free loopback ports), and every scenario runs for
BENCH_DURATION seconds. The ratio to bare Flask measured in the same run is the figure that
travels between machines. Writes bench/results/latest.md (and prints it).

Environment: BENCH_DURATION (seconds per scenario, default 10), BENCH_CONNECTIONS (wrk
connections, 16), BENCH_FLOW_PROCESSES (flow driver processes, 4), BENCH_REFRESH_TOKENS
(40000), BENCH_POSTGRES_URL (admin URL of a PostgreSQL server), BENCH_DATABASES
(sqlite,postgresql).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench import flows, scenarios, wrk
from bench.databases import (
    Database,
    migrate,
    postgres_admin_url,
    postgres_database,
    sqlite_database,
)
from bench.report import Section, document
from bench.servers import PYTHON, ROOT, WORKERS, Server

RESULTS = ROOT / "bench" / "results" / "latest.md"
FLOW_PROCESSES = int(os.environ.get("BENCH_FLOW_PROCESSES", "4"))
REFRESH_TOKENS = int(os.environ.get("BENCH_REFRESH_TOKENS", "40000"))
UNLIMITED = "1000000 per minute"


def tessera_env(database: Database, instance: Path) -> dict[str, str]:
    """Settings of the Tessera under test: its database, and throttles out of the way."""
    return {
        "FLASK_INSTANCE_PATH": str(instance),
        "FLASK_SQLALCHEMY_DATABASE_URI": database.url,
        "FLASK_SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "FLASK_OAUTH_ACCESS_TOKEN_TTL": "3600",
        # The bench measures the server, not its throttles (unknown FLASK_ keys are ignored).
        "FLASK_OAUTH_LIMIT_PER_CLIENT": UNLIMITED,
        "FLASK_OAUTH_LIMIT_PER_IP": UNLIMITED,
        "FLASK_LOGIN_LIMIT_PER_ACCOUNT": UNLIMITED,
        "FLASK_LOGIN_LIMIT_PER_IP": UNLIMITED,
    }


def seed(env: dict[str, str], out: Path, *options: str) -> dict[str, Any]:
    """Run bench.seed in the server's environment; return the fixtures it wrote."""
    done = subprocess.run(
        [PYTHON, "-m", "bench.seed", str(out), *options],
        cwd=ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.seed failed:\n{done.stdout}{done.stderr}")
    fixtures: dict[str, Any] = json.loads(out.read_text())
    return fixtures


def bare_baseline(workdir: Path) -> wrk.Result:
    bare = Server("bench.bare:app", {}, workdir / "bare.log")
    try:
        bare.start("/hello")
        return wrk.run(scenarios.BARE, bare)
    finally:
        bare.stop()


def bench_database(database: Database, workdir: Path) -> Section:
    """Migrate, seed, then every scenario and the flows against one database."""
    workdir.mkdir(parents=True)
    load_average = os.getloadavg()[0]
    env = tessera_env(database, workdir / "instance")
    migrate(env)
    tessera = Server("wsgi:app", env, workdir / "tessera.log")
    print(f"[{database.label}] seeding", file=sys.stderr)
    fixtures = seed(tessera.env, workdir / "fixtures.json",
                    "--refresh-tokens", str(REFRESH_TOKENS))  # fmt: skip
    print(f"[{database.label}] bare Flask", file=sys.stderr)
    baseline = bare_baseline(workdir)
    results = []
    try:
        tessera.start("/healthz")
        for scenario in scenarios.all_scenarios(fixtures):
            print(f"[{database.label}] {scenario.name}", file=sys.stderr)
            results.append(wrk.run(scenario, tessera, database))
        print(f"[{database.label}] authorization code flows", file=sys.stderr)
        flow_result = flows.run(tessera, fixtures, wrk.DURATION, FLOW_PROCESSES, database)
        pss = tessera.worker_pss_mib()
    finally:
        tessera.stop()
    return Section(database.label, baseline, results, flow_result, pss, load_average)


def databases(workdir: Path) -> tuple[list[AbstractContextManager[Database]], str]:
    """The databases to run on, and why PostgreSQL is left out (if it is)."""
    wanted = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    chosen: list[AbstractContextManager[Database]] = []
    skipped = ""
    if "sqlite" in wanted:
        chosen.append(sqlite_database(workdir))
    if "postgresql" in wanted:
        admin_url, label = postgres_admin_url()
        if admin_url is None:
            skipped = label
        else:
            chosen.append(postgres_database(admin_url, label))
    return chosen, skipped


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk (Debian: apt-get install wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    sections = []
    try:
        chosen, skipped = databases(workdir)
        for index, context in enumerate(chosen):
            with context as database:
                sections.append(bench_database(database, workdir / f"db{index}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    preamble = [
        f"gunicorn sync workers: {WORKERS} (= CPU cores) for Tessera and the bare Flask "
        f"endpoint; wrk {wrk.THREADS} threads, {wrk.CONNECTIONS} connections, {wrk.DURATION} s "
        f"per scenario; flows: {FLOW_PROCESSES} driver processes for {wrk.DURATION} s.",
        "Ratios compare with the bare Flask endpoint measured in the same run, on the same "
        "database pass. app CPU is the user+system time of the gunicorn processes per request "
        "(on SQLite it includes the database); db CPU is that of the PostgreSQL backends "
        "serving Tessera. Throttles are set to 1,000,000 per minute. The flow driver runs on "
        "the same machine and takes CPU from the server, as wrk does.",
    ]
    report = document("Benchmark", preamble, sections, skipped)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
