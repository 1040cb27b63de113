"""Device authorizations (RFC 8628): issue codes, find them by user code, decide, poll, redeem.

Every state change is one conditional UPDATE (rowcount == 1), so it holds across gunicorn
workers and hosts: a code is approved or denied once and redeemed once (``use_once``), and
two polls that arrive together cannot both pass the interval check.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from app.extensions import db
from app.models import Client, DeviceCode, User
from app.models.device_code import (
    STATUS_APPROVED,
    STATUS_DENIED,
    STATUS_PENDING,
    STATUS_REDEEMED,
)
from app.models.types import utcnow
from app.security import hash_token, new_token
from app.services import audit, authorizations, consents, use_once
from app.settings import settings

KIND_DEVICE_CODE = "device_code"
# RFC 8628 §6.1: 20 consonants, no vowels (no words), nothing that reads as another letter.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5  # seconds added to the interval on each slow_down (§3.5)
# A poll may arrive this much early and still count as waiting the interval (network jitter).
POLL_SLACK = timedelta(milliseconds=200)
MAX_DEVICE_CODE_LENGTH = 512
ISSUE_ATTEMPTS = 5


class PollResult(enum.Enum):
    """What a token request with a device code finds (RFC 8628 §3.5)."""

    INVALID = "invalid_grant"  # unknown, another client's, or already redeemed
    EXPIRED = "expired_token"
    DENIED = "access_denied"
    PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"
    REDEEMED = "redeemed"  # approved, and now consumed by this request


_STORE = use_once.Record(DeviceCode)  # False on a clash of codes: draw others
# A decision is taken once, while the code is pending and unexpired (the first one counts).
_PENDING = (DeviceCode.status == STATUS_PENDING, DeviceCode.expires_at > bindparam("now"))
_APPROVE = use_once.Spend(
    DeviceCode.device_code_hash,
    *_PENDING,
    status=STATUS_APPROVED,
    user_id=bindparam("by_user"),
    scope=bindparam("granted"),
    auth_time=bindparam("at"),
)
_DENY = use_once.Spend(
    DeviceCode.device_code_hash, *_PENDING, status=STATUS_DENIED, user_id=bindparam("by_user")
)
_REDEEM = use_once.Spend(
    DeviceCode.device_code_hash, DeviceCode.status == STATUS_APPROVED, status=STATUS_REDEEMED
)


@dataclass(frozen=True)
class IssuedCodes:
    """The codes of a new device authorization, shown this once (only digests are stored)."""

    device_code: str
    user_code: str  # normalised, e.g. "WDJBMJHT"
    expires_in: int
    interval: int

    @property
    def display_user_code(self) -> str:
        return display_user_code(self.user_code)


def normalize_user_code(typed: str) -> str:
    """What a person typed, as stored: upper case, without dashes and white space."""
    return "".join(ch for ch in typed.upper() if ch != "-" and not ch.isspace())


def display_user_code(code: str) -> str:
    """``WDJBMJHT`` → ``WDJB-MJHT`` (RFC 8628 §6.1: easier to read and type)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def is_well_formed(code: str) -> bool:
    return len(code) == USER_CODE_LENGTH and all(ch in USER_CODE_ALPHABET for ch in code)


def _new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def issue(client_id: str, scope: str, resources: Sequence[str] = ()) -> IssuedCodes:
    """Store a pending device authorization (RFC 8628 §3.2) and return its codes.

    ``resources``: the checked RFC 8707 resource indicators, granted with the approval."""
    config = settings()
    ttl, interval = int(config.device_code_ttl), int(config.device_poll_interval)
    for _ in range(ISSUE_ATTEMPTS):  # 20^8 codes: a clash with a stored one is very rare
        device_code, user_code = new_token(32), _new_user_code()
        now = utcnow()
        stored = _STORE(
            device_code_hash=hash_token(device_code),
            user_code_hash=hash_token(user_code),
            client_id=client_id,
            scope=scope,
            resource=" ".join(resources) or None,
            status=STATUS_PENDING,
            expires_at=now + timedelta(seconds=ttl),
            interval=interval,
            created_at=now,
        )
        if stored:
            db.session.commit()
            return IssuedCodes(device_code, user_code, ttl, interval)
    raise RuntimeError("no free user code after several attempts")


def find_pending(user_code: str) -> DeviceCode | None:
    """The pending, unexpired authorization a normalised user code names, if any."""
    if not is_well_formed(user_code):
        return None
    row = db.session.scalar(
        select(DeviceCode).where(DeviceCode.user_code_hash == hash_token(user_code))
    )
    if row is None or row.status != STATUS_PENDING or row.is_expired(utcnow()):
        return None
    return row


def approve(user_code: str, user: User, scope: str, auth_time: datetime) -> bool:
    """Approve a pending code for ``user`` with the scope they granted; False if it no longer
    waits for a decision. Creates the authorization the tokens will be issued under."""
    row = find_pending(user_code)
    if row is None:
        return False
    decided = _APPROVE(
        row.device_code_hash, now=utcnow(), by_user=user.id, granted=scope, at=auth_time
    )
    if not decided:
        return False
    client = db.session.get(Client, row.client_id)
    assert client is not None  # the row goes with its client (ON DELETE CASCADE)
    resources = row.resource.split() if row.resource else []
    record = authorizations.create_authorization(
        KIND_DEVICE_CODE, client, user, scope, auth_time, resources=resources
    )
    db.session.flush()
    row.authorization_id = record.id  # the tokens are issued under it
    consents.remember_consent(user.id, row.client_id, scope)  # "My apps" can revoke it
    audit.record("device.approved", user_id=user.id, client_id=row.client_id, detail=scope)
    db.session.commit()
    return True


def deny(user_code: str, user: User) -> bool:
    """Deny a pending code; False if it no longer waits for a decision."""
    row = find_pending(user_code)
    if row is None or not _DENY(row.device_code_hash, now=utcnow(), by_user=user.id):
        return False
    audit.record("device.denied", user_id=user.id, client_id=row.client_id)
    db.session.commit()
    return True


def poll(device_code: str, client_id: str) -> tuple[PollResult, DeviceCode | None]:
    """A token request with ``device_code`` (RFC 8628 §3.4, §3.5).

    An approved code is marked redeemed in the caller's transaction, which commits it with
    the tokens; a pending one records the poll and may tell the device to slow down.
    """
    if not device_code or len(device_code) > MAX_DEVICE_CODE_LENGTH:
        return PollResult.INVALID, None
    row = db.session.get(DeviceCode, hash_token(device_code))
    if row is None or row.client_id != client_id or row.status == STATUS_REDEEMED:
        return PollResult.INVALID, None
    now = utcnow()
    if row.is_expired(now):
        return PollResult.EXPIRED, row
    if row.status == STATUS_DENIED:
        return PollResult.DENIED, row
    if row.status == STATUS_PENDING:
        return _record_poll(row, now), row
    return (PollResult.REDEEMED if _redeem(row) else PollResult.INVALID), row


def _record_poll(row: DeviceCode, now: datetime) -> PollResult:
    """Pending: the poll passes if the device waited its interval, else the interval grows.

    The check and the new ``last_polled_at`` are one UPDATE, so of two polls arriving
    together only one can pass.
    """
    waited_since = now - timedelta(seconds=row.interval) + POLL_SLACK
    key = DeviceCode.device_code_hash == row.device_code_hash
    passed = db.session.execute(
        update(DeviceCode)
        .where(key, DeviceCode.interval == row.interval)
        .where(or_(DeviceCode.last_polled_at.is_(None), DeviceCode.last_polled_at <= waited_since))
        .values(last_polled_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if not passed:
        db.session.execute(
            update(DeviceCode)
            .where(key)
            .values(interval=DeviceCode.interval + SLOW_DOWN_STEP, last_polled_at=now)
        )
    db.session.commit()
    return PollResult.PENDING if passed else PollResult.SLOW_DOWN


def _redeem(row: DeviceCode) -> bool:
    """approved → redeemed, exactly once (not committed here)."""
    return _REDEEM(row.device_code_hash)
