"""Refresh rotation under a race, through gunicorn (4 workers), on SQLite and PostgreSQL.

RFC 9700 §4.14.2, docs/security.md RL-02 and RT-02: of many uses of one refresh token sent at
once, exactly one is answered with tokens (someone always spends it first; nobody spends it
twice), every other one is invalid_grant, the reuse revokes the whole grant, and the reuse
is in the audit trail.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask

from app.extensions import db
from app.models import AuditEvent
from tests.live import LiveServer
from tests.oauth.helpers import OAuthActions, RegisteredClient
from tests.reliability.test_races import (
    OFFLINE,
    assert_authorization_revoked,
    assert_token_error,
    is_active,
    post_token,
    redemption,
    tally,
    token_race,
)

pytestmark = [pytest.mark.reliability, pytest.mark.live]


def reuse_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.query(AuditEvent).filter_by(kind="refresh_token.reused"))


def test_one_refresh_token_sent_twenty_times_at_once_mints_exactly_once_and_is_audited(
    app: Flask,
    oauth: OAuthActions,
    conf: RegisteredClient,
    rs: RegisteredClient,
    bob: Any,
    live4: LiveServer,
) -> None:
    with requests.Session() as http:
        first = post_token(
            http, live4, conf, **redemption(conf, oauth.approve(conf, scope=OFFLINE))
        )
    assert first.status_code == 200, first.text
    tokens = first.json()

    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    responses = token_race(20, live4, conf, form)
    successes = [r for r in responses if r.status_code == 200]
    assert len(successes) == 1, (tally(responses), live4.log()[-3000:])
    for response in responses:
        if response.status_code != 200:
            assert_token_error(response, "invalid_grant")
    # The losers revoked the grant: the winner's tokens and the first ones are dead too.
    assert_authorization_revoked(live4, conf, rs, successes[0].json())
    assert not is_active(live4, rs, tokens["access_token"])
    events = reuse_events(app)
    assert events, "the reuse was not audited"
    assert {(event.user_id, event.client_id) for event in events} == {(bob.id, conf.client_id)}
