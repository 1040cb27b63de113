"""The published JWK Set and key rotation through ``flask keys list|rotate|retire``.

Covers RFC 7517 §4-5 (JWK Set members), RFC 8725 §3.1, OpenID Connect Core §10.1.1 (rotation
with overlap), docs/security.md JW-08 and JW-09 (the CS oidcc-server-rotate-keys checks).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, import_key

from tests.lanes import Clock
from tests.oauth.helpers import OAuthActions, RegisteredClient

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def header_of(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return data


def published(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/jwks.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json  # type: ignore[assignment]
    return data


def kids(client: FlaskClient) -> set[str]:
    return {key["kid"] for key in published(client)["keys"]}


def key_table(app: Flask) -> dict[str, tuple[str, str]]:
    """``keys list`` as {kid: (alg, status)}."""
    result = cli(app, "keys", "list")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines() if line.strip()]
    return {row[0]: (row[1], row[2]) for row in rows}


def rotate(app: Flask, *extra: str) -> dict[str, str]:
    """``keys rotate``; returns {alg: new kid}."""
    result = cli(app, "keys", "rotate", *extra)
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines() if line.strip()]
    assert all(row[2] == "active" for row in rows), result.output
    return {row[1]: row[0] for row in rows}


def assert_jwks_is_public_with_distinct_kids(jwks: dict[str, Any]) -> None:
    keys = jwks["keys"]
    assert keys, "empty JWK Set"
    kid_list = [key.get("kid") for key in keys]
    assert all(isinstance(kid, str) and kid for kid in kid_list)
    assert len(set(kid_list)) == len(kid_list), f"duplicate kid in {kid_list}"
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key), f"private or symmetric material in {key['kid']}"
        assert key["use"] == "sig"
        assert (key["kty"], key["alg"]) in {("EC", "ES256"), ("RSA", "RS256")}
        if key["kty"] == "EC":
            assert key["crv"] == "P-256"
        else:
            modulus = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
            assert len(modulus) * 8 >= 2048
        assert import_key(key).is_private is False


# -- JW-08 --------------------------------------------------------------------------------------
def test_jwks_holds_only_public_signing_keys_with_distinct_kids_and_use_and_alg(
    client: FlaskClient,
) -> None:
    response = client.get("/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    jwks = response.json
    assert jwks is not None
    assert set(jwks) == {"keys"}
    assert_jwks_is_public_with_distinct_kids(jwks)
    assert {key["alg"] for key in jwks["keys"]} == {"ES256", "RS256"}


def test_jwks_stays_public_with_distinct_kids_after_rotations(
    app: Flask, client: FlaskClient
) -> None:
    published(client)
    rotate(app)
    rotate(app, "--alg", "ES256")
    jwks = published(client)
    assert_jwks_is_public_with_distinct_kids(jwks)
    assert len(jwks["keys"]) == 5  # ES256 x3, RS256 x2, none retired yet


def test_keys_list_never_prints_key_material(app: Flask, client: FlaskClient) -> None:
    published(client)
    result = cli(app, "keys", "list")
    assert result.exit_code == 0
    assert '"d"' not in result.output and "PRIVATE" not in result.output
    assert set(key_table(app)) == kids(client)


# -- JW-09 --------------------------------------------------------------------------------------
def test_rotation_keeps_the_old_key_published_and_its_tokens_valid(
    app: Flask, client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    before = oauth.tokens_for(conf, scope="openid profile")
    old_kid = header_of(before["access_token"])["kid"]
    assert header_of(before["id_token"])["kid"] == old_kid
    assert key_table(app)[old_kid] == ("ES256", "active")

    new = rotate(app)
    assert set(new) == {"ES256", "RS256"}
    assert new["ES256"] != old_kid

    assert {old_kid, new["ES256"]} <= kids(client)
    assert key_table(app)[old_kid] == ("ES256", "previous")
    assert key_table(app)[new["ES256"]] == ("ES256", "active")
    assert oauth.userinfo(before["access_token"]).status_code == 200
    introspection = oauth.introspect(conf, before["access_token"]).json
    assert introspection is not None and introspection["active"] is True
    keyset = KeySet.import_key_set(published(client))  # type: ignore[arg-type]
    jwt.decode(before["id_token"], keyset, algorithms=["ES256"])  # still verifiable

    after = oauth.tokens_for(conf, scope="openid profile")
    assert header_of(after["access_token"])["kid"] == new["ES256"]
    assert header_of(after["id_token"])["kid"] == new["ES256"]
    assert oauth.userinfo(after["access_token"]).status_code == 200


def test_retiring_the_old_key_ends_the_tokens_it_signed(
    app: Flask,
    client: FlaskClient,
    oauth: OAuthActions,
    conf: RegisteredClient,
    bob: Any,
    clock: Clock,
) -> None:
    before = oauth.tokens_for(conf, scope="openid profile offline_access")
    old_kid = header_of(before["access_token"])["kid"]
    new = rotate(app)
    after = oauth.tokens_for(conf, scope="openid profile")
    clock.advance(31)  # past the workers' active-key cache

    result = cli(app, "keys", "retire", old_kid)
    assert result.exit_code == 0, result.output
    assert old_kid in result.output

    response = oauth.userinfo(before["access_token"])
    assert response.status_code == 401
    assert response.json is not None and response.json["error"] == "invalid_token"
    assert oauth.introspect(conf, before["access_token"]).json == {"active": False}
    assert old_kid not in kids(client)
    assert key_table(app)[old_kid] == ("ES256", "retired")
    assert oauth.userinfo(after["access_token"]).status_code == 200
    # The grant itself is intact: its refresh token mints a token under the new key.
    refreshed = oauth.token(conf, grant_type="refresh_token", refresh_token=before["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    assert refreshed.json is not None
    assert header_of(refreshed.json["access_token"])["kid"] == new["ES256"]
    assert oauth.userinfo(refreshed.json["access_token"]).status_code == 200


def test_retiring_right_after_rotating_is_refused_with_the_wait(
    app: Flask, client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any,
    clock: Clock,
) -> None:  # fmt: skip
    """Workers cache the active key for 30 s: a key retired sooner may still sign new tokens."""
    token = oauth.tokens_for(conf)["access_token"]
    old_kid = header_of(token)["kid"]
    new = rotate(app, "--alg", "ES256")

    clock.advance(4)
    result = cli(app, "keys", "retire", old_kid)
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert f"key {new['ES256']} became the signing key 4 s ago" in result.output
    assert "for 26 s more; retry then or pass --force" in result.output
    assert key_table(app)[old_kid] == ("ES256", "previous")
    assert old_kid in kids(client)
    assert oauth.userinfo(token).status_code == 200

    clock.advance(20)
    result = cli(app, "keys", "retire", old_kid)
    assert result.exit_code != 0 and "for 6 s more" in result.output, result.output

    clock.advance(7)
    result = cli(app, "keys", "retire", old_kid)
    assert result.exit_code == 0, result.output
    assert key_table(app)[old_kid] == ("ES256", "retired")
    assert oauth.userinfo(token).status_code == 401


def test_force_retires_at_once(
    app: Flask, client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any,
    clock: Clock,
) -> None:  # fmt: skip
    token = oauth.tokens_for(conf)["access_token"]
    old_kid = header_of(token)["kid"]
    rotate(app)
    result = cli(app, "keys", "retire", old_kid, "--force")
    assert result.exit_code == 0, result.output
    assert key_table(app)[old_kid] == ("ES256", "retired")
    assert old_kid not in kids(client)
    assert oauth.userinfo(token).status_code == 401


def test_the_wait_counts_from_the_rotation_that_replaced_the_key(
    app: Flask, client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any,
    clock: Clock,
) -> None:  # fmt: skip
    """A key replaced long ago may be retired even right after a later rotation."""
    first = header_of(oauth.tokens_for(conf)["access_token"])["kid"]
    second = rotate(app, "--alg", "ES256")["ES256"]
    clock.advance(60)
    rotate(app, "--alg", "ES256")
    result = cli(app, "keys", "retire", first)
    assert result.exit_code == 0, result.output
    result = cli(app, "keys", "retire", second)
    assert result.exit_code != 0 and "for 30 s more" in result.output, result.output


def test_the_active_key_cannot_be_retired(
    app: Flask, client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = oauth.tokens_for(conf)["access_token"]
    active_kid = header_of(token)["kid"]
    result = cli(app, "keys", "retire", active_kid)
    assert result.exit_code != 0
    assert result.output.startswith("Error: ") and "active" in result.output
    assert key_table(app)[active_kid] == ("ES256", "active")
    assert active_kid in kids(client)
    assert oauth.userinfo(token).status_code == 200


def test_retiring_an_unknown_kid_fails_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    before = published(client)
    result = cli(app, "keys", "retire", "no-such-kid")
    assert result.exit_code != 0
    assert result.output.startswith("Error: ")
    assert published(client) == before


def test_rotating_one_algorithm_leaves_the_other_key_active(
    app: Flask, client: FlaskClient
) -> None:
    published(client)
    table = key_table(app)
    rsa_kid = next(kid for kid, (alg, _) in table.items() if alg == "RS256")
    new = rotate(app, "--alg", "ES256")
    assert set(new) == {"ES256"}
    assert key_table(app)[rsa_kid] == ("RS256", "active")
    assert key_table(app)[new["ES256"]] == ("ES256", "active")
