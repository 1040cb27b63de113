"""Passwords are stored with argon2id at OWASP's parameters; weaker hashes are upgraded.

These tests are ``real_hasher``: every other test's users get argon2id at minimal cost
(tests/lanes.py), which these tests also prove is a test-only swap.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.factories import UserFactory
from tests.helpers import AuthActions
from tests.lanes import CHEAP_HASHER

OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"  # m=19 MiB, t=2, p=1
CHEAP_PREFIX = "$argon2id$v=19$m=8,t=1,p=1$"


def stored_hash(app: Flask, username: str) -> str:
    with app.app_context():
        return db.session.scalar(select(User.password_hash).where(User.username == username))


def store_hash(app: Flask, username: str, password_hash: str) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        user.password_hash = password_hash
        db.session.commit()


@pytest.mark.real_hasher
def test_a_new_users_password_is_stored_with_argon2id_at_owasp_parameters(
    app: Flask, users: UserFactory
) -> None:
    users.create("carol")
    assert stored_hash(app, "carol").startswith(OWASP_PREFIX)


@pytest.mark.real_hasher
def test_a_weaker_hash_is_upgraded_at_the_next_sign_in(
    app: Flask, users: UserFactory, auth: AuthActions
) -> None:
    users.create("bob")
    store_hash(app, "bob", CHEAP_HASHER.hash("correct horse battery staple"))

    assert auth.login().status_code == 303
    assert stored_hash(app, "bob").startswith(OWASP_PREFIX)


@pytest.mark.real_hasher
def test_a_wrong_password_against_a_weaker_hash_is_refused_and_not_upgraded(
    app: Flask, users: UserFactory, auth: AuthActions
) -> None:
    users.create("bob")
    weak = CHEAP_HASHER.hash("correct horse battery staple")
    store_hash(app, "bob", weak)

    assert auth.login(password="not the password").status_code == 200
    assert stored_hash(app, "bob") == weak


def test_other_tests_users_get_the_cheap_test_hasher(
    app: Flask, bob: Any, auth: AuthActions, password_hasher: str
) -> None:
    assert password_hasher == "cheap"
    assert stored_hash(app, "bob").startswith(CHEAP_PREFIX)
    assert auth.login().status_code == 303
    assert stored_hash(app, "bob").startswith(CHEAP_PREFIX)  # no upgrade to the test cost
