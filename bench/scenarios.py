"""The wrk scenarios, built from what bench.seed wrote, and the targets they are held to."""

from __future__ import annotations

import base64
from typing import Any

from bench.wrk import THREADS, Scenario

BARE = Scenario("bare Flask JSON endpoint", "/hello")
P99_TARGET_MS = 50.0
FLOWS_TARGET = 25.0  # authorization code flows per second, SQLite
FLOWS_TARGET_POSTGRES = 18.0
PSS_TARGET_MIB = 60.0  # per worker


def basic(credentials: dict[str, Any]) -> dict[str, str]:
    """RFC 6749 §2.3.1 client_secret_basic (ids and secrets are URL-safe: no escaping)."""
    pair = f"{credentials['client_id']}:{credentials['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def floor(fixtures: dict[str, Any]) -> Scenario:
    """Tessera's own per-request cost with no credentials and no database: every hook, the
    routing among all of Tessera's endpoints, a JSON document. No hot path can be cheaper."""
    return Scenario(
        "GET /.well-known/oauth-authorization-server (no database: Tessera's floor)",
        "/.well-known/oauth-authorization-server",
    )


def photos(fixtures: dict[str, Any]) -> Scenario:
    return Scenario(
        "GET /api/v1/photos (20 photos, valid token)",
        "/api/v1/photos",
        {"Authorization": f"Bearer {fixtures['access_token']}"},
        target_ratio=0.60,
        target_ratio_postgres=0.45,
    )


def userinfo(fixtures: dict[str, Any]) -> Scenario:
    return Scenario(
        "GET /userinfo (token with openid)",
        "/userinfo",
        {"Authorization": f"Bearer {fixtures['access_token']}"},
        target_ratio=0.80,
        target_ratio_postgres=0.55,
    )


def client_credentials(fixtures: dict[str, Any]) -> Scenario:
    return Scenario(
        "POST /token client_credentials (client_secret_basic)",
        "/token",
        basic(fixtures["client_credentials"]),
        script="post.lua",
        script_args=("grant_type=client_credentials",),
        target_ratio=0.60,
        target_ratio_postgres=0.45,
    )


def introspection(fixtures: dict[str, Any]) -> Scenario:
    body = f"token={fixtures['access_token']}&token_type_hint=access_token"
    return Scenario(
        "POST /introspect (valid access token, resource server)",
        "/introspect",
        basic(fixtures["resource_server"]),
        script="post.lua",
        script_args=(body,),
        target_ratio=0.70,
        target_ratio_postgres=0.50,
    )


def refresh(fixtures: dict[str, Any]) -> Scenario:
    return Scenario(
        "POST /token refresh_token (rotation, a fresh token each time)",
        "/token",
        basic(fixtures["web"]),
        script="refresh.lua",
        script_args=(fixtures["refresh_tokens_file"], str(THREADS)),
        target_ratio=0.30,
        target_ratio_postgres=0.20,
    )


def all_scenarios(fixtures: dict[str, Any]) -> list[Scenario]:
    """Read-only ones first, then the writers (refresh rotation)."""
    return [
        floor(fixtures),
        photos(fixtures),
        userinfo(fixtures),
        client_credentials(fixtures),
        introspection(fixtures),
        refresh(fixtures),
    ]
