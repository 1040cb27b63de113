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
    """Calls per operation over the last ``days`` days."""
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = db.session.execute(
        select(ApiUsage.operation, func.sum(ApiUsage.count))
        .where(ApiUsage.user_id == user_id, ApiUsage.client_id == client_id)
        .where(ApiUsage.day >= since)
        .group_by(ApiUsage.operation)
    )
    return {operation: int(count) for operation, count in rows}


def last_used_by_client() -> dict[str, date]:
    """The last day each client called the API (for the admin console), in one query."""
    rows = db.session.execute(
        select(ApiUsage.client_id, func.max(ApiUsage.day)).group_by(ApiUsage.client_id)
    )
    return {client_id: day for client_id, day in rows}
