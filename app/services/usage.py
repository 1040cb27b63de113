"""Per-day API usage counts: which client did what for which user (for "My apps")."""

from __future__ import annotations

import atexit
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import ApiUsage
from app.settings import settings


@dataclass
class _Pending:
    """Counts not yet written, per (user_id, client_id, operation, day)."""

    counts: Counter[tuple[int, str, str, date]] = field(default_factory=Counter)
    last_flush: float = field(default_factory=time.monotonic)


def record(user_id: int, client_id: str, operation: str) -> None:
    """Count one call.

    With USAGE_FLUSH_SECONDS = 0 the count is written at once. Otherwise calls are summed in
    the worker and written in one statement at most every USAGE_FLUSH_SECONDS (and when the
    worker exits): a write per API call took SQLite's write lock on every request and cost
    about 0.6 ms. A worker killed with SIGKILL loses at most that many seconds of counts.
    """
    pending = _pending()
    pending.counts[(user_id, client_id, operation, datetime.now(UTC).date())] += 1
    interval = settings().usage_flush_seconds
    if interval == 0 or time.monotonic() - pending.last_flush >= interval:
        flush()


def flush() -> None:
    """Write this worker's pending counts; on a database error keep them for the next try."""
    pending = _pending()
    pending.last_flush = time.monotonic()
    if not pending.counts:
        return
    rows = [
        {"user_id": u, "client_id": c, "operation": o, "day": d, "count": n}
        for (u, c, o, d), n in pending.counts.items()
    ]
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ApiUsage).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "client_id", "operation", "day"],
        set_={"count": ApiUsage.count + statement.excluded.count},
    )
    try:
        # Its own connection and transaction: the counts never commit, nor roll back, what the
        # request's session holds, and a failure leaves that session usable.
        with db.engine.begin() as connection:
            connection.execute(statement)
    except SQLAlchemyError:
        current_app.logger.warning("usage counts not written yet; will retry")
        return
    pending.counts.clear()


def _pending() -> _Pending:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    pending: _Pending | None = app.extensions.get("usage_pending")
    if pending is None:
        pending = app.extensions["usage_pending"] = _Pending()
        if settings(app).usage_flush_seconds:
            atexit.register(_flush_at_exit, app)
    return pending


def _flush_at_exit(app: Flask) -> None:
    with app.app_context():
        flush()


def totals(user_id: int, client_id: str, days: int = 30) -> dict[str, int]:
    """Calls per operation by one client for one user over the last ``days`` days."""
    return totals_by_client(user_id, days).get(client_id, {})


def totals_by_client(user_id: int, days: int = 30) -> dict[str, dict[str, int]]:
    """For each client: calls per operation for ``user_id`` over the last ``days`` days."""
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = db.session.execute(
        select(ApiUsage.client_id, ApiUsage.operation, func.sum(ApiUsage.count))
        .where(ApiUsage.user_id == user_id, ApiUsage.day >= since)
        .group_by(ApiUsage.client_id, ApiUsage.operation)
    )
    result: dict[str, dict[str, int]] = {}
    for client_id, operation, count in rows:
        result.setdefault(client_id, {})[operation] = int(count)
    return result


def last_used_by_client(user_id: int | None = None) -> dict[str, date]:
    """The last day each client called the API (for one user, or for anyone), in one query."""
    query = select(ApiUsage.client_id, func.max(ApiUsage.day)).group_by(ApiUsage.client_id)
    if user_id is not None:
        query = query.where(ApiUsage.user_id == user_id)
    return {client_id: day for client_id, day in db.session.execute(query)}
