"""Keep the instance's data from other local users: SQLite file 0600, photo store 0700.

The database holds password hashes, token records and (sealed) signing keys; the photo store
holds users' photos. Files this module creates get private modes whatever the umask; files
that already exist are left alone but reported at start when group or others may open them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url

from app.settings import settings

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def sqlite_path(uri: str) -> Path | None:
    """The file behind a ``sqlite:///path`` URI; None for other backends and in-memory ones."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database)


def secure_instance(app: Flask) -> None:
    """Create the photo store and the SQLite file privately; warn about any left open."""
    photos = Path(app.instance_path) / "photos"
    photos.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    database = sqlite_path(settings(app).sqlalchemy_database_uri)
    if database is not None and database.parent.is_dir():
        # SQLite gives its -wal and -shm files the database file's mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    checked = [photos, Path(app.instance_path) / "secret_key"]
    if database is not None:
        checked += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    for path in checked:
        _warn_if_open(app, path)


def _warn_if_open(app: Flask, path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        wanted = PRIVATE_DIR if path.is_dir() else PRIVATE_FILE
        app.logger.warning(
            "%s is readable by other users (mode %04o); run chmod %o on it", path, mode, wanted
        )
