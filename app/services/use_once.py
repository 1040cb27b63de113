"""Spending a single-use thing exactly once, across workers and hosts: one statement decides.

Two shapes, each one statement whose row count says whether this caller won; never a read
followed by a write (two requests can both read "unused"):

- ``Spend``: a stored row is used up by a conditional UPDATE,
  ``UPDATE t SET <spent> WHERE key = :once_key AND <still unused>``; True when it changed
  the row. Authorization codes, refresh tokens, PAR request_uris (first presentation and
  use), device codes (decision and redemption), initial access token uses::

      _SPEND = use_once.Spend(Code.code_hash, Code.used_at.is_(None), used_at=bindparam("now"))
      if not _SPEND(code_hash, now=utcnow()): ...   # spent already, by us or a concurrent use

- ``Record``: an identifier seen for the first time is a new row,
  ``INSERT ... ON CONFLICT DO NOTHING``; True when the row is new. DPoP proof and client
  assertion jtis (``replay_cache``, which keeps them in Redis instead when configured) and
  the access-token deny-list. A dialect without ON CONFLICT runs the INSERT in a savepoint.

Both run with ``sql.run_in_session``: in the session's transaction, which the calling service
commits. The loser changes nothing, so nothing is rolled back, least of all the caller's
session. On PostgreSQL a conditional UPDATE takes the row lock: a concurrent second use waits
for the first to commit, then re-checks the condition (READ COMMITTED) and finds it spent.
Bind names must not be column names (SQLAlchemy reserves those in INSERT and UPDATE).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import Update

from app.extensions import db
from app.services import sql

KEY = "once_key"  # the bind name of the row's key in a Spend
_PREFIX = "once_"  # of a Record's bind names: the column names are reserved
_ON_CONFLICT: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class Spend:
    """Use up the row keyed by ``key`` if it is still unused (``unused``), setting ``spent``."""

    def __init__(
        self, key: InstrumentedAttribute[Any], *unused: ColumnElement[bool], **spent: Any
    ) -> None:
        self.update: Update = (
            update(key.class_).where(key == bindparam(KEY), *unused).values(**spent)
        )
        self._statement = sql.Statement(self.update)

    def __call__(self, key: str, *, via: sql.Statement | None = None, **params: Any) -> bool:
        """True if this call spent it. ``via``: a statement that runs this UPDATE (as a CTE)
        and changes one row exactly when the UPDATE did, e.g. also storing a successor."""
        ran = sql.run_in_session(via or self._statement, {KEY: key, **params})
        return ran.rowcount == 1


class Record:
    """Insert a row of ``model`` unless a unique key of it is taken; True if it is new.

    Pass a value for every column that has a default: the statement is compiled once, run
    without SQLAlchemy's execution context, and the set of columns is that of the first call.
    """

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self._statements: dict[tuple[str, bool], sql.Statement] = {}

    def __call__(self, **values: Any) -> bool:
        dialect = db.session.get_bind().dialect.name
        on_conflict = dialect in _ON_CONFLICT
        statement = self._statements.get((dialect, on_conflict))
        if statement is None:
            statement = sql.Statement(self._insert(dialect, values))
            self._statements[dialect, on_conflict] = statement
        params = {_PREFIX + name: value for name, value in values.items()}
        if on_conflict:
            return sql.run_in_session(statement, params).rowcount == 1
        try:
            with db.session.begin_nested():  # a duplicate rolls back to here, no further
                sql.run_in_session(statement, params)
        except IntegrityError:
            return False
        return True

    def _insert(self, dialect: str, values: dict[str, Any]) -> Any:
        columns: dict[str, Any] = {name: bindparam(_PREFIX + name) for name in values}
        if dialect in _ON_CONFLICT:
            return _ON_CONFLICT[dialect](self.model).values(columns).on_conflict_do_nothing()
        return insert(self.model).values(columns)
