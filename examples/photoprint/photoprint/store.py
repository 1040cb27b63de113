"""PhotoPrint's server-side store: tokens and DPoP keys never leave the server.

The browser's session cookie holds only a random connection id; everything else (the
pending authorization's state and PKCE verifier, the token set, the private DPoP key) is a
row of a small SQLite database in the instance folder. A per-connection lock keeps two
requests of one browser from refreshing the same refresh token at once (Tessera rotates
refresh tokens and treats a reused one as stolen, RFC 9700 §4.14.2). PhotoPrint runs as
one process (threads); several processes would need a shared lock (e.g. Redis) instead.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS connection (
    id TEXT PRIMARY KEY,
    state TEXT,
    code_verifier TEXT,
    dpop_key TEXT,
    token TEXT,
    refreshes INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Connection:
    id: str
    state: str | None
    code_verifier: str | None
    dpop_key: str | None
    token: dict[str, Any] | None
    refreshes: int


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(SCHEMA)
        path.chmod(0o600)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One connection per call, committed on success and always closed."""
        with closing(sqlite3.connect(self.path, timeout=15)) as db, db:
            yield db

    def lock(self, connection_id: str) -> threading.Lock:
        with self._guard:
            return self._locks[connection_id]

    def new_id(self) -> str:
        return secrets.token_urlsafe(32)

    def get(self, connection_id: str | None) -> Connection | None:
        if not connection_id:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT id, state, code_verifier, dpop_key, token, refreshes"
                " FROM connection WHERE id = ?",
                (connection_id,),
            ).fetchone()
        if row is None:
            return None
        token = json.loads(row[4]) if row[4] else None
        return Connection(row[0], row[1], row[2], row[3], token, row[5])

    def begin(self, connection_id: str, state: str, code_verifier: str, dpop_key: str) -> None:
        """A new authorization: its state, verifier and key replace whatever was there."""
        with self._db() as db:
            db.execute(
                "INSERT INTO connection (id, state, code_verifier, dpop_key, token, refreshes,"
                " updated_at) VALUES (?, ?, ?, ?, NULL, 0, ?) ON CONFLICT (id) DO UPDATE SET"
                " state = excluded.state, code_verifier = excluded.code_verifier,"
                " dpop_key = excluded.dpop_key, token = NULL, refreshes = 0,"
                " updated_at = excluded.updated_at",
                (connection_id, state, code_verifier, dpop_key, time.time()),
            )

    def save_token(self, connection_id: str, token: dict[str, Any], *, refreshed: bool) -> None:
        """The authorization's state and verifier are spent once a token arrives."""
        with self._db() as db:
            db.execute(
                "UPDATE connection SET token = ?, state = NULL, code_verifier = NULL,"
                " refreshes = refreshes + ?, updated_at = ? WHERE id = ?",
                (json.dumps(dict(token)), int(refreshed), time.time(), connection_id),
            )

    def forget(self, connection_id: str) -> None:
        """Tessera revoked or refused it, or Bob disconnected: nothing is kept."""
        with self._db() as db:
            db.execute("DELETE FROM connection WHERE id = ?", (connection_id,))
