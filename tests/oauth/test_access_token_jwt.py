"""Access tokens as JWTs: their RFC 9068 shape and every way of forging one.

/userinfo (and /introspect) are the resource that validates the token. Covers RFC 9068 §2.1,
§2.2, §4; RFC 8725 §3.1, §3.2, §3.10; RFC 7515 §4.1.11 (crit), §7.2 (JSON serialization);
RFC 7519 §4.1.4 (exp); docs/security.md JW-01 .. JW-07 (and RV-09 for an ID token as bearer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from werkzeug.test import TestResponse

from app import create_app
from app.extensions import db
from app.services import keys
from tests.lanes import Clock
from tests.oauth.helpers import OAuthActions, RegisteredClient

SECOND_ISSUER = "http://localhost:5001"


# -- JOSE by hand: the attacker's toolbox ----------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def parts_of(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def es256_compact(header: dict[str, Any], claims: dict[str, Any], key: ECKey) -> str:
    """Sign any header and claims with an EC P-256 key (no library checks in the way)."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    private = key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    der = private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def hs256_compact(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def server_es256_key(app: Flask) -> tuple[str, ECKey]:
    """The server's own signing key: lets a test vary one claim with a valid signature."""
    with app.app_context():
        kid, key = keys.active_key("ES256")
    assert isinstance(key, ECKey)
    return kid, key


# -- what the resource server says -----------------------------------------------------------
def assert_rejected(oauth: OAuthActions, conf: RegisteredClient, token: str) -> None:
    """401 invalid_token at /userinfo and exactly ``{"active": false}`` at /introspect."""
    response = oauth.userinfo(token)
    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    assert response.json is not None and response.json["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    introspection = oauth.introspect(conf, token)
    assert introspection.status_code == 200
    assert introspection.json == {"active": False}


def assert_accepted(oauth: OAuthActions, token: str) -> TestResponse:
    response = oauth.userinfo(token)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


@pytest.fixture
def issued(oauth: OAuthActions, conf: RegisteredClient, bob: Any) -> dict[str, Any]:
    """A real token response for bob and ``conf`` (openid profile email photos.read)."""
    return oauth.tokens_for(conf, scope="openid profile email photos.read", nonce="n-1")


@pytest.fixture
def access_token(issued: dict[str, Any]) -> str:
    return str(issued["access_token"])


@pytest.fixture
def jwks(client: FlaskClient, access_token: str) -> dict[str, Any]:
    response = client.get("/jwks.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json  # type: ignore[assignment]
    return data


@contextmanager
def attacker_server(body: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that serves ``body`` and records every request it gets."""
    hits: list[str] = []
    payload = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- RFC 9068: what a genuine access token looks like ----------------------------------------
@pytest.mark.parametrize(
    ("app_config", "ttl"),
    [({}, 600), ({"OAUTH_ACCESS_TOKEN_TTL": 120}, 120)],
    indirect=["app_config"],
)
def test_access_token_is_an_rfc9068_jwt_signed_es256_with_a_published_key(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, client: FlaskClient, ttl: int
) -> None:
    before = int(time.time())
    body = oauth.tokens_for(conf, scope="openid profile photos.read")
    token = body["access_token"]
    header, claims, _ = parts_of(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert isinstance(header["kid"], str) and header["kid"]
    assert body["expires_in"] == ttl
    assert claims["iss"] == "http://127.0.0.1:5000"
    assert claims["sub"] == str(bob.id)
    assert claims["aud"] == "http://127.0.0.1:5000/api/v1"
    assert claims["client_id"] == conf.client_id
    assert claims["scope"] == "openid profile photos.read"
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert before - 1 <= claims["iat"] <= int(time.time()) + 1
    assert claims["exp"] - claims["iat"] == ttl
    published = client.get("/jwks.json").json
    assert published is not None
    [jwk] = [k for k in published["keys"] if k["kid"] == header["kid"]]
    assert jwk["alg"] == "ES256"
    verified = jwt.decode(token, KeySet.import_key_set(published), algorithms=["ES256"])
    assert verified.claims == claims


def test_every_access_token_has_its_own_jti(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    first = parts_of(oauth.tokens_for(conf)["access_token"])[1]
    second = parts_of(oauth.tokens_for(conf)["access_token"])[1]
    assert first["jti"] != second["jti"]


def test_client_credentials_access_token_names_the_client_as_subject(
    oauth: OAuthActions, cc: RegisteredClient
) -> None:
    response = oauth.token(cc, grant_type="client_credentials", scope="photos.read")
    assert response.status_code == 200
    assert response.json is not None
    header, claims, _ = parts_of(response.json["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256"
    assert claims["sub"] == cc.client_id == claims["client_id"]
    assert claims["scope"] == "photos.read"


def test_genuine_access_token_is_accepted_and_introspects_active(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, bob: Any
) -> None:
    assert assert_accepted(oauth, access_token).json["sub"] == str(bob.id)  # type: ignore[index]
    introspection = oauth.introspect(conf, access_token).json
    assert introspection is not None
    assert introspection["active"] is True
    assert introspection["sub"] == str(bob.id)


def test_token_re_signed_by_this_test_with_the_server_key_is_accepted(
    app: Flask, oauth: OAuthActions, access_token: str
) -> None:
    """Control for the forgeries below: the hand-rolled signer makes tokens the server takes."""
    header, claims, _ = parts_of(access_token)
    kid, key = server_es256_key(app)
    assert header["kid"] == kid
    assert_accepted(oauth, es256_compact(header, claims, key))


# -- JW-01: alg none ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alg", "keep_signature"),
    [("none", False), ("None", False), ("NONE", False), ("none", True)],
)
def test_access_token_re_encoded_with_alg_none_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, alg: str, keep_signature: bool
) -> None:
    header, claims, signature = parts_of(access_token)
    forged = f"{b64json(header | {'alg': alg})}.{b64json(claims)}."
    if keep_signature:
        forged += signature
    assert_rejected(oauth, conf, forged)


# -- JW-02: HMAC keyed with public material -------------------------------------------------
def _hmac_secrets(jwks: dict[str, Any]) -> dict[str, bytes]:
    ec_jwk = next(k for k in jwks["keys"] if k["kty"] == "EC")
    rsa_jwk = next(k for k in jwks["keys"] if k["kty"] == "RSA")
    ec_key = ECKey.import_key(ec_jwk)
    rsa_key = RSAKey.import_key(rsa_jwk)
    return {
        "empty": b"",
        "ec-pem": ec_key.as_pem(private=False),
        "rsa-pem": rsa_key.as_pem(private=False),
        "ec-jwk-json": json.dumps(ec_jwk).encode(),
        "rsa-n": unb64(rsa_jwk["n"]),
    }


@pytest.mark.parametrize(
    ("alg", "secret_name"),
    [
        ("HS256", "empty"),
        ("HS256", "ec-pem"),
        ("HS256", "rsa-pem"),
        ("HS256", "ec-jwk-json"),
        ("HS256", "rsa-n"),
        ("HS512", "ec-pem"),
    ],
)
def test_access_token_mac_signed_with_public_key_material_or_empty_secret_is_rejected(
    oauth: OAuthActions,
    conf: RegisteredClient,
    access_token: str,
    jwks: dict[str, Any],
    secret_name: str,
    alg: str,
) -> None:
    header, claims, _ = parts_of(access_token)
    secret = _hmac_secrets(jwks)[secret_name]
    digest = hashlib.sha512 if alg == "HS512" else hashlib.sha256
    signing_input = f"{b64json(header | {'alg': alg})}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    assert_rejected(oauth, conf, f"{signing_input}.{b64(mac)}")


# -- JW-03: the token's header cannot pick the key ------------------------------------------
@pytest.mark.parametrize(
    "kid",
    ["../../dev/null", "' OR 1=1--", "unknown-kid", "", "x" * 200, None],
)
def test_forged_token_with_a_tricky_kid_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, kid: str | None
) -> None:
    header, claims, _ = parts_of(access_token)
    attacker = ECKey.generate_key("P-256", private=True)
    forged_header = {k: v for k, v in (header | {"kid": kid}).items() if v is not None}
    assert_rejected(oauth, conf, es256_compact(forged_header, claims, attacker))


def test_token_naming_the_servers_rsa_kid_but_signed_by_an_attacker_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, jwks: dict[str, Any]
) -> None:
    header, claims, _ = parts_of(access_token)
    rsa_kid = next(k["kid"] for k in jwks["keys"] if k["kty"] == "RSA")
    attacker = ECKey.generate_key("P-256", private=True)
    assert_rejected(oauth, conf, es256_compact(header | {"kid": rsa_kid}, claims, attacker))


@pytest.mark.parametrize("kid_choice", ["server", "attacker"])
def test_embedded_jwk_header_cannot_supply_the_verification_key(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, kid_choice: str
) -> None:
    header, claims, _ = parts_of(access_token)
    attacker = ECKey.generate_key("P-256", private=True)
    public = attacker.as_dict(private=False)
    kid = header["kid"] if kid_choice == "server" else attacker.thumbprint()
    forged = es256_compact(header | {"kid": kid, "jwk": public}, claims, attacker)
    assert_rejected(oauth, conf, forged)


@pytest.mark.parametrize("member", ["jku", "x5u"])
@pytest.mark.parametrize("kid_choice", ["server", "attacker"])
def test_jku_or_x5u_header_is_never_fetched_and_the_token_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, member: str, kid_choice: str
) -> None:
    header, claims, _ = parts_of(access_token)
    attacker = ECKey.generate_key("P-256", private=True)
    kid = header["kid"] if kid_choice == "server" else attacker.thumbprint()
    attacker_jwks = {"keys": [attacker.as_dict(private=False) | {"kid": kid, "alg": "ES256"}]}
    with attacker_server(attacker_jwks) as (url, hits):
        forged_header = header | {"kid": kid, member: f"{url}/jwks.json"}
        assert_rejected(oauth, conf, es256_compact(forged_header, claims, attacker))
        assert hits == [], f"the server fetched {hits} from the attacker"


# -- JW-04: exp, iss, and tokens from another Tessera ----------------------------------------
@pytest.mark.parametrize("app_config", [{"OAUTH_ACCESS_TOKEN_TTL": 2}], indirect=True)
def test_access_token_is_refused_once_its_lifetime_has_passed(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any, clock: Clock
) -> None:
    body = oauth.tokens_for(conf)
    assert body["expires_in"] == 2
    assert_accepted(oauth, body["access_token"])
    clock.advance(3)
    assert_rejected(oauth, conf, body["access_token"])


def _claim_variants(claims: dict[str, Any]) -> dict[str, dict[str, Any]]:
    now = int(time.time())
    return {
        "iss-array": claims | {"iss": [claims["iss"]]},
        "iss-other": claims | {"iss": SECOND_ISSUER},
        "iss-trailing-slash": claims | {"iss": claims["iss"] + "/"},
        "iss-missing": {k: v for k, v in claims.items() if k != "iss"},
        "exp-past": claims | {"exp": now - 60, "iat": now - 660},
        "exp-missing": {k: v for k, v in claims.items() if k != "exp"},
        "nbf-future": claims | {"nbf": now + 3600},
        "iat-future": claims | {"iat": now + 3600, "exp": now + 4200},
        "sub-missing": {k: v for k, v in claims.items() if k != "sub"},
    }


@pytest.mark.parametrize(
    "variant",
    [
        "iss-array",
        "iss-other",
        "iss-trailing-slash",
        "iss-missing",
        "exp-past",
        "exp-missing",
        "nbf-future",
        "iat-future",
        "sub-missing",
    ],
)
def test_validly_signed_token_with_a_bad_registered_claim_is_rejected(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, access_token: str, variant: str
) -> None:
    header, claims, _ = parts_of(access_token)
    _, key = server_es256_key(app)
    assert_rejected(oauth, conf, es256_compact(header, _claim_variants(claims)[variant], key))


@pytest.mark.parametrize("typ", ["JWT", None])
def test_validly_signed_token_without_the_at_jwt_type_is_rejected(
    app: Flask, oauth: OAuthActions, conf: RegisteredClient, access_token: str, typ: str | None
) -> None:
    header, claims, _ = parts_of(access_token)
    _, key = server_es256_key(app)
    forged_header = {k: v for k, v in (header | {"typ": typ}).items() if v is not None}
    assert_rejected(oauth, conf, es256_compact(forged_header, claims, key))


def test_id_token_is_not_accepted_as_an_access_token(
    oauth: OAuthActions, conf: RegisteredClient, issued: dict[str, Any]
) -> None:
    assert_rejected(oauth, conf, issued["id_token"])


@pytest.fixture
def second_tessera(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """Another Tessera deployment (issuer http://localhost:5001) on the same database."""
    other = create_app(app_config | {"OAUTH_ISSUER": SECOND_ISSUER})
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_token_from_a_second_tessera_with_another_issuer_is_rejected(
    second_tessera: Flask, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    elsewhere = OAuthActions(second_tessera.test_client(), SECOND_ISSUER)
    body = elsewhere.tokens_for(conf)
    assert parts_of(body["access_token"])[1]["iss"] == SECOND_ISSUER
    assert_accepted(elsewhere, body["access_token"])  # a real token where it was issued
    assert_rejected(oauth, conf, body["access_token"])


def test_token_signed_by_another_key_under_the_same_kid_and_issuer_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str
) -> None:
    header, claims, _ = parts_of(access_token)
    other_deployment_key = ECKey.generate_key("P-256", private=True)
    assert_rejected(oauth, conf, es256_compact(header, claims, other_deployment_key))


# -- JW-05: tampered payload, original signature --------------------------------------------
@pytest.mark.parametrize(
    "change",
    ["sub", "scope", "client_id", "exp", "aud"],
)
def test_tampered_payload_under_the_original_signature_is_rejected(
    oauth: OAuthActions,
    conf: RegisteredClient,
    access_token: str,
    alice: Any,
    change: str,
) -> None:
    header, claims, signature = parts_of(access_token)
    changed = {
        "sub": {"sub": str(alice.id)},
        "scope": {"scope": claims["scope"] + " photos.write"},
        "client_id": {"client_id": "someone-else"},
        "exp": {"exp": claims["exp"] + 86400},
        "aud": {"aud": "https://other.test/api"},
    }[change]
    forged = f"{b64json(header)}.{b64json(claims | changed)}.{signature}"
    assert_rejected(oauth, conf, forged)


def test_flipping_one_signature_bit_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str
) -> None:
    head, payload, signature = access_token.split(".")
    raw = bytearray(unb64(signature))
    raw[-1] ^= 1
    assert_rejected(oauth, conf, f"{head}.{payload}.{b64(bytes(raw))}")


# -- JW-06: crit and JSON serialization -----------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [{"crit": ["x"], "x": 1}, {"crit": ["exp"]}],
    ids=["crit-unknown", "crit-exp"],
)
def test_validly_signed_token_with_a_crit_header_is_rejected(
    app: Flask,
    oauth: OAuthActions,
    conf: RegisteredClient,
    access_token: str,
    extra: dict[str, Any],
) -> None:
    header, claims, _ = parts_of(access_token)
    _, key = server_es256_key(app)
    assert_rejected(oauth, conf, es256_compact(header | extra, claims, key))


@pytest.mark.parametrize("form", ["flattened", "general"])
def test_json_serialized_jws_of_a_genuine_token_is_rejected(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, form: str
) -> None:
    protected, payload, signature = access_token.split(".")
    document: dict[str, Any] = (
        {"protected": protected, "payload": payload, "signature": signature}
        if form == "flattened"
        else {"payload": payload, "signatures": [{"protected": protected, "signature": signature}]}
    )
    assert_rejected(oauth, conf, json.dumps(document, separators=(",", ":")))


# -- JW-07: oversized tokens fail fast ------------------------------------------------------
EIGHT_MB = 8 * 1024 * 1024


@pytest.mark.parametrize("shape", ["flat", "jwt-like"])
def test_eight_megabyte_bearer_header_fails_fast_and_the_server_keeps_answering(
    oauth: OAuthActions, access_token: str, shape: str
) -> None:
    head = access_token.split(".")[0]
    huge = "A" * EIGHT_MB if shape == "flat" else f"{head}.{'A' * EIGHT_MB}.{'A' * 86}"
    started = time.monotonic()
    response = oauth.http.get("/userinfo", headers={"Authorization": f"Bearer {huge}"})
    elapsed = time.monotonic() - started
    assert response.status_code in (401, 413, 431)
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert len(response.get_data()) < 4096
    assert_accepted(oauth, access_token)


@pytest.mark.parametrize("path", ["/userinfo", "/introspect"])
def test_eight_megabyte_token_in_a_form_body_is_refused_before_parsing(
    oauth: OAuthActions, conf: RegisteredClient, access_token: str, path: str
) -> None:
    field = "access_token" if path == "/userinfo" else "token"
    started = time.monotonic()
    response = oauth.post(path, conf if path == "/introspect" else None, **{field: "A" * EIGHT_MB})
    elapsed = time.monotonic() - started
    assert response.status_code == 413
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert_accepted(oauth, access_token)
