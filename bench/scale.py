"""`make bench-scale`: does Tessera stay fast on a big PostgreSQL database?

Two throwaway PostgreSQL databases are migrated and seeded alike (bench.seed); one is then
loaded with a long-running deployment's rows (bench.bulk: 1,000,000 refresh tokens, 100,000
authorizations, 100,000 deny-listed access tokens, 100,000 authorization codes). Both are served at
once (gunicorn, sync workers = CPU cores) and each scenario runs on the empty database, then
on the loaded one. Goal: throughput within 15 %. Then most loaded rows are made expired and
``flask --app wsgi tokens purge`` is timed. Writes bench/results/scale.md (and prints it).

Environment: BENCH_DURATION, BENCH_CONNECTIONS (as make bench), BENCH_POSTGRES_URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bulk, scenarios, wrk
from bench.databases import Database, migrate, postgres_admin_url, postgres_database
from bench.run import seed, tessera_env
from bench.servers import PYTHON, ROOT, WORKERS, Server

RESULTS = ROOT / "bench" / "results" / "scale.md"
GOAL = 0.15  # largest acceptable loss of throughput on the loaded database
VOLUMES = bulk.Volumes()


def prepare(database: Database, workdir: Path, load: bool) -> tuple[Server, dict[str, Any]]:
    """Migrate and seed ``database`` (and bulk-load it); return its server, not started."""
    workdir.mkdir(parents=True)
    env = tessera_env(database, workdir / "instance")
    migrate(env)
    server = Server("wsgi:app", env, workdir / "tessera.log")
    fixtures = seed(server.env, workdir / "fixtures.json",
                    "--refresh-tokens", "0", "--flow-users", "0")  # fmt: skip
    if load:
        web = fixtures["web"]
        seconds = bulk.load(database, web["client_id"], web["redirect_uri"], VOLUMES)
        fixtures["load_seconds"] = seconds
    return server, fixtures


def purge(server: Server, database: Database) -> tuple[float, dict[str, int], dict[str, int]]:
    """Expire most loaded rows, then time ``tokens purge``: (seconds, before, deleted)."""
    bulk.expire_most(database)
    before = bulk.row_counts(database)
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "-m", "flask", "--app", "wsgi", "tokens", "purge"],
        cwd=ROOT,
        env=os.environ | server.env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"tokens purge failed:\n{done.stdout}{done.stderr}")
    deleted = {}
    for line in done.stdout.splitlines():
        table, _, count = line.partition("\t")
        if count.strip().isdigit():
            deleted[table] = int(count)
    return seconds, before, deleted


def comparison(pairs: list[tuple[wrk.Result, wrk.Result]]) -> list[str]:
    lines = [
        "| scenario | req/s empty | req/s loaded | change | p50 ms empty | p50 ms loaded "
        "| p99 ms empty | p99 ms loaded | errors | goal: within 15 % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for empty, loaded in pairs:
        change = loaded.requests_per_second / empty.requests_per_second - 1
        met = change >= -GOAL and loaded.errors == 0 and empty.errors == 0
        lines.append(
            f"| {empty.name} | {empty.requests_per_second:,.0f} | "
            f"{loaded.requests_per_second:,.0f} | {change:+.1%} | {empty.p50_ms:.2f} | "
            f"{loaded.p50_ms:.2f} | {empty.p99_ms:.2f} | {loaded.p99_ms:.2f} | "
            f"{empty.errors + loaded.errors} | {'met' if met else '**missed**'} |"
        )
    return lines


def purge_table(seconds: float, before: dict[str, int], deleted: dict[str, int]) -> list[str]:
    lines = [
        f"`flask --app wsgi tokens purge` (batches of 1,000) after about 15 in 16 loaded rows "
        f"were made expired: **{seconds:.1f} s**, {sum(deleted.values()):,} rows deleted "
        f"(authorizations' refresh tokens and codes go with them by ON DELETE CASCADE).",
        "",
        "| table | rows before | deleted by purge |",
        "|---|---:|---:|",
    ]
    for table, count in deleted.items():
        lines.append(f"| {table} | {before.get(table, 0):,} | {count:,} |")
    return lines


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench-scale needs wrk (Debian: apt-get install wrk)")
    admin_url, label = postgres_admin_url()
    if admin_url is None:
        sys.exit(f"make bench-scale needs PostgreSQL: {label}")
    workdir = Path(tempfile.mkdtemp(prefix="tessera-scale-"))
    load_average = os.getloadavg()[0]
    try:
        with (
            postgres_database(admin_url, label) as empty_db,
            postgres_database(admin_url, label) as loaded_db,
        ):
            empty, empty_fixtures = prepare(empty_db, workdir / "empty", load=False)
            print("[scale] loading the big database", file=sys.stderr)
            loaded, loaded_fixtures = prepare(loaded_db, workdir / "loaded", load=True)
            size = bulk.size_mib(loaded_db)
            pairs = []
            try:
                empty.start("/healthz")
                loaded.start("/healthz")
                for build in (scenarios.photos, scenarios.client_credentials,
                              scenarios.introspection):  # fmt: skip
                    print(f"[scale] {build.__name__}", file=sys.stderr)
                    pairs.append((wrk.run(build(empty_fixtures), empty, empty_db),
                                  wrk.run(build(loaded_fixtures), loaded, loaded_db)))  # fmt: skip
            finally:
                empty.stop()
                loaded.stop()
            print("[scale] tokens purge", file=sys.stderr)
            purged = purge(loaded, loaded_db)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    v = VOLUMES
    lines = [
        f"# Scale benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{label}; gunicorn sync workers: {WORKERS} (= CPU cores); wrk {wrk.THREADS} threads, "
        f"{wrk.CONNECTIONS} connections, {wrk.DURATION} s per scenario. Both databases are "
        "served at once; each scenario runs on the empty one, then on the loaded one. "
        f"Load average (1 min) at the start: {load_average:.1f} on {os.cpu_count()} cores.",
        "",
        f"Loaded database: {v.refresh_tokens:,} refresh tokens (9 in 10 used), "
        f"{v.authorizations:,} authorizations, "
        f"{v.revoked_access_tokens:,} deny-listed access tokens, "
        f"{v.authorization_codes:,} redeemed authorization codes and {v.users:,} users, "
        f"inserted with INSERT ... SELECT generate_series in "
        f"{loaded_fixtures['load_seconds']:.1f} s; database size {size:,.0f} MiB.",
        "",
        *comparison(pairs),
        "",
        *purge_table(*purged),
    ]
    report = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
