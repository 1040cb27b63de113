"""/admin/activity and each client's page: per-day SVG bar charts, for admins only."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import ApiUsage, AuditEvent, Authorization, RefreshToken
from app.security import CONTENT_SECURITY_POLICY
from tests.admin.conftest import AdminConsole
from tests.helpers import AuthActions
from tests.oauth.helpers import OAuthActions, RegisteredClient

SVG = re.compile(r'<svg class="chart" id="([^"]+)" role="img" aria-label="([^"]+)".*?</svg>', re.S)
BAR = re.compile(
    r'<rect class="chart-bar"[^>]*data-day="([^"]+)" data-count="(\d+)"><title>([^<]*)'
)


def charts(html: str) -> dict[str, dict[str, Any]]:
    """chart id -> its aria-label and bars (day -> count), read from the page."""
    found = {}
    for match in SVG.finditer(html):
        bars = {day: int(count) for day, count, _ in BAR.findall(match.group(0))}
        tips = [tip for _, _, tip in BAR.findall(match.group(0))]
        found[match.group(1)] = {"label": match.group(2), "bars": bars, "tips": tips}
    return found


def today() -> date:
    return datetime.now(UTC).date()


def at(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)


def seed(app: Flask, client_id: str, user_id: int) -> None:
    """API calls, refresh tokens and failed sign-ins on chosen days, one outside the window."""
    t = today()
    with app.app_context():
        for days_ago, count in ((0, 5), (3, 2), (29, 7), (30, 100)):
            db.session.add(ApiUsage(user_id=user_id, client_id=client_id, operation="photos.list",
                                    day=t - timedelta(days=days_ago), count=count))  # fmt: skip
            db.session.add(ApiUsage(user_id=user_id, client_id=client_id, operation="photos.get",
                                    day=t - timedelta(days=days_ago), count=1))  # fmt: skip
        grant = Authorization(id="g" * 32, kind="authorization_code", client_id=client_id,
                              user_id=user_id, scope="openid", created_at=at(t - timedelta(3)),
                              expires_at=at(t + timedelta(30)))  # fmt: skip
        db.session.add(grant)
        for i, days_ago in enumerate((3, 3, 10, 31)):
            db.session.add(RefreshToken(token_hash=f"{i:064d}", authorization_id=grant.id,
                                        client_id=client_id, scope="openid",
                                        created_at=at(t - timedelta(days_ago)),
                                        expires_at=at(t + timedelta(1))))  # fmt: skip
        for days_ago in (1, 1, 1, 40):
            db.session.add(AuditEvent(kind="sign_in.failed", at=at(t - timedelta(days_ago)),
                                      detail="wrong password"))  # fmt: skip
        db.session.add(AuditEvent(kind="sign_in.ok", at=at(t - timedelta(1))))
        db.session.commit()


def test_activity_page_draws_thirty_zero_filled_days_per_series(
    app: Flask, admin: AdminConsole, conf: RegisteredClient, bob: Any
) -> None:
    seed(app, conf.client_id, bob.id)
    response = admin.get("/admin/activity")
    assert response.status_code == 200
    drawn = charts(response.get_data(as_text=True))
    assert set(drawn) == {"chart-refresh-tokens", "chart-api-calls", "chart-authorizations",
                          "chart-sign-in-failures"}  # fmt: skip
    t = today()
    window = [(t - timedelta(days=n)).isoformat() for n in range(29, -1, -1)]
    for chart in drawn.values():
        assert list(chart["bars"]) == window  # 30 bars, oldest first, today last
    expected = {
        "chart-api-calls": {0: 6, 3: 3, 29: 8},
        "chart-refresh-tokens": {3: 2, 10: 1},
        "chart-authorizations": {3: 1},
        "chart-sign-in-failures": {1: 3},
    }
    for chart_id, counts in expected.items():
        want = {(t - timedelta(days=n)).isoformat(): c for n, c in counts.items()}
        assert drawn[chart_id]["bars"] == {day: want.get(day, 0) for day in window}, chart_id
    assert f"{(t - timedelta(1)).isoformat()}: 3 failed sign-ins" in drawn[
        "chart-sign-in-failures"]["tips"]  # fmt: skip
    assert "17 API calls in all" in drawn["chart-api-calls"]["label"]
    assert f"most on {(t - timedelta(29)).isoformat()} (8)" in drawn["chart-api-calls"]["label"]
    # Per client totals: 3 refresh tokens and 17 calls in the window.
    page = response.get_data(as_text=True)
    assert re.search(
        rf"<code>{conf.client_id}</code></a></th>\s*<td[^>]*>3</td>\s*<td[^>]*>17</td>", page
    )
    # No inline style or script for the CSP to block.
    assert "style=" not in page and "<script" not in page
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_empty_database_draws_zero_bars(app: Flask, admin: AdminConsole) -> None:
    drawn = charts(admin.get("/admin/activity").get_data(as_text=True))
    assert len(drawn) == 4
    for chart in drawn.values():
        assert len(chart["bars"]) == 30 and set(chart["bars"].values()) == {0}
        assert "0 " in chart["label"] and "most on" not in chart["label"]


def test_a_real_flow_and_a_wrong_password_show_on_todays_bars(
    app: Flask, admin: AdminConsole, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    AuthActions(app.test_client()).login("bob", "wrong password!")
    tokens = oauth.tokens_for(conf, scope="openid offline_access photos.read")
    oauth.token(conf, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    drawn = charts(admin.get("/admin/activity").get_data(as_text=True))
    t = today().isoformat()
    assert drawn["chart-refresh-tokens"]["bars"][t] == 2  # first issue and one rotation
    assert drawn["chart-authorizations"]["bars"][t] == 1
    assert drawn["chart-sign-in-failures"]["bars"][t] == 1


def test_a_clients_page_charts_only_that_client(
    app: Flask, admin: AdminConsole, conf: RegisteredClient, pub: RegisteredClient, bob: Any
) -> None:
    seed(app, conf.client_id, bob.id)
    t = today()
    mine = charts(admin.get(f"/admin/clients/{conf.client_id}").get_data(as_text=True))
    assert set(mine) == {"chart-refresh-tokens", "chart-api-calls"}
    assert mine["chart-api-calls"]["bars"][t.isoformat()] == 6
    assert mine["chart-refresh-tokens"]["bars"][(t - timedelta(3)).isoformat()] == 2
    other = charts(admin.get(f"/admin/clients/{pub.client_id}").get_data(as_text=True))
    for chart in other.values():
        assert len(chart["bars"]) == 30 and set(chart["bars"].values()) == {0}


@pytest.mark.parametrize("path", ["/admin/activity"])
def test_only_admins_see_the_charts(
    app: Flask, client: FlaskClient, auth: AuthActions, bob: Any, path: str
) -> None:
    anonymous = app.test_client().get(path)
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    auth.login("bob")
    response = client.get(path)
    assert response.status_code == 403
    assert "<svg" not in response.get_data(as_text=True)
