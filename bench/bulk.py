"""Fill a PostgreSQL bench database the way a long-running deployment looks, fast.

Plain ``INSERT ... SELECT generate_series`` in the server (no ORM, no round trips): users,
authorizations, refresh tokens (most of them used, as rotation leaves them), deny-listed access
tokens and redeemed authorization codes. Hashes are SHA-256 / MD5 hex of a per-run salt
and a counter: the right length and unique, never equal to a real token's digest.

Loaded rows are marked as old (created 30 days ago), so ``expire_most`` touches only them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from bench.databases import Database

SCOPE = "openid offline_access photos.read"
LOADED_AGE = "30 days"


@dataclass(frozen=True)
class Volumes:
    users: int = 10_000
    authorizations: int = 100_000
    refresh_tokens: int = 1_000_000
    revoked_access_tokens: int = 100_000
    authorization_codes: int = 100_000


TABLES = ("authorizations", "refresh_tokens", "revoked_access_tokens", "authorization_codes")

USERS = """
INSERT INTO users (username, email, password_hash, is_admin, is_active, created_at)
SELECT 'bulk' || i, 'bulk' || i || '@example.com', %(password_hash)s, false, true,
       now() - interval '30 days'
FROM generate_series(0, %(users)s - 1) AS i
"""
GRANTS = """
INSERT INTO authorizations (id, kind, client_id, user_id, scope, auth_time, created_at, expires_at)
SELECT md5(%(salt)s || 'g' || i), 'authorization_code', %(client_id)s,
       %(first_user)s + mod(i, %(users)s), %(scope)s, now() - interval '30 days',
       now() - interval '30 days', now() + interval '60 days'
FROM generate_series(0, %(authorizations)s - 1) AS i
"""
REFRESH_TOKENS = """
INSERT INTO refresh_tokens (token_hash, authorization_id, client_id, scope, created_at, expires_at,
                            used_at)
SELECT encode(sha256(convert_to(%(salt)s || 'r' || i, 'UTF8')), 'hex'),
       md5(%(salt)s || 'g' || mod(i, %(authorizations)s)), %(client_id)s, %(scope)s,
       now() - interval '30 days', now() + interval '14 days',
       CASE WHEN mod(i, 10) <> 0 THEN now() - interval '1 hour' END
FROM generate_series(0, %(refresh_tokens)s - 1) AS i
"""
REVOKED_ACCESS_TOKENS = """
INSERT INTO revoked_access_tokens (jti, expires_at)
SELECT md5(%(salt)s || 'j' || i), now() + interval '50 minutes'
FROM generate_series(0, %(revoked_access_tokens)s - 1) AS i
"""
AUTHORIZATION_CODES = """
INSERT INTO authorization_codes (code_hash, authorization_id, client_id, user_id, redirect_uri,
    scope, code_challenge, code_challenge_method, auth_time, expires_at, used_at)
SELECT encode(sha256(convert_to(%(salt)s || 'c' || i, 'UTF8')), 'hex'),
       md5(%(salt)s || 'g' || mod(i, %(authorizations)s)), %(client_id)s,
       %(first_user)s + mod(mod(i, %(authorizations)s), %(users)s), %(redirect_uri)s, %(scope)s,
       left(encode(sha256(convert_to(%(salt)s || 'v' || i, 'UTF8')), 'hex'), 43), 'S256',
       now() - interval '30 days', now() + interval '10 minutes', now() - interval '30 days'
FROM generate_series(0, %(authorization_codes)s - 1) AS i
"""


def load(database: Database, client_id: str, redirect_uri: str, volumes: Volumes) -> float:
    """Insert ``volumes`` rows for ``client_id`` and ANALYZE; returns the seconds it took."""
    started = time.monotonic()
    params: dict[str, object] = {
        "salt": secrets.token_hex(4), "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": SCOPE, **volumes.__dict__,
    }  # fmt: skip
    with database.connect() as conn:
        row = conn.execute("SELECT password_hash FROM users ORDER BY id LIMIT 1").fetchone()
        assert row is not None, "seed the database first"
        conn.execute(USERS, params | {"password_hash": row[0]})
        first = conn.execute("SELECT min(id) FROM users WHERE username LIKE 'bulk%'").fetchone()
        assert first is not None
        params["first_user"] = first[0]
        conn.execute(GRANTS, params)
        conn.execute(REVOKED_ACCESS_TOKENS, params)
        for table, statement in (("refresh_tokens", REFRESH_TOKENS),
                                 ("authorization_codes", AUTHORIZATION_CODES)):  # fmt: skip
            with _keys_rebuilt_after(conn, table):
                conn.execute(statement, params)
        conn.execute("ANALYZE")
    return time.monotonic() - started


EXPIRE_MOST = (
    "UPDATE refresh_tokens SET expires_at = now() - interval '1 day' "
    "WHERE created_at < now() - interval '20 days' AND right(token_hash, 1) <> '0'",
    "UPDATE revoked_access_tokens SET expires_at = now() - interval '1 day' "
    "WHERE length(jti) = 32 AND right(jti, 1) <> '0'",
    "UPDATE authorization_codes SET expires_at = now() - interval '1 day' "
    "WHERE auth_time < now() - interval '20 days' AND right(code_hash, 1) <> '0'",
    "UPDATE authorizations SET expires_at = now() - interval '1 day' "
    "WHERE created_at < now() - interval '20 days' AND right(id, 1) <> '0'",
)
ROW_COUNTS = """
SELECT (SELECT count(*) FROM authorizations), (SELECT count(*) FROM refresh_tokens),
       (SELECT count(*) FROM revoked_access_tokens), (SELECT count(*) FROM authorization_codes)
"""


@contextmanager
def _keys_rebuilt_after(conn: psycopg.Connection[Any], table: str) -> Iterator[None]:
    """Drop ``table``'s indexes and constraints, let the caller insert, then recreate them
    from their own definitions (the migrations' names and columns, unchanged).

    Building a B-tree once over a million random hashes is several times faster than a
    million inserts into it; the foreign key is checked once, for all rows, when re-added.
    """
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass",
        (table,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    ).fetchall()
    quoted = sql.Identifier(table)
    for name, _ in constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(quoted, sql.Identifier(name))
        )
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    conn.execute("SET maintenance_work_mem = '256MB'")
    for name, definition in constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(quoted, sql.Identifier(name))
            + sql.SQL(definition)
        )
    for _, definition in indexes:
        conn.execute(sql.SQL(definition))


def expire_most(database: Database) -> None:
    """Make about 15 in 16 loaded rows (a hex digest not ending in 0) expired a day ago.

    Real deny-list entries have 22-character jtis; loaded ones are 32 hex characters.
    """
    with database.connect() as conn:
        for statement in EXPIRE_MOST:
            conn.execute(statement)
        conn.execute("ANALYZE")


def row_counts(database: Database) -> dict[str, int]:
    with database.connect() as conn:
        row = conn.execute(ROW_COUNTS).fetchone()
    assert row is not None
    return {table: int(count) for table, count in zip(TABLES, row, strict=True)}


def size_mib(database: Database) -> float:
    with database.connect() as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) / 2**20 if row else 0.0
