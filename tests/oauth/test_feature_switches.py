"""A switched-off feature is absent: every route of it answers 404 (JSON on protocol paths)
and neither discovery document (nor RFC 9728's resource metadata) names its endpoint or fields.

Routes declare their feature with ``@requires_feature``; the test walks ``app.url_map`` for
them, so a feature route left undeclared (or a declared one that still answers) fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.features import Feature

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DOCUMENTS = (
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/.well-known/oauth-protected-resource",
)
# The setting that switches each feature off.
OFF: dict[Feature, dict[str, Any]] = {
    Feature.REGISTRATION: {"REGISTRATION_MODE": "off"},
    Feature.PAR: {"PAR_ENABLED": False},
    Feature.DEVICE_FLOW: {"DEVICE_FLOW_ENABLED": False},
    Feature.DPOP: {"DPOP_ENABLED": False},
}
# Each feature's routes (as url_map rules) and the discovery fields that advertise it.
ROUTES: dict[Feature, set[str]] = {
    Feature.REGISTRATION: {"/register", "/register/<client_id>"},
    Feature.PAR: {"/par"},
    Feature.DEVICE_FLOW: {"/device_authorization", "/device", "/device/decide", "/device/done"},
    Feature.DPOP: set(),  # a request header, no endpoint of its own
}
FIELDS: dict[Feature, set[str]] = {
    Feature.REGISTRATION: {"registration_endpoint"},
    Feature.PAR: {"pushed_authorization_request_endpoint"},
    Feature.DEVICE_FLOW: {"device_authorization_endpoint"},
    Feature.DPOP: {"dpop_signing_alg_values_supported", "dpop_bound_access_tokens_required"},
}
HTML_PAGES = {"/device", "/device/decide", "/device/done"}  # the user's browser, not a client
# CSRF is its own policy (a POST without a token is a 400 whatever the feature); off here.
BASE = {"WTF_CSRF_ENABLED": False}
CASES = [
    pytest.param(feature, enabled, BASE | ({} if enabled else OFF[feature]), id=f"{feature}-{on}")
    for feature in Feature
    for enabled, on in ((True, "on"), (False, "off"))
]


def test_every_feature_has_an_off_switch_here() -> None:
    assert set(OFF) == set(ROUTES) == set(FIELDS) == set(Feature)


def gated_calls(app: Flask, feature: Feature) -> list[tuple[str, str, str]]:
    """(method, path, rule) of every route declaring ``feature``."""
    calls = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "required_feature", None) == feature:
            path = rule.rule.replace("<client_id>", "some-client")
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                calls.append((method, path, rule.rule))
    return calls


def advertised(client: FlaskClient) -> tuple[set[str], list[str]]:
    """Every field name of the three documents, and the grant types advertised."""
    names: set[str] = set()
    grant_types: list[str] = []
    for path in DOCUMENTS:
        document = client.get(path).json
        assert isinstance(document, dict)
        names |= set(document)
        grant_types += document.get("grant_types_supported", [])
    return names, grant_types


@pytest.mark.parametrize(("feature", "enabled", "app_config"), CASES, indirect=["app_config"])
def test_a_feature_is_either_served_and_advertised_or_absent(
    app: Flask, client: FlaskClient, feature: Feature, enabled: bool
) -> None:
    calls = gated_calls(app, feature)
    assert {rule for _, _, rule in calls} == ROUTES[feature]
    for method, path, rule in calls:
        response = client.open(path, method=method)
        assert (response.status_code == 404) is not enabled, (method, path, response.status_code)
        if not enabled and rule not in HTML_PAGES:
            assert response.is_json and response.json["error"] == "not_found"
    names, grant_types = advertised(client)
    if enabled:
        assert FIELDS[feature] <= names
    else:
        assert not FIELDS[feature] & names
    if feature is Feature.DEVICE_FLOW:
        assert (DEVICE_GRANT in grant_types) is enabled
