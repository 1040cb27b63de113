"""Core statements compiled once per dialect and run on a DBAPI cursor, without the ORM session.

Hot paths need a few indexed SELECTs (a bearer check, /userinfo, the photo listing, a
client) and refresh rotation a few writes. Through the ORM session or ``Connection.execute``
each paid for SQLAlchemy's execution context and result, and a read also for the session, a
pool checkout with a ping, BEGIN and ROLLBACK (five round trips on PostgreSQL): more than the
queries themselves. Here a statement is written once with Core (select, insert, update, with
a CTE), compiled once per dialect to the driver's SQL with its types' value conversions, and
run on a DBAPI cursor::

    LOOKUP = sql.Statement(select(User.email).where(User.id == bindparam("id")))
    row = sql.fetch_one(LOOKUP, {"id": 1})        # a tuple, or None
    rows = sql.fetch_all(LISTING, {...})          # a list of tuples
    with sql.connection():                        # several reads, one pool checkout
        ...
    ran = sql.run_in_session(SPEND, {...})        # in the session's transaction: rows, rowcount

Values go in and come back through the columns' types (UTC datetimes stay UTC-aware), as the
ORM would write and read them. Reads (``fetch_*``, ``connection``) run outside any transaction:
on SQLite on ``db.engine``'s pool (its connect-time pragmas apply, tests' dispose closes it);
on PostgreSQL on a second pool of the same URL, in autocommit and not pinged on checkout, one
round trip per statement; a read whose pooled connection turns out dead is retried once on a
new one. ``run_in_session`` runs on the connection of the ORM session, inside its transaction,
which the caller's service commits. Driver errors surface as SQLAlchemy's DBAPIError (an
outage is the usual 503) and a dead connection is invalidated; a hot connection always goes
back to its pool when its block ends, errors included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from app.extensions import db

Row = tuple[Any, ...]
EXTENSION_KEY = "tessera.sql"
_Processor = Callable[[Any], Any]
_Core = Select[*tuple[Any, ...]] | UpdateBase  # a select, or an insert/update (CTEs included)


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
        converted = []
        for row in rows:
            values = list(row)
            for index, process in self.results:
                values[index] = process(values[index])
            converted.append(tuple(values))
        return converted


@dataclass(frozen=True, slots=True)
class Ran:
    """What a statement run in the session's transaction gave: its rows (converted; empty
    for a statement without RETURNING) and the driver's count of rows it changed."""

    rows: list[Row]
    rowcount: int


class Statement:
    """A Core statement, compiled once per dialect to the driver's SQL and value conversions."""

    def __init__(self, statement: _Core) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The keys of its columns (selected or RETURNING), to name a row's values. Read on
        first use: SQLAlchemy memoizes them on the statement, and would carry that memo into
        statements derived from it later (``.returning()``)."""
        return tuple(str(column.key) for column in self.statement.exported_columns)

    def compiled(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _compile(self.statement, dialect)
        return found


def _compile(statement: _Core, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    binds: dict[str, _Processor] = {}
    for bind, name in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds[name] = process
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    results = []
    for index, column in enumerate(statement.exported_columns):  # selected or RETURNING
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
                return _execute(dbapi, compiled.sql, arguments)[0]
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


def _execute(dbapi: Any, sql: str, arguments: Any) -> tuple[list[Row], int]:
    """Run ``sql`` on a cursor of the DBAPI connection ``dbapi``: its rows (none for a
    statement that returns none) and its rowcount. Driver errors propagate as they are."""
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, arguments)
        rows = list(cursor.fetchall()) if cursor.description is not None else []
        return rows, cursor.rowcount
    finally:
        cursor.close()


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


def run_in_session(statement: Statement, params: Mapping[str, Any]) -> Ran:
    """Run the statement on the ORM session's connection, in its transaction (the calling
    service commits). A dead connection is invalidated, and the error raised: a transaction
    cannot be retried statement by statement."""
    connection = db.session.connection()
    dialect = connection.dialect
    compiled = statement.compiled(dialect)
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    try:
        rows, rowcount = _execute(dbapi, compiled.sql, compiled.arguments(params))
    except dialect.loaded_dbapi.Error as exc:
        dead = dialect.is_disconnect(exc, dbapi, None)
        if dead:
            connection.invalidate(exc)
        raise _wrap(exc, dialect, compiled.sql, dead) from exc
    return Ran(compiled.convert(rows) if compiled.results and rows else rows, rowcount)


def _source() -> _Source:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    source: _Source | None = app.extensions.get(EXTENSION_KEY)
    if source is None or source.pid != os.getpid():  # a forked worker builds its own
        source = app.extensions[EXTENSION_KEY] = _Source(app)
    return source
