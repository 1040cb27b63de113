"""Prometheus metrics at /metrics (issue 16, item 2): served only with METRICS_TOKEN and only to
its bearer; each counter moves after the real HTTP action an operator would want to see.

Each test's app builds fresh instruments, so the counts start at zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.config import ConfigError
from tests.api.conftest import PhotoApi
from tests.helpers import AuthActions, csrf_token_from
from tests.oauth.helpers import ClientFactory, OAuthActions, RegisteredClient
from tests.test_route_policy import undeclared

TOKEN = "metrics-token-" + "m" * 32
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


def enabled(**more: Any) -> pytest.MarkDecorator:
    """This test's app counts (METRICS_TOKEN set), with ``more`` settings."""
    return pytest.mark.limits(METRICS_TOKEN=TOKEN, **more)


def scrape(http: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics: (name, labels) -> value."""
    response = http.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(http: FlaskClient, name: str, **labels: str) -> float:
    return scrape(http).get((name, frozenset(labels.items())), 0.0)


def client_credentials(oauth: OAuthActions, client: RegisteredClient) -> Any:
    return oauth.token(client, grant_type="client_credentials")


# -- who may read it ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_without_a_token_metrics_is_an_unknown_url(client: FlaskClient, method: str) -> None:
    metrics = client.open("/metrics", method=method, headers=SCRAPE)
    unknown = client.open("/metricz", method=method, headers=SCRAPE)
    assert metrics.status_code == unknown.status_code == 404
    assert metrics.get_data() == unknown.get_data()
    assert metrics.headers["Content-Type"] == unknown.headers["Content-Type"]


@enabled()
@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (None, "invalid_request"),
        ("Bearer ", "invalid_request"),
        (f"Basic {TOKEN}", "invalid_request"),
        ("Bearer not-the-token", "invalid_token"),
        (f"Bearer {TOKEN}x", "invalid_token"),
        (f"Bearer {TOKEN[:-1]}", "invalid_token"),
        ("Bearer t\u00f6ken-with-latin-1", "invalid_token"),
    ],
)
def test_metrics_answers_only_its_bearer(
    client: FlaskClient, authorization: str | None, error: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json is not None and response.json["error"] == error
    assert b"tessera_" not in response.get_data()


@enabled()
def test_the_bearer_gets_the_text_format_never_cached(client: FlaskClient) -> None:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert "# TYPE tessera_tokens_issued_total counter" in body
    assert 'tessera_sign_ins_total{result="failed"} 0.0' in body  # present before any event


@enabled()
def test_the_route_declares_its_policy(app: Flask) -> None:
    assert "/metrics" in {rule.rule for rule in app.url_map.iter_rules()}
    assert undeclared(app) == []


@pytest.mark.parametrize("token", ["short", "x" * 31, "has a space " + "x" * 32, ""])
def test_a_weak_metrics_token_stops_the_start(
    app_config: dict[str, Any], instance_path: Path, token: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        create_app(app_config | {"METRICS_TOKEN": token})
    assert str(raised.value) == (
        "METRICS_TOKEN: must be 32 or more printable characters without spaces (or unset)"
    )


# -- what it counts -------------------------------------------------------------------------
@enabled()
def test_tokens_issued_by_grant_type_and_client(
    client: FlaskClient, oauth: OAuthActions, cc: RegisteredClient, conf: RegisteredClient,
    bob: Any,
) -> None:  # fmt: skip
    for _ in range(3):
        assert client_credentials(oauth, cc).status_code == 200
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    refreshed = oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    samples = scrape(client)
    issued = "tessera_tokens_issued_total"
    cc_labels = frozenset({("grant_type", "client_credentials"), ("client_id", cc.client_id)})
    assert samples[(issued, cc_labels)] == 3
    for grant in ("authorization_code", "refresh_token"):
        labels = frozenset({("grant_type", grant), ("client_id", conf.client_id)})
        assert samples[(issued, labels)] == 1


@enabled(OAUTH_LIMIT_PER_IP="3 per minute")
def test_token_errors_by_code_and_throttled_calls_by_endpoint(
    client: FlaskClient, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    wrong = RegisteredClient(cc.client_id, "wrong secret", cc.metadata)
    assert client_credentials(oauth, wrong).status_code == 401  # authlib answers
    assert oauth.token(cc, grant_type="password").status_code == 400  # the view refuses
    assert oauth.token(cc, grant_type="authorization_code", code="nope").status_code == 400
    assert client_credentials(oauth, cc).status_code == 429  # the fourth call from here
    errors = "tessera_token_errors_total"
    assert value(client, errors, error="invalid_client") == 1
    assert value(client, errors, error="unsupported_grant_type") == 1
    assert value(client, errors, error="too_many_requests") == 0  # a 429 is not an OAuth error
    assert value(client, "tessera_rate_limited_requests_total", endpoint="oauth.token") == 1
    # the third: the grant refused the code (or the client the grant type), once
    assert sum(v for (name, _), v in scrape(client).items() if name == errors) == 3


@enabled()
def test_introspections_active_and_not(
    client: FlaskClient, oauth: OAuthActions, clients: ClientFactory, cc: RegisteredClient
) -> None:
    issued = client_credentials(oauth, cc).json
    assert issued is not None
    assert oauth.introspect(cc, issued["access_token"]).json["active"] is True  # type: ignore[index]
    for token in ("not-a-token", "a.b.c"):
        assert oauth.introspect(cc, token).json == {"active": False}
    assert value(client, "tessera_introspections_total", active="true") == 1
    assert value(client, "tessera_introspections_total", active="false") == 2


@enabled()
def test_api_calls_by_operation_and_status(
    app: Flask, client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    token = oauth.tokens_for(conf, scope="openid photos.read")["access_token"]
    api = PhotoApi(app.test_client(), token)
    assert api.get("/photos").status_code == 200
    assert api.get("/photos").status_code == 200
    assert api.get("/photos/no-such-photo").status_code == 404
    assert PhotoApi(app.test_client(), "forged").get("/photos").status_code == 401
    calls = "tessera_api_calls_total"
    assert value(client, calls, operation="listPhotos", status="200") == 2
    assert value(client, calls, operation="getPhoto", status="404") == 1
    assert value(client, calls, operation="listPhotos", status="401") == 1


@enabled()
def test_sign_ins_ok_and_failed(client: FlaskClient, auth: AuthActions, bob: Any) -> None:
    assert auth.login("bob", "wrong password").status_code == 200
    assert auth.login("nobody", "whatever it is").status_code == 200
    assert auth.login("bob").status_code == 303
    assert value(client, "tessera_sign_ins_total", result="ok") == 1
    assert value(client, "tessera_sign_ins_total", result="failed") == 2


@enabled()
def test_refresh_token_reuse_is_counted(
    client: FlaskClient, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    first = tokens["refresh_token"]
    assert oauth.token(conf, grant_type="refresh_token", refresh_token=first).status_code == 200
    assert value(client, "tessera_refresh_token_reuse_detections_total") == 0
    reused = oauth.token(conf, grant_type="refresh_token", refresh_token=first)
    assert reused.status_code == 400
    assert value(client, "tessera_refresh_token_reuse_detections_total") == 1


@enabled()
def test_revocations_by_who_asked(
    app: Flask, client: FlaskClient, oauth: OAuthActions, users: Any, conf: RegisteredClient,
    cc: RegisteredClient, bob: Any,
) -> None:  # fmt: skip
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    assert oauth.revoke(conf, tokens["refresh_token"]).status_code == 200
    assert oauth.revoke(conf, "unknown-token").status_code == 200  # nothing revoked
    oauth.tokens_for(conf, scope="openid photos.read")
    page = oauth.http.get("/account/apps").get_data(as_text=True)
    revoked = oauth.http.post(
        f"/account/apps/{conf.client_id}/revoke",
        data={"csrf_token": csrf_token_from(page), "confirm": "yes"},
    )
    assert revoked.status_code == 303
    users.create("root", admin=True)
    admin = app.test_client()
    assert AuthActions(admin).login("root").status_code == 303
    form = csrf_token_from(admin.get("/admin/users").get_data(as_text=True))
    assert admin.post("/admin/users/bob/disable", data={"csrf_token": form}).status_code == 303
    deleted = admin.post(f"/admin/clients/{cc.client_id}/delete", data={"csrf_token": form})
    assert deleted.status_code == 303
    revocations = "tessera_revocations_total"
    assert value(client, revocations, via="token_endpoint") == 1
    assert value(client, revocations, via="my_apps") == 1
    assert value(client, revocations, via="admin") == 2


@enabled()
def test_latency_is_observed_per_endpoint_never_per_path(client: FlaskClient) -> None:
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page/12345").status_code == 404
    samples = scrape(client)
    count = "tessera_request_duration_seconds_count"
    assert samples[(count, frozenset({("endpoint", "health.healthz")}))] == 3
    assert samples[(count, frozenset({("endpoint", "none")}))] == 1
    buckets = {dict(labels)["le"] for name, labels in samples if name.endswith("_bucket")}
    assert buckets == {"0.005", "0.025", "0.1", "0.5", "2.5", "+Inf"}
    assert not any("12345" in str(labels) for _, labels in samples)


def test_a_multiprocess_directory_set_too_late_stops_the_start(
    app_config: dict[str, Any], instance_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus_client (imported by this test run already) chose in-process values: with the
    variable set only now, each gunicorn worker would count alone, so the start fails instead."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="set after prometheus_client was imported"):
        create_app(app_config | {"METRICS_TOKEN": TOKEN})
