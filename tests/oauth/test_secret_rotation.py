"""Rotating a client secret with a grace period: both secrets work until it ends."""

from __future__ import annotations

import json
from dataclasses import replace

from flask import Flask

from tests.lanes import Clock
from tests.oauth.helpers import OAuthActions, RegisteredClient


def rotate(app: Flask, client_id: str, *extra: str) -> str:
    result = app.test_cli_runner().invoke(args=["clients", "rotate-secret", client_id, *extra])
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["client_secret"])


def works(oauth: OAuthActions, client: RegisteredClient, secret: str | None) -> bool:
    response = oauth.token(replace(client, client_secret=secret), grant_type="client_credentials")
    return response.status_code == 200


def test_old_secret_works_during_the_grace_period_and_not_after(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient, clock: Clock
) -> None:
    new = rotate(app, cc.client_id, "--grace", "1")
    assert works(oauth, cc, new)
    assert works(oauth, cc, cc.client_secret)
    clock.advance(1.2)
    assert works(oauth, cc, new)
    assert not works(oauth, cc, cc.client_secret)


def test_without_grace_the_old_secret_stops_at_once(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    new = rotate(app, cc.client_id)
    assert works(oauth, cc, new) and not works(oauth, cc, cc.client_secret)


def test_a_second_rotation_ends_the_first_secret(
    app: Flask, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    second = rotate(app, cc.client_id, "--grace", "600")
    third = rotate(app, cc.client_id, "--grace", "600")
    assert works(oauth, cc, third) and works(oauth, cc, second)
    assert not works(oauth, cc, cc.client_secret)


def test_a_grace_period_outside_the_range_is_refused(app: Flask, cc: RegisteredClient) -> None:
    for grace in ("-1", str(31 * 24 * 3600)):
        result = app.test_cli_runner().invoke(
            args=["clients", "rotate-secret", cc.client_id, "--grace", grace]
        )
        assert result.exit_code != 0
        assert "grace period must be 0 to 2592000 seconds" in result.output
