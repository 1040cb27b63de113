"""The signing key store: ES256 for access and ID tokens, RS256 for clients that ask for it.

Keys live in the database so every worker and host signs and verifies with the same set.
The first token signed creates the keys. ``rotate`` makes a new key active (new tokens use it)
and keeps the old one as ``previous`` (tokens it signed stay valid); ``retire`` ends a key.
Private parts are stored sealed (``key_encryption``); ``rewrap`` re-seals them with the
current key-encryption key. Parsed keys are cached per app by ``kid`` (a kid's key material
never changes), so a key is decrypted once per worker, not once per token.
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from joserfc.jwk import ECKey, Key, KeySet, RSAKey, import_key
from sqlalchemy import select, update

from app.errors import ValidationError
from app.extensions import db
from app.models import SigningKey
from app.models.signing_key import STATUS_ACTIVE, STATUS_PREVIOUS, STATUS_RETIRED
from app.models.types import utcnow
from app.services import audit
from app.services.key_encryption import KeyRing, KeySealError, is_plaintext
from app.settings import settings

SUPPORTED_ALGS = ("ES256", "RS256")
ACTIVE_KEY_CACHE_SECONDS = 30


def _generate(alg: str) -> SigningKey:
    key: Key = (
        ECKey.generate_key("P-256", private=True)
        if alg == "ES256"
        else RSAKey.generate_key(2048, private=True)
    )
    # The RFC 7638 thumbprint, as hex: a base64url kid can start with "-", which command
    # lines read as an option ("keys retire KID").
    kid = base64.urlsafe_b64decode(key.thumbprint() + "==").hex()[:40]
    public = key.as_dict(private=False) | {"kid": kid, "alg": alg, "use": "sig"}
    private = key.as_dict(private=True) | {"kid": kid, "alg": alg, "use": "sig"}
    sealed = key_ring().seal(private, kid)
    return SigningKey(kid=kid, alg=alg, status=STATUS_ACTIVE, private_jwk=sealed, public_jwk=public)


def key_ring() -> KeyRing:
    """KEY_ENCRYPTION_KEY (SECRET_KEY when unset) seals; KEY_ENCRYPTION_KEYS_OLD still open."""
    ring: KeyRing | None = current_app.extensions.get("signing_key_ring")
    if ring is None:
        config = settings()
        current = config.key_encryption_key or config.secret_key
        ring = KeyRing.from_secrets(current, config.key_encryption_keys_old)
        current_app.extensions["signing_key_ring"] = ring
    return ring


def _parsed() -> dict[str, Key]:
    cache: dict[str, Key] = current_app.extensions.setdefault("parsed_signing_keys", {})
    return cache


def _parse(row: SigningKey) -> Key:
    """The key of ``row``, decrypted and parsed on first use, then from the cache."""
    cache = _parsed()
    key = cache.get(row.kid)
    if key is None:
        key = import_key(key_ring().open(row.private_jwk, row.kid))
        cache[row.kid] = key
    return key


def active_key(alg: str = "ES256") -> tuple[str, Key]:
    """The key that signs new tokens of ``alg``; created on first use.

    Remembered per worker for ACTIVE_KEY_CACHE_SECONDS (a query per token issued cost ~0.2
    ms). After ``keys rotate`` other workers go on signing with the previous key, which
    stays valid, for at most that long; the worker that rotates switches at once.
    """
    cache: dict[str, tuple[float, str, Key]] = current_app.extensions.setdefault(
        "active_signing_keys", {}
    )
    cached = cache.get(alg)
    if cached is not None and time.monotonic() - cached[0] < ACTIVE_KEY_CACHE_SECONDS:
        return cached[1], cached[2]
    row = db.session.scalar(
        select(SigningKey)
        .where(SigningKey.alg == alg, SigningKey.status == STATUS_ACTIVE)
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    )
    if row is None:
        row = _generate(alg)
        db.session.add(row)
        db.session.commit()
    cache[alg] = (time.monotonic(), row.kid, _parse(row))
    return row.kid, cache[alg][2]


def _forget_active_keys() -> None:
    current_app.extensions.pop("active_signing_keys", None)


def verification_key(kid: str) -> Key | None:
    """The parsed key for ``kid``, or None if there is no such key.

    A cached key is returned without a query: whether it was retired since is checked by
    the caller (``tokens.check_access_token`` folds it into its one validation query).
    """
    cached = _parsed().get(kid)
    if cached is not None:
        return cached
    row = db.session.get(SigningKey, kid) if 0 < len(kid) <= 64 else None
    if row is None or row.status == STATUS_RETIRED:
        return None
    return _parse(row)


def public_jwks() -> dict[str, Any]:
    """The JWK Set to publish: public parts of every key that is not retired."""
    for alg in SUPPORTED_ALGS:
        active_key(alg)
    rows = db.session.scalars(
        select(SigningKey)
        .where(SigningKey.status != STATUS_RETIRED)
        .order_by(SigningKey.created_at)
    )
    return {"keys": [row.public_jwk for row in rows]}


def list_keys() -> list[SigningKey]:
    return list(db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


def rotate(algs: tuple[str, ...] = SUPPORTED_ALGS) -> list[SigningKey]:
    """New active keys for ``algs``; the ones they replace stay valid as ``previous``."""
    created = []
    for alg in algs:
        db.session.execute(
            update(SigningKey)
            .where(SigningKey.alg == alg, SigningKey.status == STATUS_ACTIVE)
            .values(status=STATUS_PREVIOUS)
        )
        row = _generate(alg)
        db.session.add(row)
        audit.record("key.rotated", detail=f"{alg} key {row.kid} now signs")
        created.append(row)
    db.session.commit()
    _forget_active_keys()
    return created


def _successor(row: SigningKey) -> SigningKey | None:
    """The key of ``row``'s algorithm that replaced it as the signing key (the next one made)."""
    return db.session.scalar(
        select(SigningKey)
        .where(SigningKey.alg == row.alg, SigningKey.created_at > row.created_at)
        .order_by(SigningKey.created_at)
        .limit(1)
    )


def retire(kid: str, *, force: bool = False) -> SigningKey:
    """Stop trusting a key: tokens it signed fail at once. The active key cannot be retired.

    Nor, unless ``force``, a key replaced less than ACTIVE_KEY_CACHE_SECONDS ago: workers that
    cached it as the active key may still sign new tokens with it, which would be dead on
    arrival once it is retired.
    """
    row = db.session.get(SigningKey, kid)
    if row is None:
        raise ValidationError(f"no key with kid {kid!r}")
    if row.status == STATUS_ACTIVE:
        raise ValidationError(f"key {kid!r} is active; rotate first, then retire it")
    successor = _successor(row) if row.status == STATUS_PREVIOUS and not force else None
    if successor is not None:
        age = (utcnow() - successor.created_at).total_seconds()
        if age < ACTIVE_KEY_CACHE_SECONDS:
            wait = max(1, math.ceil(ACTIVE_KEY_CACHE_SECONDS - age))
            raise ValidationError(
                f"key {successor.kid} became the signing key {max(0, int(age))} s ago; "
                f"workers may sign with the old key for {wait} s more; retry then or pass --force"
            )
    row.status = STATUS_RETIRED
    row.retired_at = utcnow()
    audit.record("key.retired", detail=f"{row.alg} key {kid} no longer verifies")
    db.session.commit()
    return row


def key_set(rows: list[SigningKey]) -> KeySet:
    return KeySet([_parse(row) for row in rows])


@dataclass(frozen=True)
class SealingReport:
    plaintext: int  # rows written before sealing existed
    old_kek: int  # rows sealed with a KEY_ENCRYPTION_KEYS_OLD entry


def check_sealing() -> SealingReport:
    """Open every key still in use once, so a wrong KEK fails the start, not a request.

    The keys go into the parse cache, so the workers (forked after ``--preload``) neither
    decrypt nor parse them again. Raises KeySealError naming the first key no configured KEK
    opens. Retired keys verify nothing and are not opened; their plaintext still counts.
    """
    ring = key_ring()
    plaintext = old = 0
    for row in list_keys():
        if row.status != STATUS_RETIRED:
            _parse(row)
        if is_plaintext(row.private_jwk):
            plaintext += 1
        elif row.status != STATUS_RETIRED:
            old += not ring.is_current(row.private_jwk)
    return SealingReport(plaintext=plaintext, old_kek=old)


@dataclass(frozen=True)
class RewrapResult:
    kek_id: str
    sealed: int
    were_plaintext: int
    already_current: int
    skipped: list[str]  # retired keys no configured KEK opens (they verify nothing)


def rewrap() -> RewrapResult:
    """Seal every key with the current KEK: plaintext rows and rows sealed with an old KEK.

    Raises KeySealError, changing nothing, if a key in use cannot be opened.
    """
    ring = key_ring()
    sealed = plaintext = current = 0
    skipped = []
    for row in list_keys():
        if ring.is_current(row.private_jwk):
            current += 1
            continue
        try:
            private = ring.open(row.private_jwk, row.kid)
        except KeySealError:
            if row.status != STATUS_RETIRED:
                db.session.rollback()
                raise
            skipped.append(row.kid)
            continue
        plaintext += is_plaintext(row.private_jwk)
        row.private_jwk = ring.seal(private, row.kid)
        sealed += 1
    if sealed:
        audit.record("key.rewrapped", detail=f"{sealed} keys sealed with KEK {ring.current.id}, "
                     f"{plaintext} of them were plaintext")  # fmt: skip
    db.session.commit()
    return RewrapResult(ring.current.id, sealed, plaintext, current, skipped)
