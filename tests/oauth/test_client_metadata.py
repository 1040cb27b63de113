"""Client metadata rules at registration (``flask clients create``): what may never be stored.

Covers RFC 7591 §2 (metadata, jwks XOR jwks_uri), §3.2.2 (invalid_redirect_uri,
invalid_client_metadata); RFC 6749 §3.1.2 (absolute URI, no fragment); RFC 9700 §2.1, §4.1.3
(no wildcards, exact URIs); RFC 8252 §7.3, §8.3 (http only on loopback); RFC 8725 §3
(public keys only); docs/security.md RU-07, UI-05.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from joserfc.jwk import ECKey

REDIRECT = "invalid_redirect_uri"
METADATA = "invalid_client_metadata"


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def stored_clients(app: Flask) -> list[dict[str, Any]]:
    result = cli(app, "clients", "list", "--json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.output)
    return data


def public_jwk() -> dict[str, Any]:
    return ECKey.generate_key("P-256", private=True).as_dict(private=False) | {"kid": "k1"}


def private_jwk() -> dict[str, Any]:
    return ECKey.generate_key("P-256", private=True).as_dict(private=True) | {"kid": "k1"}


JWKS_FILES: dict[str, Any] = {
    "public": lambda: {"keys": [public_jwk()]},
    "private": lambda: {"keys": [private_jwk()]},
    "symmetric": lambda: {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "kid": "s"}]},
    "empty-set": lambda: {"keys": []},
    "not-a-set": lambda: [public_jwk()],
    "not-json": lambda: "this is not json",
}


def jwks_file(tmp_path: Path, kind: str) -> str:
    content = JWKS_FILES[kind]()
    path = tmp_path / f"{kind}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


PKJ = ["--token-endpoint-auth-method", "private_key_jwt"]
CC = ["--grant-types", "client_credentials", "--scope", "photos.read"]

BAD_METADATA: list[tuple[str, list[str], str]] = [
    # RU-07: redirect URIs
    ("fragment", ["--redirect-uri", "https://a.test/cb#x"], REDIRECT),
    ("empty-fragment", ["--redirect-uri", "https://a.test/cb#"], REDIRECT),
    ("wildcard-host", ["--redirect-uri", "https://*.a.test/cb"], REDIRECT),
    ("wildcard-path", ["--redirect-uri", "https://a.test/*"], REDIRECT),
    ("javascript", ["--redirect-uri", "javascript:alert(1)"], REDIRECT),
    ("data", ["--redirect-uri", "data:text/html,<script>alert(1)</script>"], REDIRECT),
    ("http-non-loopback", ["--redirect-uri", "http://a.test/cb"], REDIRECT),
    ("http-private-ip", ["--redirect-uri", "http://192.168.1.10/cb"], REDIRECT),
    ("http-localhost-lookalike", ["--redirect-uri", "http://localhost.evil.test/cb"], REDIRECT),
    ("userinfo", ["--redirect-uri", "https://app.test@evil.test/cb"], REDIRECT),
    ("relative", ["--redirect-uri", "/cb"], REDIRECT),
    ("no-host", ["--redirect-uri", "https:///cb"], REDIRECT),
    ("space", ["--redirect-uri", "https://a.test/c b"], REDIRECT),
    (
        "one-of-two-bad",
        ["--redirect-uri", "https://a.test/cb", "--redirect-uri", "https://*.a.test/cb"],
        REDIRECT,
    ),
    ("missing-for-code-grant", [], REDIRECT),
    # grant and response types
    (
        "grant-password",
        ["--redirect-uri", "https://a.test/cb", "--grant-types", "authorization_code,password"],
        METADATA,
    ),
    (
        "grant-implicit",
        ["--redirect-uri", "https://a.test/cb", "--grant-types", "implicit"],
        METADATA,
    ),
    ("grant-unknown", ["--grant-types", "urn:example:bogus"], METADATA),
    ("refresh-without-code", ["--grant-types", "refresh_token"], METADATA),
    (
        "response-type-token",
        ["--redirect-uri", "https://a.test/cb", "--response-types", "token"],
        METADATA,
    ),
    ("public-client-credentials", ["--token-endpoint-auth-method", "none", *CC], METADATA),
    # scope
    (
        "unknown-scope",
        ["--redirect-uri", "https://a.test/cb", "--scope", "openid admin"],
        METADATA,
    ),
    # UI-05: URIs shown to people
    ("logo-javascript", [*CC, "--logo-uri", "javascript:alert(1)"], METADATA),
    ("logo-data", [*CC, "--logo-uri", "data:image/svg+xml,<svg onload=alert(1)>"], METADATA),
    ("logo-http", [*CC, "--logo-uri", "http://cdn.test/logo.png"], METADATA),
    ("client-uri-javascript", [*CC, "--client-uri", "javascript:alert(1)"], METADATA),
    (
        "post-logout-javascript",
        [*CC, "--post-logout-redirect-uri", "javascript:alert(1)"],
        METADATA,
    ),
    ("post-logout-http", [*CC, "--post-logout-redirect-uri", "http://a.test/bye"], METADATA),
    # keys
    ("private-key-jwt-without-keys", [*CC, *PKJ], METADATA),
    ("jwks-with-private-key", [*CC, *PKJ, "--jwks", "@private"], METADATA),
    ("jwks-with-symmetric-key", [*CC, *PKJ, "--jwks", "@symmetric"], METADATA),
    ("jwks-empty-set", [*CC, *PKJ, "--jwks", "@empty-set"], METADATA),
    ("jwks-not-a-set", [*CC, *PKJ, "--jwks", "@not-a-set"], METADATA),
    ("jwks-not-json", [*CC, *PKJ, "--jwks", "@not-json"], METADATA),
    (
        "jwks-and-jwks-uri",
        [*CC, *PKJ, "--jwks", "@public", "--jwks-uri", "https://k.test/jwks"],
        METADATA,
    ),
    ("jwks-uri-http", [*CC, *PKJ, "--jwks-uri", "http://keys.test/jwks"], METADATA),
    ("jwks-uri-javascript", [*CC, *PKJ, "--jwks-uri", "javascript:alert(1)"], METADATA),
    # Pen-test case 8: names and URIs that read differently from what they are
    ("name-bidi-override", [*CC, "--name", "Photo\u202egnp.exe"], METADATA),
    ("name-bidi-embedding", [*CC, "--name", "Photo\u202aPrint"], METADATA),
    ("name-bidi-isolate", [*CC, "--name", "Photo\u2067Print"], METADATA),
    ("name-zero-width-space", [*CC, "--name", "Pay\u200bPal"], METADATA),
    ("name-right-to-left-mark", [*CC, "--name", "PhotoPrint\u200f"], METADATA),
    ("name-byte-order-mark", [*CC, "--name", "\ufeffPhotoPrint"], METADATA),
    ("name-word-joiner", [*CC, "--name", "Photo\u2060Print"], METADATA),
    ("redirect-bidi-override", ["--redirect-uri", "https://a.test/\u202ebc"], METADATA),
    ("redirect-host-zero-width", ["--redirect-uri", "https://a\u200d.test/cb"], METADATA),
    ("logo-zero-width", [*CC, "--logo-uri", "https://cdn\u200c.test/logo.png"], METADATA),
    (
        "post-logout-isolate",
        [*CC, "--post-logout-redirect-uri", "https://a.test/\u2069bye"],
        METADATA,
    ),
]


@pytest.mark.parametrize(
    ("args", "error"),
    [pytest.param(args, error, id=name) for name, args, error in BAD_METADATA],
)
def test_bad_client_metadata_is_refused_with_its_rfc7591_error_and_nothing_is_stored(
    app: Flask, tmp_path: Path, args: list[str], error: str
) -> None:
    argv = [jwks_file(tmp_path, a[1:]) if a.startswith("@") else a for a in args]
    result = cli(app, "clients", "create", "--name", "Bad client", *argv)
    assert result.exit_code != 0
    assert result.output.startswith(f"Error: {error}: "), result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert "Traceback" not in result.output
    assert stored_clients(app) == []


def test_an_unknown_auth_method_is_refused_and_nothing_is_stored(app: Flask) -> None:
    result = cli(
        app, "clients", "create", "--name", "Bad", *CC,
        "--token-endpoint-auth-method", "client_secret_jwt",
    )  # fmt: skip
    assert result.exit_code != 0
    assert stored_clients(app) == []


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.test/cb",
        "https://app.test/cb?tenant=a",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:53111/cb",
        "http://[::1]/cb",
        "http://localhost/cb",
    ],
)
def test_acceptable_redirect_uris_are_stored_exactly_as_given(app: Flask, uri: str) -> None:
    result = cli(app, "clients", "create", "--name", "Good", "--redirect-uri", uri)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["redirect_uris"] == [uri]
    assert len(stored_clients(app)) == 1


def test_https_logo_client_and_post_logout_uris_are_accepted(app: Flask) -> None:
    result = cli(
        app, "clients", "create", "--name", "Branded", "--redirect-uri", "https://b.test/cb",
        "--logo-uri", "https://cdn.b.test/logo.png", "--client-uri", "https://b.test/",
        "--post-logout-redirect-uri", "https://b.test/bye",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["logo_uri"] == "https://cdn.b.test/logo.png"
    assert info["client_uri"] == "https://b.test/"
    assert info["post_logout_redirect_uris"] == ["https://b.test/bye"]
