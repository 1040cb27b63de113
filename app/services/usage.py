"""Per-day API usage counts: which client did what for which user (for "My apps")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import ApiUsage


def record(user_id: int, client_id: str, operation: str) -> None:
    """Count one call: a single upsert, committed with whatever the request wrote."""
    day = datetime.now(UTC).date()
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ApiUsage).values(
        user_id=user_id, client_id=client_id, operation=operation, day=day, count=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "client_id", "operation", "day"],
        set_={"count": ApiUsage.count + 1},
    )
    db.session.execute(statement)
    db.session.commit()


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
