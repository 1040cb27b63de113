"""Sealing private signing keys at rest with a key-encryption key (KEK) kept out of the database.

A sealed row is ``{"kid": ..., "sealed": "v1.<kek id>.<base64url(nonce | ciphertext)>"}``:
AES-256-GCM with a random 96-bit nonce, the key's kid as associated data (a sealed blob
copied onto another row does not open), and the KEK derived with HKDF-SHA256 from the
configured secret. The KEK id (also HKDF-derived, so it says nothing about the key) lets
several KEKs be configured during a rotation: each row names the one that sealed it.
Rows written before sealing existed hold the private JWK in the clear; they still open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12
_KEY_INFO = b"tessera signing-key encryption v1"
_ID_INFO = b"tessera signing-key encryption id v1"


class KeySealError(Exception):
    """A sealed key that no configured KEK opens, or a blob that is not ours."""


def _hkdf(secret: str, length: int, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=length, salt=None, info=info).derive(secret.encode())


@dataclass(frozen=True)
class Kek:
    id: str
    aead: AESGCM

    @classmethod
    def derive(cls, secret: str) -> Kek:
        return cls(_hkdf(secret, 4, _ID_INFO).hex(), AESGCM(_hkdf(secret, 32, _KEY_INFO)))


def is_plaintext(stored: Mapping[str, Any]) -> bool:
    return "sealed" not in stored


def sealed_by(stored: Mapping[str, Any]) -> str | None:
    """The id of the KEK that sealed ``stored``; None for a plaintext row."""
    if is_plaintext(stored):
        return None
    parts = str(stored["sealed"]).split(".")
    return parts[1] if len(parts) == 3 else ""


@dataclass(frozen=True)
class KeyRing:
    """The current KEK (seals) and the previous ones (still open rows during a rotation)."""

    current: Kek
    previous: tuple[Kek, ...] = ()

    @classmethod
    def from_secrets(cls, current: str, previous: Iterable[str] = ()) -> KeyRing:
        return cls(Kek.derive(current), tuple(Kek.derive(secret) for secret in previous))

    def seal(self, private_jwk: Mapping[str, Any], kid: str) -> dict[str, Any]:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(dict(private_jwk), separators=(",", ":")).encode()
        blob = nonce + self.current.aead.encrypt(nonce, plaintext, kid.encode())
        encoded = base64.urlsafe_b64encode(blob).decode().rstrip("=")
        return {"kid": kid, "sealed": f"{VERSION}.{self.current.id}.{encoded}"}

    def open(self, stored: Mapping[str, Any], kid: str) -> dict[str, Any]:
        """The private JWK of row ``kid``; raises KeySealError if no configured KEK opens it."""
        if is_plaintext(stored):
            return dict(stored)
        kek_id, encoded = _split(stored["sealed"], kid)
        try:
            blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise KeySealError(f"signing key {kid} is not a sealed key") from None
        for kek in (self.current, *self.previous):
            if kek.id != kek_id:
                continue
            try:
                plaintext = kek.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], kid.encode())
            except InvalidTag:
                continue
            jwk: dict[str, Any] = json.loads(plaintext)
            return jwk
        raise KeySealError(
            f"cannot decrypt signing key {kid}: it was sealed with key-encryption key {kek_id}, "
            f"which is neither KEY_ENCRYPTION_KEY ({self.current.id}) nor one of "
            "KEY_ENCRYPTION_KEYS_OLD"
        )

    def is_current(self, stored: Mapping[str, Any]) -> bool:
        return sealed_by(stored) == self.current.id


def _split(sealed: Any, kid: str) -> tuple[str, str]:
    """(KEK id, payload) of a ``v1.<kek id>.<payload>`` string."""
    parts = str(sealed).split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise KeySealError(f"signing key {kid} is sealed in an unknown format")
    return parts[1], parts[2]
