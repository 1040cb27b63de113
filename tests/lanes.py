"""The two test lanes, and what makes the fast one fast (the hooks are in tests/conftest.py).

``make test`` runs everything (CI). ``make check`` is ``pytest --fast -n 2``: SQLite only,
nothing that starts gunicorn, drives a browser, fuzzes, races, or needs Redis. The lane is
chosen by markers, so a new test joins it unless it is marked out of it.

Also here: the cheap password hasher for test users and the movable test clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import pytest
import time_machine
from argon2 import PasswordHasher
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from app import security

# Markers kept out of the fast lane. ``postgresql`` and ``live`` are also set by collection
# (the PostgreSQL parameter of ``database_url``, and tests using a live-server fixture).
SLOW_MARKERS = ("live", "browser", "fuzz", "reliability", "redis", "postgresql")
FAST_LANE = " and ".join(f"not {marker}" for marker in SLOW_MARKERS)
LIVE_FIXTURES = frozenset({"live_server", "live4", "live_server_factory"})
# In the fast lane these are ignored even when set: the lane is SQLite and in-process only.
BACKEND_VARIABLES = ("TEST_DATABASE_URL", "TEST_REDIS_URL")
LANE_VARIABLE = "TESSERA_TEST_LANE"


def in_fast_lane() -> bool:
    return os.environ.get(LANE_VARIABLE) == "fast"


# -- cheap password hashing -----------------------------------------------------------------
# argon2id at its minimum cost: the same code path and hash format, microseconds a hash.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def cheap_password_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap the hasher of ``app.security`` for this test (``raising``: a rename fails loudly)."""
    monkeypatch.setattr(security, "_hasher", CHEAP_HASHER)
    monkeypatch.setattr(security, "_dummy_hash", _cheap_dummy_hash)


@cache
def _cheap_dummy_hash() -> str:
    return CHEAP_HASHER.hash("not anyone's password")


# -- templates compiled once per run --------------------------------------------------------
class MemoryBytecodeCache(BytecodeCache):
    """Every test builds a new app, and each app's Jinja environment compiled every template it
    rendered again (~20% of an in-process test's CPU). Buckets check the source's checksum."""

    def __init__(self) -> None:
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.codes[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_BYTECODE = MemoryBytecodeCache()


# -- the test clock ---------------------------------------------------------------------------
@dataclass
class Clock:
    """Moves wall-clock time (time-machine, seen by authlib and joserfc too) and monotonic time.

    Real time keeps ticking underneath; ``advance`` only ever jumps forward.
    """

    traveller: time_machine.Traveller
    offset: float = 0.0

    @classmethod
    @contextmanager
    def started(cls, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
        with time_machine.travel(time.time(), tick=True) as traveller:
            clock = cls(traveller)
            real_monotonic = time.monotonic
            monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + clock.offset)
            yield clock

    def advance(self, seconds: float) -> None:
        assert seconds > 0, "the clock only moves forward"
        self.traveller.shift(seconds)
        self.offset += seconds
