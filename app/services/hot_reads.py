"""Reads on the hot request paths without the ORM session.

A primary-key read through the ORM session (session, identity map, instance state, pool
checkout, teardown) cost about ten times the query itself on /token, and even a Core execute
spent more in SQLAlchemy's execution context than in the database. A ``PreparedRead`` is a
Core select compiled once per dialect; each call runs its SQL on a pooled DBAPI connection
and converts the values with the columns' own SQLAlchemy types (UTC datetimes, JSON), so
the rows are what Core would return. On PostgreSQL the read runs in autocommit: one round
trip, no BEGIN and no ROLLBACK. Nothing read here can be written back through the session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select

from app.extensions import db

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: Sequence[str] | None  # parameter order for positional paramstyles
    defaults: dict[str, Any]  # the statement's own literal parameters (LIMIT, constants)
    bind_processors: dict[str, Processor]
    result_processors: tuple[Processor, ...]
    autocommit: bool


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
            autocommit=dialect.name == "postgresql",
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
        connection = engine.raw_connection()
        try:
            driver = connection.driver_connection
            if compiled.autocommit:
                driver.autocommit = True  # type: ignore[union-attr]
            try:
                cursor = connection.cursor()
                cursor.execute(compiled.sql, arguments)
                row = cursor.fetchone()
                cursor.close()
            finally:
                if compiled.autocommit:
                    driver.autocommit = False  # type: ignore[union-attr]
        finally:
            connection.close()  # back to the pool
        if row is None:
            return None
        return {
            name: processor(value) if processor is not None else value
            for name, processor, value in zip(
                self.names, compiled.result_processors, row, strict=True
            )
        }
