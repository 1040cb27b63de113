"""Reads on the hot request paths without the ORM session.

A primary-key read through the ORM session (session, identity map, instance state, pool
checkout, teardown) cost about ten times the query itself on /token, and even a Core execute
spent more in SQLAlchemy's execution context than in the database. A ``PreparedRead`` is a
Core select compiled once per dialect; each call runs its SQL through the DBAPI and converts
the values with the columns' own SQLAlchemy types (UTC datetimes, JSON), so the rows are what
Core would return. Nothing read here can be written back through the session.

The reads share one DBAPI connection per worker thread (made by the app's engine, so its
connect hooks apply, then detached from the pool), in autocommit on PostgreSQL: one round
trip per read, where a pool checkout adds a pre-ping and a transaction a BEGIN and ROLLBACK.
A connection the database dropped is replaced and the read retried once (what the pre-ping
did); database errors surface as SQLAlchemy's, as from any other query. Each worker holds
one connection more than its pool.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Dialect, Engine, Select
from sqlalchemy.exc import DBAPIError

from app.extensions import db

EXTENSION_KEY = "tessera.hot_reads"

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: Sequence[str] | None  # parameter order for positional paramstyles
    defaults: dict[str, Any]  # the statement's own literal parameters (LIMIT, constants)
    bind_processors: dict[str, Processor]
    result_processors: tuple[Processor, ...]


class PreparedRead:
    """A select run through the DBAPI; ``first`` returns its first row as a dict, or None."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.names = tuple(str(column.key) for column in statement.selected_columns)
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        defaults = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
        return _Compiled(
            sql=compiled.string,
            positions=compiled.positiontup,
            defaults=defaults,
            bind_processors={
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in binds.items()
            },
            result_processors=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            ),
        )

    def first(self, parameters: dict[str, Any]) -> dict[str, Any] | None:
        engine = db.engine
        dialect = engine.dialect
        kind = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(kind)
        if compiled is None:
            compiled = self._compiled[kind] = self._compile(dialect)
        values = compiled.defaults | parameters
        for name, processor in compiled.bind_processors.items():
            if processor is not None:
                values[name] = processor(values[name])
        arguments: Any = (
            values if compiled.positions is None else [values[n] for n in compiled.positions]
        )
        row = _execute(engine, compiled.sql, arguments)
        if row is None:
            return None
        return {
            name: processor(value) if processor is not None else value
            for name, processor, value in zip(
                self.names, compiled.result_processors, row, strict=True
            )
        }


class _Connections(threading.local):
    """This thread's DBAPI connection for one app (and the process that opened it: a worker
    forked after ``--preload`` must not share its parent's socket)."""

    connection: Any = None
    pid: int = 0


def _connection(engine: Engine, fresh: bool = False) -> Any:
    held: _Connections = current_app.extensions.setdefault(EXTENSION_KEY, _Connections())
    if held.connection is not None and (fresh or held.pid != os.getpid()):
        if held.pid == os.getpid():
            _close_quietly(held.connection)
        held.connection = None
    if held.connection is None:
        fairy = engine.raw_connection()
        connection = fairy.driver_connection
        fairy.detach()  # ours from now on; the pool opens another when it needs one
        if engine.dialect.name == "postgresql":
            connection.autocommit = True  # type: ignore[union-attr]
        held.connection, held.pid = connection, os.getpid()
    return held.connection


def _forget() -> None:
    held: _Connections | None = current_app.extensions.get(EXTENSION_KEY)
    if held is not None and held.connection is not None:
        _close_quietly(held.connection)
        held.connection = None


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # it is being replaced because it is broken
        connection.close()


def _execute(engine: Engine, sql: str, arguments: Any) -> Any:
    """The first row of ``sql``; one retry on a fresh connection after a disconnect."""
    dialect = engine.dialect
    for attempt in (1, 2):
        connection = cursor = None
        try:
            connection = _connection(engine, fresh=attempt == 2)
            cursor = connection.cursor()
            cursor.execute(sql, arguments)
            row = cursor.fetchone()
            cursor.close()
            return row
        except dialect.loaded_dbapi.Error as exc:
            disconnected = connection is None or dialect.is_disconnect(exc, connection, cursor)
            if disconnected and attempt == 1 and connection is not None:
                continue
            if disconnected:  # the next read opens a new one
                _forget()
            raise DBAPIError.instance(
                sql, arguments, exc, dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected, dialect=dialect,
            ) from exc  # fmt: skip
    raise AssertionError("unreachable")
