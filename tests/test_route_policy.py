"""House rule: every route declares its error surface, CSRF stance and rate-limit stance.

The declarations live on the route or its blueprint (app/route_policy.py); this walks the real
app's ``url_map`` so a new route without them fails here, not in production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from app import create_app
from app.route_policy import EXEMPT, HTML, JSON, LIMITED, policy_of, rate_limit_stance

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
APP_ROOT = Path(__file__).resolve().parent.parent / "app"


def undeclared(app: Flask) -> list[str]:
    """One line per missing declaration, naming the route."""
    problems = []
    with app.app_context():
        for rule in app.url_map.iter_rules():
            policy = policy_of(app, rule.endpoint)
            where = f"{rule.rule} ({rule.endpoint})"
            if policy.errors not in (JSON, HTML):
                problems.append(f"{where}: declare json_errors or html_errors")
            if rule.methods and rule.methods & UNSAFE_METHODS and policy.csrf is None:
                problems.append(f"{where}: declare csrf_protected or csrf_exempt(why)")
            if rate_limit_stance(app, rule.endpoint) is None:
                problems.append(f"{where}: use @limiter.limit, rate_limited or no_rate_limit")
    return problems


def test_every_route_declares_its_policy(app: Flask) -> None:
    assert undeclared(app) == []


def test_a_route_without_declarations_breaks_the_rule(
    app_config: dict[str, Any], instance_path: Path
) -> None:
    app = create_app(app_config)
    app.add_url_rule("/new", "new", lambda: "", methods=["GET", "POST"])
    assert [problem for problem in undeclared(app) if problem.startswith("/new ")] == [
        "/new (new): declare json_errors or html_errors",
        "/new (new): declare csrf_protected or csrf_exempt(why)",
        "/new (new): use @limiter.limit, rate_limited or no_rate_limit",
    ]


def test_the_stances_are_the_expected_ones(app: Flask) -> None:
    """A few known routes, so a declaration cannot silently flip."""
    with app.app_context():
        assert policy_of(app, "oauth.token").errors == JSON
        assert policy_of(app, "api.get_photo").errors == JSON
        assert policy_of(app, "account.login").errors == HTML
        assert policy_of(app, "admin_users.create").errors == HTML
        token_csrf = policy_of(app, "oauth.token").csrf
        assert token_csrf is not None and token_csrf.kind == EXEMPT
        logout_csrf = policy_of(app, "interaction.end_session").csrf
        assert logout_csrf is not None and logout_csrf.kind == EXEMPT
        assert policy_of(app, "account.logout").csrf != token_csrf
        for endpoint in ("oauth.token", "registration.register", "device.verify", "account.login"):
            stance = rate_limit_stance(app, endpoint)
            assert stance is not None and stance.kind == LIMITED, endpoint


def test_csrf_exemptions_are_declared_on_the_route_only() -> None:
    """CSRFProtect's own exempt list is no longer read: a ``csrf.exempt`` would do nothing."""
    offenders = [
        str(path.relative_to(APP_ROOT.parent))
        for path in APP_ROOT.rglob("*.py")
        if "csrf.exempt" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
