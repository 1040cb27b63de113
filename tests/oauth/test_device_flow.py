"""RFC 8628 device authorization grant, through the test client.

Covers §3.1/§3.2 (device authorization request and response), §3.3 (verification page,
verification_uri_complete), §3.4 (token request), §3.5 (authorization_pending, slow_down,
access_denied, expired_token), §5.1 (user code brute forcing), §5.4 (consent every time,
user code shown), §6.1 (user code alphabet), and single redemption of a device code.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from joserfc.jwk import ECKey
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, DeviceCode
from app.security import hash_token
from tests.factories import UserFactory
from tests.helpers import csrf_token_from, reconfigure
from tests.oauth.device_helpers import (
    DEVICE_GRANT,
    USER_CODE,
    DeviceActions,
    register_device_client,
)
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient

ISSUER = "http://127.0.0.1:5000"


@pytest.fixture
def device(oauth: OAuthActions, app: Flask) -> DeviceActions:
    return DeviceActions(oauth, app)


@pytest.fixture
def tv(clients: ClientFactory) -> RegisteredClient:
    return register_device_client(clients)


@pytest.fixture
def conf_tv(clients: ClientFactory) -> RegisteredClient:
    """A confidential device client (client_secret_basic)."""
    return register_device_client(clients, token_endpoint_auth_method="client_secret_basic")


def error_of(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return str(response.json["error"])


def stored(app: Flask, device_code: str) -> DeviceCode:
    with app.app_context():
        row = db.session.get(DeviceCode, hash_token(device_code))
        assert row is not None
        db.session.expunge(row)
        return row


# -- §3.1 / §3.2 device authorization ------------------------------------------------


def test_device_authorization_response_has_every_rfc_8628_field(
    device: DeviceActions, tv: RegisteredClient
) -> None:
    response = device.authorize(tv, scope="openid photos.read")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json
    assert data is not None
    assert USER_CODE.match(data["user_code"]), data["user_code"]
    assert data["verification_uri"] == f"{ISSUER}/device"
    assert data["verification_uri_complete"] == (
        f"{ISSUER}/device?user_code={data['user_code'].replace('-', '')}"
    )
    assert data["expires_in"] == 600
    assert data["interval"] == 5
    assert len(data["device_code"]) >= 40
    second = device.start(tv)
    assert {second["device_code"], second["user_code"]}.isdisjoint(
        {data["device_code"], data["user_code"]}
    )


def test_codes_are_stored_as_digests_only(
    app: Flask, device: DeviceActions, tv: RegisteredClient
) -> None:
    data = device.start(tv)
    with app.app_context():
        row = db.session.scalars(select(DeviceCode)).one()
    assert row.device_code_hash == hash_token(data["device_code"])
    assert row.user_code_hash == hash_token(data["user_code"].replace("-", ""))
    assert data["user_code"].replace("-", "") not in repr(vars(row))


def test_settings_set_lifetime_and_interval(
    app: Flask, device: DeviceActions, tv: RegisteredClient
) -> None:
    reconfigure(app, DEVICE_CODE_TTL=120, DEVICE_POLL_INTERVAL=9)
    data = device.start(tv)
    assert (data["expires_in"], data["interval"]) == (120, 9)


def test_scope_defaults_to_the_registered_scope(
    app: Flask, device: DeviceActions, tv: RegisteredClient
) -> None:
    data = device.start(tv)
    assert stored(app, data["device_code"]).scope == tv.metadata["scope"]


@pytest.mark.parametrize("scope", ["photos.write", "openid nonsense"])
def test_scope_beyond_the_clients_is_invalid_scope(
    device: DeviceActions, tv: RegisteredClient, scope: str
) -> None:
    assert error_of(device.authorize(tv, scope=scope)) == "invalid_scope"


def test_client_without_the_device_grant_is_unauthorized_client(
    device: DeviceActions, conf: RegisteredClient
) -> None:
    assert error_of(device.authorize(conf)) == "unauthorized_client"


def test_confidential_client_must_authenticate_its_registered_way(
    device: DeviceActions, oauth: OAuthActions, conf_tv: RegisteredClient
) -> None:
    assert device.authorize(conf_tv).status_code == 200
    wrong = RegisteredClient(conf_tv.client_id, "wrong", conf_tv.metadata)
    assert error_of(device.authorize(wrong), 401) == "invalid_client"
    id_only = oauth.http.post("/device_authorization", data={"client_id": conf_tv.client_id})
    assert error_of(id_only, 401) == "invalid_client"
    posted = oauth.http.post(
        "/device_authorization",
        data={"client_id": conf_tv.client_id, "client_secret": conf_tv.client_secret},
    )  # client_secret_post is not its registered method
    assert error_of(posted, 401) == "invalid_client"


def test_unknown_client_is_invalid_client(device: DeviceActions, oauth: OAuthActions) -> None:
    response = oauth.http.post("/device_authorization", data={"client_id": "nope"})
    assert error_of(response, 401) == "invalid_client"


def test_device_authorization_follows_the_token_endpoints_form_rules(
    oauth: OAuthActions, tv: RegisteredClient
) -> None:
    as_json = oauth.http.post("/device_authorization", json={"client_id": tv.client_id})
    assert error_of(as_json) == "invalid_request"
    twice = oauth.http.post(
        "/device_authorization",
        data={"client_id": tv.client_id, "scope": ["openid", "profile"]},
    )
    assert error_of(twice) == "invalid_request"
    assert oauth.http.get("/device_authorization").status_code == 405


# -- the whole flow --------------------------------------------------------------------


def test_happy_path_pending_then_tokens_once(
    app: Flask, device: DeviceActions, oauth: OAuthActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv, scope="openid profile offline_access photos.read")
    assert error_of(device.poll(tv, data["device_code"])) == "authorization_pending"

    entered = device.enter(data["user_code"])
    assert entered.status_code == 303
    assert entered.headers["Location"] == (
        f"/login?next=%2Fdevice%3Fuser_code%3D{data['user_code'].replace('-', '')}"
    )
    page = device.consent_page(data["user_code"])
    html = page.get_data(as_text=True)
    assert "Photo Frame" in html and data["user_code"] in html
    decided = device.decide(page)
    assert decided.status_code == 303 and decided.headers["Location"] == "/device/done"
    done = device.http.get("/device/done").get_data(as_text=True)
    assert "You can return to your device" in done and "Photo Frame" in done
    assert device.http.get("/device/done").status_code == 302  # shown once

    device.wait_interval(data["device_code"])
    issued = device.poll(tv, data["device_code"])
    assert issued.status_code == 200, issued.get_data(as_text=True)
    assert issued.headers["Cache-Control"] == "no-store"
    token = issued.json
    assert token is not None
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "openid profile offline_access photos.read"
    assert "refresh_token" in token
    me = oauth.userinfo(token["access_token"])
    assert me.status_code == 200 and me.json["preferred_username"] == "bob"
    refreshed = oauth.token(tv, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refreshed.status_code == 200

    # A device code is redeemed once.
    device.wait_interval(data["device_code"])
    assert error_of(device.poll(tv, data["device_code"])) == "invalid_grant"


def test_no_refresh_token_without_offline_access(
    device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv, scope="openid photos.read")
    device.approve(data["user_code"])
    token = device.poll(tv, data["device_code"]).json
    assert token is not None and "refresh_token" not in token
    assert token["scope"] == "openid photos.read"


def test_confidential_device_client_polls_with_its_secret(
    device: DeviceActions, conf_tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(conf_tv)
    device.approve(data["user_code"])
    wrong = RegisteredClient(conf_tv.client_id, "wrong", conf_tv.metadata)
    assert error_of(device.poll(wrong, data["device_code"]), 401) == "invalid_client"
    assert device.poll(conf_tv, data["device_code"]).status_code == 200


def test_unticked_scopes_are_not_granted(
    device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv, scope="openid profile photos.read")
    device.approve(data["user_code"], granted=["photos.read"])
    token = device.poll(tv, data["device_code"]).json
    assert token is not None and token["scope"] == "openid photos.read"


def test_allow_with_nothing_ticked_is_refused(
    app: Flask, device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv, scope="photos.read profile")
    response = device.decide(device.consent_page(data["user_code"]), granted=[])
    assert response.status_code == 400
    assert stored(app, data["device_code"]).status == "pending"


# -- §3.5 errors -----------------------------------------------------------------------


def test_slow_down_grows_this_device_codes_interval_by_five_seconds(
    device: DeviceActions, tv: RegisteredClient
) -> None:
    data = device.start(tv)
    other = device.start(tv)
    code = data["device_code"]
    assert error_of(device.poll(tv, code)) == "authorization_pending"
    assert error_of(device.poll(tv, code)) == "slow_down"  # interval now 10 s
    device.wait_interval(code, seconds=7)  # enough for 5 s, not for 10 s
    assert error_of(device.poll(tv, code)) == "slow_down"  # interval now 15 s
    device.wait_interval(code, seconds=12)
    assert error_of(device.poll(tv, code)) == "slow_down"  # interval now 20 s
    device.wait_interval(code, seconds=21)
    assert error_of(device.poll(tv, code)) == "authorization_pending"
    # Another device code of the same client keeps the configured interval.
    assert error_of(device.poll(tv, other["device_code"])) == "authorization_pending"
    device.wait_interval(other["device_code"], seconds=6)
    assert error_of(device.poll(tv, other["device_code"])) == "authorization_pending"


def test_denied_is_access_denied_and_audited(
    app: Flask, device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv)
    done = device.approve(data["user_code"], decision="deny")
    assert "You denied access" in done.get_data(as_text=True)
    assert error_of(device.poll(tv, data["device_code"])) == "access_denied"
    device.wait_interval(data["device_code"])
    assert error_of(device.poll(tv, data["device_code"])) == "access_denied"
    with app.app_context():
        kinds = db.session.scalars(select(AuditEvent.kind)).all()
    assert "device.denied" in kinds and "device.approved" not in kinds


def test_approval_is_audited(
    app: Flask, device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    device.approve(device.start(tv, scope="openid photos.read")["user_code"])
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "device.approved")
        ).one()
    assert (event.user_id, event.client_id, event.detail) == (
        bob.id,
        tv.client_id,
        "openid photos.read",
    )


@pytest.mark.parametrize("decided", [None, "allow", "deny"])
def test_expired_device_code_is_expired_token(
    device: DeviceActions, tv: RegisteredClient, bob: Any, decided: str | None
) -> None:
    data = device.start(tv)
    if decided:
        device.approve(data["user_code"], decision=decided)
    device.expire(data["device_code"])
    assert error_of(device.poll(tv, data["device_code"])) == "expired_token"


def test_unknown_or_another_clients_device_code_is_invalid_grant(
    device: DeviceActions, tv: RegisteredClient, clients: ClientFactory, bob: Any
) -> None:
    data = device.start(tv)
    device.approve(data["user_code"])
    other = register_device_client(clients, client_name="Other TV")
    assert error_of(device.poll(other, data["device_code"])) == "invalid_grant"
    assert error_of(device.poll(tv, "not-a-device-code")) == "invalid_grant"
    assert error_of(device.poll(tv, "x" * 5000)) == "invalid_grant"
    # The other client's attempt did not use the code up.
    assert device.poll(tv, data["device_code"]).status_code == 200


def test_missing_device_code_is_invalid_request(
    device: DeviceActions, oauth: OAuthActions, tv: RegisteredClient
) -> None:
    assert error_of(oauth.token(tv, grant_type=DEVICE_GRANT)) == "invalid_request"


def test_client_without_the_device_grant_cannot_poll(
    device: DeviceActions, tv: RegisteredClient, pub: RegisteredClient
) -> None:
    data = device.start(tv)
    assert error_of(device.poll(pub, data["device_code"])) == "unauthorized_client"


def test_user_disabled_after_approval_is_invalid_grant(
    device: DeviceActions, tv: RegisteredClient, users: UserFactory, bob: Any
) -> None:
    data = device.start(tv)
    device.approve(data["user_code"])
    users.disable("bob")
    assert error_of(device.poll(tv, data["device_code"])) == "invalid_grant"


def test_access_revoked_in_my_apps_before_redemption_is_invalid_grant(
    device: DeviceActions, oauth: OAuthActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv)
    device.approve(data["user_code"])
    page = oauth.http.get("/account/apps").get_data(as_text=True)
    assert "Photo Frame" in page
    revoked = oauth.http.post(
        f"/account/apps/{tv.client_id}/revoke",
        data={"csrf_token": csrf_token_from(page), "confirm": "yes"},
    )
    assert revoked.status_code in (302, 303)
    assert error_of(device.poll(tv, data["device_code"])) == "invalid_grant"


# -- the verification page -------------------------------------------------------------


def test_verification_page_has_a_code_field_prefilled_from_the_complete_uri(
    device: DeviceActions, tv: RegisteredClient
) -> None:
    data = device.start(tv)
    plain = device.http.get("/device").get_data(as_text=True)
    assert '<label for="user_code">Code</label>' in plain
    assert ">Continue</button>" in plain
    prefilled = device.http.get(data["verification_uri_complete"].removeprefix(ISSUER))
    assert f'value="{data["user_code"]}"' in prefilled.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["{lower}", " {spaced} ", "{plain}"])
def test_user_code_is_case_insensitive_and_ignores_dashes_and_spaces(
    device: DeviceActions, tv: RegisteredClient, bob: Any, typed: str
) -> None:
    data = device.start(tv)
    code = data["user_code"]
    device.oauth.sign_in("bob")
    variants = {
        "lower": code.lower(),
        "spaced": f"{code[:2]} {code[2:4]} - {code[5:]}".lower(),
        "plain": code.replace("-", ""),
    }
    response = device.enter(typed.format(**variants))
    assert response.status_code == 200
    assert code in response.get_data(as_text=True)


def test_unknown_and_expired_codes_show_the_page_again_with_a_message(
    device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    for typed in ("BBBB-BBBB", "hello", ""):
        response = device.enter(typed)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "That code is not valid, or it has expired" in html
        assert '<label for="user_code">Code</label>' in html
    data = device.start(tv)
    device.expire(data["device_code"])
    assert device.enter(data["user_code"]).status_code == 400


def test_code_entry_needs_the_csrf_token(device: DeviceActions, tv: RegisteredClient) -> None:
    data = device.start(tv)
    response = device.http.post("/device", data={"user_code": data["user_code"]})
    assert response.status_code == 400
    assert "Allow" not in response.get_data(as_text=True)


def test_consent_is_asked_every_time_even_when_given_before(
    device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    first = device.start(tv)
    device.approve(first["user_code"])
    second = device.start(tv)
    page = device.consent_page(second["user_code"])
    assert ">Allow</button>" in page.get_data(as_text=True)
    assert second["user_code"] in page.get_data(as_text=True)


def test_a_code_is_decided_once(
    app: Flask, device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv)
    page = device.consent_page(data["user_code"])
    assert device.decide(page, "deny").status_code == 303
    again = device.decide(page, "allow")
    assert again.status_code == 400
    assert "no longer waiting for approval" in again.get_data(as_text=True)
    assert stored(app, data["device_code"]).status == "denied"
    assert device.enter(data["user_code"]).status_code == 400


def test_consent_ticket_is_bound_to_its_user_code(
    app: Flask, device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    mine = device.start(tv)
    theirs = device.start(tv)
    page = device.consent_page(mine["user_code"])
    html = page.get_data(as_text=True).replace(mine["user_code"], theirs["user_code"])
    response = device.decide(html)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert stored(app, theirs["device_code"]).status == "pending"


def test_consent_ticket_is_bound_to_its_user(
    app: Flask, device: DeviceActions, tv: RegisteredClient, users: UserFactory, bob: Any
) -> None:
    users.create("mallory")
    data = device.start(tv)
    page = device.consent_page(data["user_code"], username="mallory").get_data(as_text=True)
    device.oauth.sign_in("bob")  # the same browser, now bob's (a new CSRF token)
    fresh_token = csrf_token_from(device.http.get("/device").get_data(as_text=True))
    page = page.replace(csrf_token_from(page), fresh_token)
    response = device.decide(page)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert stored(app, data["device_code"]).status == "pending"


# -- §5.1 brute forcing ----------------------------------------------------------------


@pytest.mark.limits(DEVICE_CODE_LIMIT_PER_IP="3 per minute")
def test_wrong_user_codes_are_throttled_per_address(
    device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    device.oauth.sign_in("bob")
    for _ in range(4):  # codes that exist do not count
        assert device.enter(device.start(tv)["user_code"]).status_code == 200
    for guess in ("BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD"):
        assert device.enter(guess).status_code == 400
    throttled = device.enter("FFFF-FFFF")
    assert throttled.status_code == 429
    assert "Too many codes" in throttled.get_data(as_text=True)
    assert int(throttled.headers["Retry-After"]) >= 1
    # Once throttled, even a right code waits: guessing gains nothing.
    assert device.enter(device.start(tv)["user_code"]).status_code == 429


# -- housekeeping ----------------------------------------------------------------------


def test_tokens_purge_deletes_expired_device_codes_only(
    app: Flask, device: DeviceActions, tv: RegisteredClient
) -> None:
    old = device.start(tv)
    device.start(tv)
    device.expire(old["device_code"])
    result = app.test_cli_runner().invoke(args=["tokens", "purge"])
    assert result.exit_code == 0, result.output
    assert "device_codes\t1" in result.output.splitlines()
    with app.app_context():
        assert len(db.session.scalars(select(DeviceCode)).all()) == 1


# -- DEVICE_FLOW_ENABLED = False ---------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"DEVICE_FLOW_ENABLED": False}], indirect=True)
def test_disabled_flow_answers_404_and_unsupported_grant_type(
    device: DeviceActions, tv: RegisteredClient
) -> None:
    response = device.authorize(tv)
    assert response.status_code == 404
    assert response.json is not None and response.json["error"] == "not_found"
    assert device.http.get("/device").status_code == 404
    token = csrf_token_from(device.http.get("/login").get_data(as_text=True))
    form = {"user_code": "BBBB-BBBB", "csrf_token": token}
    assert device.http.post("/device", data=form).status_code == 404
    polled = device.poll(tv, "any-device-code")
    assert error_of(polled) == "unsupported_grant_type"


def test_switching_the_flow_off_stops_codes_already_issued(
    app: Flask, device: DeviceActions, tv: RegisteredClient, bob: Any
) -> None:
    data = device.start(tv)
    device.approve(data["user_code"])
    reconfigure(app, DEVICE_FLOW_ENABLED=False)
    assert error_of(device.poll(tv, data["device_code"])) == "unsupported_grant_type"


def test_client_without_the_device_grant_is_unauthorized_even_without_a_device_code(
    oauth: OAuthActions, conf: RegisteredClient
) -> None:
    assert error_of(oauth.token(conf, grant_type=DEVICE_GRANT)) == "unauthorized_client"


def test_private_key_jwt_client_uses_the_device_flow(
    device: DeviceActions, clients: ClientFactory, bob: Any
) -> None:
    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    signer = clients.create(
        private_key=key, client_name="Signed TV", grant_types=[DEVICE_GRANT], scope="openid"
    )
    data = device.start(signer)
    device.approve(data["user_code"])
    assert device.poll(signer, data["device_code"]).status_code == 200
    unsigned = RegisteredClient(
        signer.client_id, None, signer.metadata | {"token_endpoint_auth_method": "none"}
    )
    assert error_of(device.authorize(unsigned), 401) == "invalid_client"
