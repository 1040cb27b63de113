"""Per-day counts for the admin's charts: one query per series, zero-filled, UTC days.

Read-only, from what is already stored (nothing here adds a write to the token endpoint):

- API calls: the per-day counters of ``api_usage`` (services/usage.py).
- Refresh tokens issued: ``refresh_tokens.created_at``. Access tokens are JWTs and not stored,
  so this counts the token responses that carried a refresh token (every code exchange with
  ``offline_access`` and every rotation). ``tokens purge`` deletes expired rows, so days older
  than OAUTH_REFRESH_TOKEN_TTL may show fewer than were issued once purge has run.
- Authorizations granted: ``authorizations.created_at`` (code exchanges, device approvals and
  a client's own client_credentials authorization).
- Sign-in failures: ``sign_in.failed`` audit events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select

from app.extensions import db
from app.models import ApiUsage, AuditEvent, Authorization, RefreshToken
from app.services import audit

DAYS = 30
SIGN_IN_FAILED = "sign_in.failed"
assert SIGN_IN_FAILED in audit.KINDS


@dataclass(frozen=True)
class Series:
    """Counts for consecutive UTC days, oldest first; ``unit`` names one count ("API call")."""

    title: str
    unit: str
    days: tuple[date, ...]
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


def _window(days: int) -> tuple[tuple[date, ...], datetime]:
    today = datetime.now(UTC).date()
    span = tuple(today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    return span, datetime.combine(span[0], time.min, UTC)


def _day_of(column: Any) -> Any:
    """The UTC calendar day of a timestamp column, on SQLite (naive UTC text) and PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _series(
    title: str, unit: str, span: tuple[date, ...], rows: Iterable[tuple[Any, Any]]
) -> Series:
    found = {_as_date(day): int(count or 0) for day, count in rows}
    return Series(title, unit, span, tuple(found.get(day, 0) for day in span))


def api_calls(client_id: str | None = None, days: int = DAYS) -> Series:
    """Calls to the photo API per day, by every client or by one."""
    span, _ = _window(days)
    query = (
        select(ApiUsage.day, func.sum(ApiUsage.count))
        .where(ApiUsage.day >= span[0])
        .group_by(ApiUsage.day)
    )
    if client_id is not None:
        query = query.where(ApiUsage.client_id == client_id)
    return _series("API calls per day", "API call", span, db.session.execute(query))


def _created_per_day(
    column: Any, client_column: Any, client_id: str | None, days: int, where: Any = None
) -> tuple[tuple[date, ...], Any]:
    span, since = _window(days)
    day = _day_of(column)
    query = select(day, func.count()).where(column >= since).group_by(day)
    if client_id is not None:
        query = query.where(client_column == client_id)
    if where is not None:
        query = query.where(where)
    return span, db.session.execute(query)


def refresh_tokens_issued(client_id: str | None = None, days: int = DAYS) -> Series:
    """Refresh tokens issued per day (first issue and rotations), by every client or by one."""
    span, rows = _created_per_day(RefreshToken.created_at, RefreshToken.client_id, client_id, days)
    return _series("Refresh tokens issued per day", "refresh token", span, rows)


def authorizations_granted(client_id: str | None = None, days: int = DAYS) -> Series:
    """New authorizations (grants) per day, for every client or for one."""
    span, rows = _created_per_day(
        Authorization.created_at, Authorization.client_id, client_id, days
    )
    return _series("Authorizations granted per day", "authorization", span, rows)


def sign_in_failures(days: int = DAYS) -> Series:
    """Failed sign-ins per day (wrong password, unknown or disabled account)."""
    span, rows = _created_per_day(
        AuditEvent.at, AuditEvent.client_id, None, days, AuditEvent.kind == SIGN_IN_FAILED
    )
    return _series("Sign-in failures per day", "failed sign-in", span, rows)


def per_client_totals(days: int = DAYS) -> list[tuple[str, int, int]]:
    """(client_id, refresh tokens issued, API calls) over the window, busiest first."""
    span, since = _window(days)
    calls = dict(
        db.session.execute(
            select(ApiUsage.client_id, func.sum(ApiUsage.count))
            .where(ApiUsage.day >= span[0])
            .group_by(ApiUsage.client_id)
        ).all()
    )
    issued = dict(
        db.session.execute(
            select(RefreshToken.client_id, func.count())
            .where(RefreshToken.created_at >= since)
            .group_by(RefreshToken.client_id)
        ).all()
    )
    rows = [
        (client_id, int(issued.get(client_id) or 0), int(calls.get(client_id) or 0))
        for client_id in set(calls) | set(issued)
    ]
    return sorted(rows, key=lambda row: (-row[1] - row[2], row[0]))
