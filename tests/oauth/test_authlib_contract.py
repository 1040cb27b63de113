"""Contract tests: what ``app.oauth.authlib_seam`` relies on still holds in the installed authlib.

One test per item of the seam's docstring. Each failure names the seam item and what changed
in authlib, so an upgrade that breaks Tessera's assumptions fails here, loudly, rather than as
a subtle change of behaviour somewhere in the OAuth suite. No database is needed.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import time
from pathlib import Path
from typing import Any

import authlib
import pytest
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientAuthentication,
    InvalidClientError,
    InvalidRequestError,
    OAuth2Error,
    grants,
)
from authlib.oauth2.rfc6749.hooks import Hookable
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.datastructures import MultiDict

import app.oauth
from app.oauth import authlib_seam as seam

AUTHLIB = f"authlib {authlib.__version__}"
ROOT = Path(__file__).resolve().parents[2]


def broken(item: str, what: str) -> str:
    return f"authlib_seam {item}: {what} ({AUTHLIB}); see app/oauth/authlib_seam.py"


# -- 8. every override: the method is still there, called with the same parameters ----------
def _parameters(attribute: Any) -> tuple[str, ...] | None:
    """Parameter names of a method (None: a property, which has none)."""
    if isinstance(attribute, property):
        return None
    if isinstance(attribute, staticmethod | classmethod):
        attribute = attribute.__func__
    return tuple(inspect.signature(_unhooked(attribute)).parameters)


def _unhooked(function: Any) -> Any:
    """The method inside authlib's ``hooked`` wrapper (which does not use functools.wraps)."""
    if function.__name__ != "wrapper":
        return function
    inner = [c.cell_contents for c in function.__closure__ or () if callable(c.cell_contents)]
    return inner[0] if len(inner) == 1 else function


def _authlib_attribute(cls: type, name: str) -> Any:
    for base in cls.__mro__:
        if base.__module__.startswith("authlib") and name in vars(base):
            return vars(base)[name]
    return None


@pytest.mark.parametrize(
    ("cls", "name", "expected"),
    seam.OVERRIDES,
    ids=[f"{cls.__name__}.{name}" for cls, name, _ in seam.OVERRIDES],
)
def test_overridden_method_keeps_its_signature(cls: type, name: str, expected: tuple) -> None:
    attribute = _authlib_attribute(cls, name)
    assert attribute is not None, broken(
        "8",
        f"{cls.__qualname__}.{name} is gone; Tessera overrides it and authlib no longer calls it",
    )
    parameters = _parameters(attribute)
    if parameters is None:
        assert expected == (), broken("8", f"{cls.__qualname__}.{name} became a property")
        return
    assert parameters == expected, broken(
        "8", f"{cls.__qualname__}.{name} now takes {parameters}, Tessera's override {expected}"
    )


def _tessera_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(app.oauth.__path__, "app.oauth."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == info.name:
                found.append(value)
    return found


def _overridden_names(cls: type) -> set[str]:
    """Names a Tessera class (or a Tessera mixin of it) defines over an authlib base's."""
    own = set()
    for base in cls.__mro__:
        if base.__module__.startswith("app."):
            own |= {
                n for n, v in vars(base).items()
                if (callable(v) or isinstance(v, property | staticmethod | classmethod))
                and (not n.startswith("__") or n == "__init__")
            }  # fmt: skip
    return {name for name in own if _authlib_attribute(cls, name) is not None}


def test_every_override_is_listed_in_the_seam() -> None:
    """A new override of an authlib method must be declared in ``OVERRIDES`` (and so checked)."""
    missing = []
    for cls in _tessera_classes():
        for name in sorted(_overridden_names(cls)):
            if not any(
                issubclass(cls, listed) and listed_name == name
                for listed, listed_name, _ in seam.OVERRIDES
            ):
                missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert not missing, f"authlib overrides missing from authlib_seam.OVERRIDES: {missing}"


# -- house rule: authlib internals are touched only in the seam ------------------------------
INTERNALS = re.compile(
    r"\.(execute_hook\(|_client_auth\b|_token_grants\b|_authorization_grants\b|_endpoints\b"
    r"|_extensions\b|_hooks\b|_methods\b|_token_generators\b)"
    r"|\bin\s+\w+\.description\b|\.description\s*(==|!=|\.startswith)"
)


def test_no_module_but_the_seam_reaches_into_authlib() -> None:
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path.name == "authlib_seam.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INTERNALS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, (
        "authlib internals (private attributes, hand-fired hooks, matching error text) "
        f"belong in app/oauth/authlib_seam.py: {offenders}"
    )


# -- 1, 2. hooks ---------------------------------------------------------------------------
class _HookFired(Exception):
    pass


def _first_hook(method: Any) -> list[str]:
    """The hooks ``method`` fires before doing anything else (it is stopped at the first)."""
    fired: list[str] = []

    class Probe(Hookable):
        request = None

        def execute_hook(self, name: str, *args: Any, **kwargs: Any) -> None:
            fired.append(name)
            raise _HookFired

    with pytest.raises(_HookFired):
        method(Probe())
    return fired


@pytest.mark.parametrize(
    "grant_cls",
    [grants.AuthorizationCodeGrant, grants.RefreshTokenGrant, grants.ClientCredentialsGrant],
    ids=lambda cls: cls.__name__,
)
def test_token_response_hook_fires_before_tokens_are_created(grant_cls: type) -> None:
    """Item 1: DPoPBinding refuses on TOKEN_RESPONSE_HOOK before a code or refresh token is
    spent; authlib must fire it first thing in create_token_response."""
    fired = _first_hook(grant_cls.create_token_response)
    assert fired == [seam.TOKEN_RESPONSE_HOOK], broken(
        "1",
        f"{grant_cls.__name__}.create_token_response fires {fired} first, not "
        f"{seam.TOKEN_RESPONSE_HOOK!r}",
    )


def test_token_response_hooks_decorator_fires_the_same_hooks() -> None:
    """Item 2: the device grant's own create_token_response fires the hooks authlib's do."""
    calls: list[str] = []

    class Authorization(Hookable):
        @seam.token_response_hooks
        def issue(self) -> str:
            calls.append("body")
            return "result"

    grant = Authorization()
    grant.register_hook(seam.TOKEN_RESPONSE_HOOK, lambda g: calls.append("before"))
    grant.register_hook(seam.AFTER_TOKEN_RESPONSE_HOOK, lambda g, r: calls.append(f"after {r}"))
    assert grant.issue() == "result"
    assert calls == ["before", "body", "after result"], broken(
        "2", f"authlib's hooked(before=, after=) ran {calls}"
    )


def test_authorization_payload_hook_runs_after_redirect_uri_validation() -> None:
    """Item 1: PAR, resource indicators, request objects and dpop_jkt raise on
    AUTHORIZATION_PAYLOAD_HOOK, relying on authlib to attach the validated redirect_uri."""

    class Payload:
        client_id = "c"
        redirect_uri = "https://client.example/cb"
        response_type = "code"
        scope = ""
        state = "s"

    class Client:
        def check_redirect_uri(self, uri: str) -> bool:
            return True

        def check_response_type(self, response_type: str) -> bool:
            return True

        def get_allowed_scope(self, scope: str) -> str:
            return ""

    class Server:
        scopes_supported = None

        def query_client(self, client_id: str) -> Client:
            return Client()

        def validate_requested_scope(self, scope: str) -> None:
            return None

    class Request:
        payload = Payload()
        client = None
        scope = None

    grant = grants.AuthorizationCodeGrant(Request(), Server())

    def refuse(grant: Any, result: Any) -> None:
        raise InvalidRequestError("refused by an extension")

    grant.register_hook(seam.AUTHORIZATION_PAYLOAD_HOOK, refuse)
    with pytest.raises(OAuth2Error) as raised:
        grant.validate_authorization_request()
    assert raised.value.redirect_uri == Payload.redirect_uri, broken(
        "1", f"an error raised on {seam.AUTHORIZATION_PAYLOAD_HOOK!r} is no longer redirected"
    )


def test_pkce_hooks_are_the_ones_tessera_overrides() -> None:
    """pkce.S256CodeChallenge overrides the two callbacks CodeChallenge registers."""
    registered: dict[str, Any] = {}

    class Authorization:
        def register_hook(self, name: str, hook: Any) -> None:
            registered[name] = hook

    challenge = CodeChallenge()
    challenge(Authorization())
    expected = {
        seam.AUTHORIZATION_PAYLOAD_HOOK: challenge.validate_code_challenge,
        "after_validate_token_request": challenge.validate_code_verifier,
    }
    assert registered == expected, broken(
        "8", f"CodeChallenge registers {sorted(registered)}, Tessera overrides their callbacks"
    )


# -- 3. grants built as authlib builds them ------------------------------------------------
def test_create_grant_builds_grants_as_authlib_does() -> None:
    seen: list[Any] = []

    class Payload:
        grant_type = "probe"

    class Request:
        payload = Payload()
        method = "POST"

    class Probe(grants.BaseGrant, grants.TokenEndpointMixin):  # type: ignore[misc]
        GRANT_TYPE = "probe"

    server = AuthorizationServer()
    server.register_grant(Probe, [seen.append])
    request = Request()
    theirs = server.get_token_grant(request)
    ours = seam.build_grant(Probe, [seen.append], request, server)
    assert seen == [theirs, ours], broken("3", "extensions are no longer called with the grant")
    assert (type(theirs), theirs.request, theirs.server) == (Probe, ours.request, ours.server), (
        broken("3", "authlib builds grants differently")
    )


# -- 4. one client authentication method -----------------------------------------------------
class _Client:
    def __init__(self, method: str) -> None:
        self.method = method

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.method

    def check_client_secret(self, secret: str) -> bool:
        return secret == "s"


class _Payload:
    def __init__(self, data: dict[str, str]) -> None:
        self.data = data
        self.client_id = data.get("client_id")


class _Request:
    def __init__(self, data: dict[str, str]) -> None:
        self.payload = _Payload(data)
        self.form = data
        self.headers: dict[str, str] = {}
        self.auth_method = None


CLIENTS = {"public": _Client("none"), "confidential": _Client("client_secret_post")}


@pytest.mark.parametrize(
    "data",
    [
        {"client_id": "public"},
        {"client_id": "confidential"},
        {"client_id": "public", "client_secret": "s"},
        {},
        {"client_id": "unknown"},
    ],
    ids=["public", "confidential", "secret-sent", "no-client_id", "unknown"],
)
def test_authenticate_method_is_one_turn_of_authlibs_loop(data: dict[str, str]) -> None:
    """Item 4: for "none", the seam answers what authlib's ClientAuthentication answers (a
    client, or for a refusal None where authlib raises "cannot authenticate")."""
    registry = ClientAuthentication(CLIENTS.get)
    try:
        theirs = registry(_Request(data), ["none"], "token")
    except InvalidClientError as error:
        theirs = error.description
    try:
        ours = seam.authenticate_method(
            "none", seam.AUTHENTICATE_NONE, CLIENTS.get, _Request(data), "token"
        )
    except InvalidClientError as error:
        ours = error.description
    if ours is None:
        assert isinstance(theirs, str) and "cannot authenticate" in theirs, broken(
            "4", f"authlib now answers {theirs!r} where the seam refuses"
        )
    else:
        assert ours == theirs, broken("4", f"authlib answers {theirs!r}, the seam {ours!r}")


def test_authenticate_none_signature() -> None:
    parameters = tuple(inspect.signature(seam.AUTHENTICATE_NONE).parameters)
    assert parameters == ("query_client", "request"), broken(
        "4", f"authenticate_none takes {parameters}"
    )


def test_private_key_jwt_steps_run_in_order() -> None:
    """client_auth.PrivateKeyJWT reads the kid in extract_assertion and uses it in
    resolve_client_public_key, and checks the method in authenticate_method instead of
    authenticate_client: authlib must call them in this order, all of them."""
    key = ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {"iss": "c", "sub": "c", "aud": "https://as", "exp": now + 60, "jti": "j"}
    assertion = jwt.encode({"alg": "ES256", "kid": "k"}, claims, key)
    calls: list[str] = []

    class Probe(JWTBearerClientAssertion):  # type: ignore[misc]
        def extract_assertion(self, assertion: str) -> Any:
            calls.append("extract_assertion")
            return super().extract_assertion(assertion)

        def resolve_client_public_key(self, client: Any) -> Any:
            calls.append("resolve_client_public_key")
            return key

        def get_audiences(self) -> list[str]:
            return ["https://as"]

        def verify_claims(self, claims: Any) -> None:
            calls.append("verify_claims")
            super().verify_claims(claims)

        def validate_jti(self, claims: Any, jti: Any) -> bool:
            calls.append("validate_jti")
            return True

        def authenticate_client(self, client: Any) -> Any:
            calls.append("authenticate_client")
            return client

    client = _Client("private_key_jwt")
    request = _Request(
        {"client_assertion_type": Probe.CLIENT_ASSERTION_TYPE, "client_assertion": assertion}
    )
    assert Probe(validate_jti=True, leeway=10)(lambda _: client, request) is client
    expected = [
        "extract_assertion", "resolve_client_public_key", "verify_claims", "validate_jti",
        "authenticate_client",
    ]  # fmt: skip
    assert calls == expected, broken("8", f"JWTBearerClientAssertion now calls {calls}")


# -- 5. HTTP Basic --------------------------------------------------------------------------
def test_basic_authorization_is_read_and_form_decoded() -> None:
    import base64

    header = "Basic " + base64.b64encode(b"my%3Aid:p%40ss").decode()
    assert seam.read_basic_authorization(header) == ("my:id", "p@ss"), broken(
        "5", "extract_basic_authorization no longer form-decodes (RFC 6749 §2.3.1)"
    )


@pytest.mark.parametrize("header", ["Basic \xa0", "Basic " + "\xff" * 4])
def test_malformed_basic_authorization_raises_value_error(header: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the seam relies on exactly this type
        seam.read_basic_authorization(header)


# -- 6. a request object with given parameters -----------------------------------------------
def test_parameters_request_replaces_what_authlib_reads() -> None:
    parameters = MultiDict(
        [("client_id", "c"), ("response_type", "code"), ("state", "s"), ("resource", "a"),
         ("resource", "b")]
    )  # fmt: skip
    flask_app = Flask(__name__)
    with flask_app.test_request_context("/authorize?client_id=other&state=query"):
        request = seam.ParametersRequest(parameters)
        read = (
            request.payload.client_id, request.payload.response_type, request.payload.state,
            request.payload.datalist["resource"], request.args.get("state"),
        )  # fmt: skip
        assert read == ("c", "code", "s", ["a", "b"], "s"), broken(
            "6", f"FlaskOAuth2Request no longer reads its payload attribute: {read}"
        )
        grants.AuthorizationCodeGrant.validate_no_multiple_request_parameter(request)


# -- 7. RFC 9207 iss by hand -------------------------------------------------------------------
def test_add_issuer_parameter_adds_iss_to_a_redirect() -> None:
    class Issuer(IssuerParameter):  # type: ignore[misc]
        def get_issuer(self) -> str:
            return "https://as.example"

    class Response:
        location = "https://client.example/cb?error=access_denied"

    response = Response()
    seam.add_issuer_parameter(Issuer(), None, response)
    assert response.location.endswith("&iss=https%3A%2F%2Fas.example"), broken(
        "7", f"add_issuer_parameter left {response.location}"
    )


# -- 9. an unprintable error description is a ValueError -------------------------------------
def test_error_with_forbidden_characters_raises_value_error() -> None:
    """server.get_authorization_grant turns this ValueError (authlib puts the requested
    response_type in its description) into unsupported_response_type."""
    with pytest.raises(ValueError):  # noqa: PT011 - the server catches exactly this type
        OAuth2Error(description='bad "quote"\x01')


# -- OpenID Connect: the legacy ID token hooks Tessera overrides are still the ones used -------
def test_id_token_encoding_calls_the_overridden_hooks() -> None:
    key = ECKey.generate_key("P-256")
    calls: list[str] = []

    class Probe(OpenIDCode):  # type: ignore[misc]
        def get_client_algorithm(self, client: Any) -> str:
            calls.append("get_client_algorithm")
            return "ES256"

        def get_encode_header(self, client: Any) -> dict[str, str]:
            calls.append("get_encode_header")
            return {"alg": "ES256", "kid": "k"}

        def get_client_claims(self, client: Any) -> dict[str, Any]:
            calls.append("get_client_claims")
            return {"iss": "https://as", "aud": ["c"]}

        def resolve_client_private_key(self, client: Any) -> Any:
            calls.append("resolve_client_private_key")
            return key

        def generate_user_info(self, user: Any, scope: str) -> dict[str, str]:
            calls.append("generate_user_info")
            return {"sub": "1"}

    class Client:
        def get_client_id(self) -> str:
            return "c"

    class Request:
        client = Client()
        authorization_code = None
        user = object()

    token = Probe().encode_id_token({"scope": "openid", "access_token": "a"}, Request())
    assert jwt.decode(token, key).header["kid"] == "k"
    assert sorted(calls) == sorted(
        ["get_client_algorithm", "get_encode_header", "get_client_claims",
         "resolve_client_private_key", "generate_user_info"]
    ), broken("8", f"OpenIDCode.encode_id_token now calls {calls}")  # fmt: skip


# -- Revocation: authenticate_token still validates with check_params -----------------------
def test_revocation_check_params_refuses_what_tessera_expects() -> None:
    """revocation_introspection.Revocation.authenticate_token calls check_params itself."""
    endpoint = RevocationEndpoint.__new__(RevocationEndpoint)
    endpoint.SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")
    for form, error in (
        ({}, "invalid_request"),
        ({"token": "t", "token_type_hint": "x"}, "unsupported_token_type"),
    ):
        with pytest.raises(OAuth2Error) as raised:
            endpoint.check_params(_Request(form), None)
        assert raised.value.error == error, broken("8", f"check_params raised {raised.value.error}")
