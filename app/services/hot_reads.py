"""Reads on the hot request paths without the ORM session.

A primary-key read through the ORM session (session, identity map, instance state, pool
checkout, teardown) cost about ten times the query itself on /token. Here a prebuilt Core
statement runs on a connection from the same pool, in autocommit: one round trip, no BEGIN
and no ROLLBACK, and nothing is left for the session to commit or tear down. Rows come back
as plain tuples; nothing read here can be written back through the session.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Engine, Executable, Row

from app.extensions import db

EXTENSION_KEY = "tessera.hot_reads_engine"


def _engine() -> Engine:
    """The app's engine in autocommit, sharing its pool (built once per app)."""
    engine: Engine | None = current_app.extensions.get(EXTENSION_KEY)
    if engine is None:
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        current_app.extensions[EXTENSION_KEY] = engine
    return engine


def first_row(statement: Executable, parameters: dict[str, Any]) -> Row[Any] | None:
    """The first row ``statement`` returns, or None."""
    with _engine().connect() as connection:
        return connection.execute(statement, parameters).first()
