"""Each route's house rules, declared where the route is: error surface, CSRF, rate limit.

A blueprint declares what holds for all its views; a view declares what differs::

    bp = declare(
        Blueprint("oauth", __name__),
        json_errors,
        csrf_exempt("clients authenticate themselves; no cookie is trusted here"),
    )

    @bp.get("/jwks.json")
    @no_rate_limit("public keys, cached by clients for minutes")
    def jwks(): ...

The three questions each route answers (tests/test_route_policy.py checks every route does):

- Error surface: ``json_errors`` (clients call it) or ``html_errors`` (people open it).
  errors.py renders by it. A request that matches no route takes the surface of the deepest
  path of declared routes it lies under (``/api/v1/nope``: the ``/api/v1`` routes' JSON), and
  HTML where none or both surfaces live there.
- CSRF on unsafe methods: ``csrf_protected`` (a token from our own form; the default either
  way) or ``csrf_exempt(why)``.
- Rate limit: a ``@limiter.limit`` decorator, ``rate_limited(how)`` for a limit counted some
  other way (the client throttles, a view that counts its own attempts), or
  ``no_rate_limit(why)``.

Routes that are not functions of ours (Flask's ``static``) are declared with
``declare_endpoint``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any, TypeVar

from flask import Blueprint, Flask, Request
from flask_limiter.util import get_qualified_name

JSON, HTML = "json", "html"
PROTECTED, EXEMPT = "protected", "exempt"
LIMITED, UNLIMITED = "limited", "unlimited"
ATTRIBUTE = "tessera_route_policy"
_ENDPOINTS = "tessera.route_policy.endpoints"  # app.extensions: declare_endpoint's table
_RESOLVED = "tessera.route_policy.resolved"  # app.extensions: endpoint -> RoutePolicy cache
_PATHS = "tessera.route_policy.paths"  # app.extensions: path segments -> error surfaces

Target = TypeVar("Target")


@dataclass(frozen=True)
class Stance:
    """One declared answer, with the reason a reader (and the policy test) needs."""

    kind: str
    reason: str = ""


@dataclass(frozen=True)
class RoutePolicy:
    errors: str | None = None  # JSON or HTML
    csrf: Stance | None = None  # PROTECTED, or EXEMPT with why
    rate_limit: Stance | None = None  # LIMITED with how, or UNLIMITED with why

    def over(self, base: RoutePolicy) -> RoutePolicy:
        """This policy, with ``base``'s answers where this one gives none."""
        return RoutePolicy(
            self.errors or base.errors, self.csrf or base.csrf, self.rate_limit or base.rate_limit
        )


def _declaring(**answers: Any) -> Callable[[Target], Target]:
    def apply(target: Target) -> Target:
        current: RoutePolicy = getattr(target, ATTRIBUTE, RoutePolicy())
        setattr(target, ATTRIBUTE, replace(current, **answers))
        return target

    return apply


def _reason(text: str) -> str:
    if not text.strip():
        raise ValueError("a policy exemption needs its reason")
    return text


json_errors = _declaring(errors=JSON)
html_errors = _declaring(errors=HTML)
csrf_protected = _declaring(csrf=Stance(PROTECTED))


def csrf_exempt(why: str) -> Callable[[Target], Target]:
    """Unsafe methods need no CSRF token here, because ``why`` (no cookie is trusted...)."""
    return _declaring(csrf=Stance(EXEMPT, _reason(why)))


def rate_limited(how: str) -> Callable[[Target], Target]:
    """Limited by something other than ``@limiter.limit``: ``how`` says what counts."""
    return _declaring(rate_limit=Stance(LIMITED, _reason(how)))


def no_rate_limit(why: str) -> Callable[[Target], Target]:
    """No rate limit, because ``why``."""
    return _declaring(rate_limit=Stance(UNLIMITED, _reason(why)))


def declare(blueprint: Blueprint, *declarations: Callable[[Blueprint], Blueprint]) -> Blueprint:
    """``blueprint`` with ``declarations`` holding for each of its views (a view may differ)."""
    for declaration in declarations:
        declaration(blueprint)
    return blueprint


def declare_endpoint(app: Flask, endpoint: str, *declarations: Callable[[Any], Any]) -> None:
    """Declare the policy of an endpoint whose view is not a function of ours (``static``)."""
    holder = SimpleNamespace()
    for declaration in declarations:
        declaration(holder)
    app.extensions.setdefault(_ENDPOINTS, {})[endpoint] = getattr(holder, ATTRIBUTE)


def policy_of(app: Flask, endpoint: str) -> RoutePolicy:
    """What ``endpoint`` declares, over what its blueprint declares."""
    resolved: dict[str, RoutePolicy] = app.extensions.setdefault(_RESOLVED, {})
    policy = resolved.get(endpoint)
    if policy is None:
        view = app.view_functions.get(endpoint)
        own = getattr(view, ATTRIBUTE, None) or app.extensions.get(_ENDPOINTS, {}).get(endpoint)
        blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
        base = getattr(blueprint, ATTRIBUTE, RoutePolicy())
        policy = resolved[endpoint] = (own or RoutePolicy()).over(base)
    return policy


def csrf_exempt_reason(app: Flask, endpoint: str | None) -> str | None:
    """Why ``endpoint`` takes unsafe methods without a CSRF token; None: it does not."""
    if endpoint is None:
        return None
    stance = policy_of(app, endpoint).csrf
    return stance.reason if stance and stance.kind == EXEMPT else None


def rate_limit_stance(app: Flask, endpoint: str) -> Stance | None:
    """LIMITED (a ``@limiter.limit`` or a declared limit), UNLIMITED with why, or None."""
    view = app.view_functions.get(endpoint)
    name = get_qualified_name(view) if view is not None else ""
    for limiter in app.extensions.get("limiter", ()):
        if limits := limiter.limit_manager.decorated_limits(name):
            return Stance(LIMITED, "@limiter.limit " + "; ".join(str(x.limit) for x in limits))
    return policy_of(app, endpoint).rate_limit


def error_surface(app: Flask, request: Request) -> str:
    """JSON or HTML: the matched route's declaration, else the surface of its path."""
    if request.url_rule is not None and request.url_rule.endpoint is not None:
        declared = policy_of(app, request.url_rule.endpoint).errors
        if declared:
            return declared
    return _surface_of_path(app, request.path)


def _surface_of_path(app: Flask, path: str) -> str:
    """The surface of the deepest path that declared routes lie under (HTML if both or none)."""
    surfaces: dict[tuple[str, ...], set[str]] = app.extensions.get(_PATHS) or _path_surfaces(app)
    segments = tuple(s for s in path.split("/") if s)
    for depth in range(len(segments), -1, -1):
        found = surfaces.get(segments[:depth])
        if found:
            return JSON if found == {JSON} else HTML
    return HTML


def _path_surfaces(app: Flask) -> dict[tuple[str, ...], set[str]]:
    """For each leading run of a route's literal path segments, the surfaces declared there."""
    surfaces: dict[tuple[str, ...], set[str]] = {}
    for rule in app.url_map.iter_rules():
        surface = policy_of(app, rule.endpoint).errors
        if surface is None:
            continue
        literal = list(_literal_segments(rule.rule))
        for depth in range(len(literal) + 1):
            surfaces.setdefault(tuple(literal[:depth]), set()).add(surface)
    app.extensions[_PATHS] = surfaces
    return surfaces


def _literal_segments(rule: str) -> Iterable[str]:
    for segment in rule.split("/"):
        if "<" in segment:
            return
        if segment:
            yield segment
