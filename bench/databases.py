"""The databases a benchmark runs on: a fresh SQLite file, or a throwaway PostgreSQL database.

PostgreSQL is used when BENCH_POSTGRES_URL is set (an admin URL, e.g.
postgresql://postgres@127.0.0.1:5432/postgres) or when one answers at 127.0.0.1:5432; a
database ``tessera_bench_<random>`` is created next to it and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.servers import PYTHON, ROOT, process_cpu_seconds

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Database:
    label: str
    url: str  # what Tessera is given (FLASK_SQLALCHEMY_DATABASE_URI)
    admin_dsn: str | None = None  # PostgreSQL only: a libpq DSN of the server's admin database
    name: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.admin_dsn is not None

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds of each PostgreSQL backend connected to this database (empty on SQLite).

        Tessera's pooled connections live as long as its workers, so the difference of two
        samples is the database's CPU time spent on the requests in between.
        """
        if self.admin_dsn is None:
            return {}
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
        return {pid: process_cpu_seconds(pid) for (pid,) in rows}

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """A plain psycopg connection to this PostgreSQL database (bulk loading)."""
        url = make_url(self.url).set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def db_cpu_seconds(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[Database]:
    yield Database("SQLite (WAL)", f"sqlite:///{workdir}/bench.sqlite")


def postgres_admin_url() -> tuple[str | None, str]:
    """The admin URL to use and why; None when no PostgreSQL answers (and none was asked for)."""
    explicit = os.environ.get("BENCH_POSTGRES_URL")
    url = explicit or DEFAULT_POSTGRES_URL
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        if explicit:
            raise SystemExit(f"BENCH_POSTGRES_URL does not answer: {exc}") from exc
        return None, f"no PostgreSQL answers at {url} (set BENCH_POSTGRES_URL)"
    return url, f"PostgreSQL {version[0] if version else '?'}"


@contextmanager
def postgres_database(admin_url: str, label: str) -> Iterator[Database]:
    """A throwaway database next to ``admin_url``, dropped (WITH FORCE) afterwards."""
    admin_dsn = _libpq(admin_url)
    name = f"tessera_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    try:
        yield Database(label, url.render_as_string(hide_password=False), admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def migrate(env: dict[str, str]) -> None:
    """Build the schema with the real migrations (``flask db upgrade``)."""
    done = subprocess.run(
        [PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stdout}{done.stderr}")
