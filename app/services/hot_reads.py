"""Hot-path reads without the ORM session: prebuilt statements on a pooled DBAPI connection.

A bearer check, /userinfo and the photo listing each need one or two indexed SELECTs. Through
the ORM session such a request also paid for the session, a pool checkout with a ping, BEGIN
and ROLLBACK (five round trips on PostgreSQL) and SQLAlchemy's per-execution work, more than
the queries themselves. Here a statement is written once with Core, compiled once per dialect
to the driver's SQL, and run on a DBAPI cursor::

    LOOKUP = hot_reads.Statement(select(User.email).where(User.id == bindparam("id")))
    row = hot_reads.fetch_one(LOOKUP, {"id": 1})      # a tuple, or None
    rows = hot_reads.fetch_all(LISTING, {...})        # a list of tuples
    with hot_reads.connection():                      # several reads, one pool checkout
        ...

Values come back converted by the columns' types (UTC datetimes stay UTC-aware). On SQLite
the connection is ``db.engine``'s (its connect-time pragmas apply, tests' dispose closes it).
On PostgreSQL it comes from a second pool of the same URL, in autocommit and not pinged on
checkout: one round trip per statement. A read whose pooled connection turns out dead is
retried once on a new one. Errors surface as SQLAlchemy's exceptions (an outage is the usual
503); a connection always goes back to its pool when the block ends, errors included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select

from app.extensions import db

Row = tuple[Any, ...]
EXTENSION_KEY = "hot_reads"
_Processor = Callable[[Any], Any]
_Select = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # parameter order for a positional driver, else None
    defaults: dict[str, Any]  # values of literal binds in the statement
    binds: dict[str, _Processor]  # parameter name -> the type's bind conversion
    results: tuple[tuple[int, _Processor], ...]  # column index -> the type's result conversion

    def arguments(self, params: Mapping[str, Any]) -> Any:
        values = self.defaults | dict(params) if self.defaults else dict(params)
        for name, process in self.binds.items():
            values[name] = process(values[name])
        return values if self.names is None else tuple(values[name] for name in self.names)

    def convert(self, rows: list[Row]) -> list[Row]:
        for index, process in self.results:
            after = index + 1
            rows = [(*row[:index], process(row[index]), *row[after:]) for row in rows]
        return rows


class Statement:
    """A Core SELECT, compiled once per dialect to the driver's SQL and value conversions."""

    def __init__(self, select: _Select) -> None:
        self.select = select
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.select, dialect)
        return found


def _compile(select: _Select, dialect: Dialect) -> _Compiled:
    compiled = select.compile(dialect=dialect)
    binds: dict[str, _Processor] = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds[name] = process
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    results = []
    for index, column in enumerate(select.selected_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            results.append((index, process))
    names = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _Compiled(compiled.string, names, defaults, binds, tuple(results))


class _Source:
    """Where one app's hot connections come from, in one process."""

    def __init__(self, app: Flask) -> None:
        self.pid = os.getpid()
        engine = db.engine
        self.dialect = engine.dialect
        self.engine = engine
        self.own_pool = engine.dialect.name == "postgresql"
        if self.own_pool:
            self.engine = _autocommit_twin(app, engine)
            pid = self.pid
            twin = self.engine

            @event.listens_for(engine, "engine_disposed")
            def _dispose_twin(_engine: Engine) -> None:
                twin.dispose(close=os.getpid() == pid)  # never close a parent's sockets

    def connect(self) -> PoolProxiedConnection:
        try:
            return self.engine.raw_connection()
        except self.dialect.loaded_dbapi.Error as exc:
            raise _wrap(exc, self.dialect, None, None) from exc


def _autocommit_twin(app: Flask, engine: Engine) -> Engine:
    """The app's PostgreSQL URL with a pool of its own: autocommit, so a read is one round
    trip (no BEGIN, no ROLLBACK on return), and no pre-ping (a dead link is retried)."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    return create_engine(
        engine.url,
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=False,
        pool_reset_on_return=None,
        pool_size=options.get("pool_size", 5),
        max_overflow=options.get("max_overflow", 10),
        connect_args=options.get("connect_args", {}),
    )


class HotConnection:
    """One pooled DBAPI connection, checked out by ``connection()``."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.dialect = source.dialect
        self._dbapi: PoolProxiedConnection | None = source.connect()

    def fetch_all(self, statement: Statement, params: Mapping[str, Any]) -> list[Row]:
        compiled = statement.compiled(self.dialect)
        rows = self._run(compiled, compiled.arguments(params))
        return compiled.convert(rows) if compiled.results else rows

    def fetch_one(self, statement: Statement, params: Mapping[str, Any]) -> Row | None:
        rows = self.fetch_all(statement, params)
        return rows[0] if rows else None

    def _run(self, compiled: _Compiled, arguments: Any) -> list[Row]:
        for attempt in (1, 2):
            dbapi = self._dbapi if self._dbapi is not None else self._reconnect()
            try:
                cursor = dbapi.cursor()
                try:
                    cursor.execute(compiled.sql, arguments)
                    return list(cursor.fetchall())
                finally:
                    cursor.close()
            except self.dialect.loaded_dbapi.Error as exc:
                dead = self.dialect.is_disconnect(exc, dbapi, None)
                if dead:
                    self._discard(exc)
                if not dead or attempt == 2:
                    raise _wrap(exc, self.dialect, compiled.sql, dead) from exc
        raise AssertionError("unreachable")

    def _reconnect(self) -> PoolProxiedConnection:
        self._dbapi = self.source.connect()
        return self._dbapi

    def _discard(self, exc: BaseException) -> None:
        """Drop a dead connection, and the pool's idle ones (a restart killed them all)."""
        if self._dbapi is not None:
            self._dbapi.invalidate(exc)
            self._dbapi = None
        if self.source.own_pool:
            self.source.engine.dispose()

    def close(self) -> None:
        if self._dbapi is not None:
            self._dbapi.close()  # back to the pool
            self._dbapi = None


def _wrap(exc: Exception, dialect: Dialect, sql: str | None, dead: bool | None) -> StatementError:
    return DBAPIError.instance(
        sql,
        None,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=bool(dead),
        dialect=dialect,
    )


_current: ContextVar[HotConnection | None] = ContextVar("hot_read_connection", default=None)


@contextmanager
def connection() -> Iterator[HotConnection]:
    """A pooled connection for the block; nested blocks and the fetch functions inside it
    share it. It goes back to the pool when the outermost block ends, however it ends."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    conn = HotConnection(_source())
    token = _current.set(conn)
    try:
        yield conn
    finally:
        _current.reset(token)
        conn.close()


def fetch_all(statement: Statement, params: Mapping[str, Any]) -> list[Row]:
    """The statement's rows, on the block's connection or a connection of its own."""
    with connection() as conn:
        return conn.fetch_all(statement, params)


def fetch_one(statement: Statement, params: Mapping[str, Any]) -> Row | None:
    """The statement's first row, or None."""
    with connection() as conn:
        return conn.fetch_one(statement, params)


def _source() -> _Source:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    source: _Source | None = app.extensions.get(EXTENSION_KEY)
    if source is None or source.pid != os.getpid():  # a forked worker builds its own
        source = app.extensions[EXTENSION_KEY] = _Source(app)
    return source
