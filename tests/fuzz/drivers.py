"""Request drivers: one per fuzzed endpoint, each able to put any value into any one field.

A driver starts from a request that would succeed (or get deep into the endpoint) and
replaces one field with the fuzzed value; ``extra`` pairs are appended as they are (repeated
or unknown parameters). ``shape`` sends one of the corpus' whole-request attacks.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.conftest import image_bytes
from tests.fuzz.conftest import World
from tests.fuzz.wire import (
    PAD,
    Pairs,
    Value,
    body_shape,
    doubled,
    encode,
    latin1,
    multipart,
    patch_body,
    post_form,
    raw,
    replaced,
)
from tests.helpers import csrf_token_from
from tests.oauth.helpers import CONSENT_TICKET, OAuthActions, pkce_pair


class AuthorizeDriver:
    """GET /authorize as bob (signed in, consent asked again), one parameter fuzzed."""

    name = "authorize"
    fields = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
              "code_challenge_method", "nonce", "prompt", "max_age")  # fmt: skip

    def __init__(self, world: World) -> None:
        self.http = world.signed_in("bob")
        _, challenge = pkce_pair()
        self.base: list[tuple[Value, Value]] = [
            ("response_type", "code"), ("client_id", world.conf.client_id),
            ("redirect_uri", world.conf.redirect_uri), ("scope", "openid profile photos.read"),
            ("state", "st-1"), ("code_challenge", challenge), ("code_challenge_method", "S256"),
            ("nonce", "n-1"), ("prompt", "consent"),
        ]  # fmt: skip

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        return self.http.get("/authorize?" + encode(replaced(self.base, field, value, extra)))

    def shape(self, shape: str) -> TestResponse:
        if shape == "repeated_parameters":
            return self.http.get("/authorize?" + encode(doubled(self.base)))
        if shape == "raw_invalid_utf8_query":
            query = encode(self.base) + "&state=\xff\xfe"
            return self.http.get("/authorize", environ_overrides={"QUERY_STRING": query})
        if shape == "overlong_query":
            return self.http.get("/authorize?" + encode(self.base) + "&pad=" + PAD)
        if shape == "overlong_path":
            return self.http.get("/authorize/" + "a" * 100_000 + "?" + encode(self.base))
        return body_shape(
            self.http, "/authorize?" + encode(self.base), shape, [("decision", "allow")]
        )


class TokenDriver:
    """POST /token for one grant type, authenticated as the client that may use it."""

    name = "token"
    GRANTS = ("authorization_code", "refresh_token", "client_credentials", "unknown")
    FIELDS = {
        "authorization_code": ("code", "redirect_uri", "code_verifier", "client_id",
                               "authorization"),
        "refresh_token": ("refresh_token", "scope", "authorization"),
        "client_credentials": ("scope", "client_id", "client_secret", "authorization"),
        "unknown": ("grant_type", "authorization"),
    }  # fmt: skip

    def __init__(self, world: World, grant: str = "client_credentials") -> None:
        self.world = world
        self.grant = grant
        self.fields = self.FIELDS[grant]
        self.http = world.app.test_client()
        self.refresh_token = ""
        if grant == "refresh_token":  # a grant of its own: rotation here never touches world's
            oauth = OAuthActions(world.app.test_client(), world.app.config["OAUTH_ISSUER"])
            scope = "openid offline_access photos.read"
            self.refresh_token = oauth.tokens_for(world.conf, scope=scope)["refresh_token"]

    def base(self) -> tuple[list[tuple[Value, Value]], str]:
        """The grant's form and the Basic credentials that go with it."""
        conf, cc = self.world.conf, self.world.cc
        forms: dict[str, list[tuple[Value, Value]]] = {
            "authorization_code": [("grant_type", "authorization_code"), ("code", "c" * 48),
                                   ("redirect_uri", conf.redirect_uri),
                                   ("code_verifier", "v" * 43)],
            "refresh_token": [("grant_type", "refresh_token"),
                              ("refresh_token", self.refresh_token), ("scope", "photos.read")],
            "client_credentials": [("grant_type", "client_credentials"), ("scope", "photos.read")],
            "unknown": [("grant_type", "urn:example:unknown")],
        }  # fmt: skip
        client = cc if self.grant == "client_credentials" else conf
        return forms[self.grant], self.world.basic(client)

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        pairs, basic = self.base()
        if field == "authorization":
            basic, pairs = latin1(value), [*pairs, *extra]
        elif field in ("client_id", "client_secret"):  # client_secret_post: no header
            basic = ""
            secret = self.world.cc.client_secret or ""
            pairs = [*pairs, ("client_id", self.world.cc.client_id), ("client_secret", secret)]
            pairs = replaced(pairs, field, value, extra)
        else:
            pairs = replaced(pairs, field, value, extra)
        overrides = {"HTTP_AUTHORIZATION": basic} if basic else {}
        response = post_form(self.http, "/token", pairs, environ_overrides=overrides)
        self._follow_rotation(response)
        return response

    def _follow_rotation(self, response: TestResponse) -> None:
        """Keep the newest refresh token, so later requests never trip reuse detection."""
        body = response.get_json(silent=True)
        if response.status_code == 200 and isinstance(body, dict) and "refresh_token" in body:
            self.refresh_token = body["refresh_token"]

    def shape(self, shape: str) -> TestResponse:
        pairs, basic = self.base()
        return body_shape(self.http, "/token", shape, pairs,
                          environ_overrides={"HTTP_AUTHORIZATION": basic})  # fmt: skip


class TokenEndpointDriver:
    """POST /revoke or /introspect as PhotoPrint, about a token."""

    fields = ("token", "token_type_hint", "authorization")

    def __init__(self, world: World, path: str) -> None:
        self.world = world
        self.path = path
        self.name = path.strip("/")
        self.http = world.app.test_client()

    def pairs(self) -> list[tuple[Value, Value]]:
        return [("token", "not-a-token"), ("token_type_hint", "refresh_token")]

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        basic: Value = self.world.basic(self.world.conf)
        pairs = self.pairs()
        if field == "authorization":
            basic, pairs = value, [*pairs, *extra]
        else:
            pairs = replaced(pairs, field, value, extra)
        return post_form(self.http, self.path, pairs,
                         environ_overrides={"HTTP_AUTHORIZATION": latin1(basic)})  # fmt: skip

    def shape(self, shape: str) -> TestResponse:
        overrides = {"HTTP_AUTHORIZATION": self.world.basic(self.world.conf)}
        return body_shape(self.http, self.path, shape, self.pairs(), environ_overrides=overrides)


class UserinfoDriver:
    """/userinfo: the bearer token in the header, the raw header, a form body, the query."""

    name = "userinfo"
    fields = ("bearer", "authorization", "form_token", "query_token")

    def __init__(self, world: World) -> None:
        self.world = world
        self.http = world.app.test_client()

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        if field == "form_token":
            return post_form(self.http, "/userinfo", [("access_token", value), *extra])
        if field == "query_token":
            return self.http.get("/userinfo?" + encode([("access_token", value), *extra]))
        header = latin1(b"Bearer " + raw(value)) if field == "bearer" else latin1(value)
        query = "?" + encode(extra) if extra else ""
        return self.http.get("/userinfo" + query, environ_overrides={"HTTP_AUTHORIZATION": header})

    def shape(self, shape: str) -> TestResponse:
        pairs = [("access_token", self.world.access_token)]
        return body_shape(self.http, "/userinfo", shape, pairs)


class LoginDriver:
    """POST /login with the page's CSRF token; the password is never bob's."""

    name = "login"
    fields = ("username", "password", "next")

    def __init__(self, world: World) -> None:
        self.http = world.app.test_client()
        self.csrf = csrf_token_from(self.http.get("/login").get_data(as_text=True))

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        pairs: list[tuple[Value, Value]] = [("csrf_token", self.csrf), ("username", "bob"),
                                            ("password", "not bob's password")]  # fmt: skip
        if field == "next":
            return post_form(self.http, "/login?" + encode([("next", value)]), [*pairs, *extra])
        return post_form(self.http, "/login", replaced(pairs, field, value, extra))

    def shape(self, shape: str) -> TestResponse:
        pairs = [("csrf_token", self.csrf), ("username", "bob"), ("password", "wrong")]
        return body_shape(self.http, "/login", shape, pairs)


class ConsentDriver:
    """POST /authorize (the consent decision) with a real ticket and CSRF token, as bob."""

    name = "consent"
    fields = ("decision", "granted_scope", "consent_ticket", "csrf_token", "query")

    def __init__(self, world: World) -> None:
        self.http = world.signed_in("bob")
        oauth = OAuthActions(self.http, world.app.config["OAUTH_ISSUER"])
        query, _ = oauth.authorize_params(
            world.conf, prompt="consent", scope="openid profile photos.read"
        )
        self.action = "/authorize?" + encode(list(query.items()))  # the form posts back here
        page = self.http.get(self.action)
        html = page.get_data(as_text=True)
        ticket = CONSENT_TICKET.search(html)
        assert page.status_code == 200 and ticket, html[:300]
        self.pairs: list[tuple[Value, Value]] = [
            ("csrf_token", csrf_token_from(html)), ("consent_ticket", ticket.group(1)),
            ("decision", "allow"), ("granted_scope", "profile"), ("granted_scope", "photos.read"),
        ]  # fmt: skip

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        if field == "query":
            return post_form(self.http, self.action + "&" + encode([("x", value)]), self.pairs)
        pairs = [(k, v) for k, v in self.pairs if k != field] + [(field, value)]
        return post_form(self.http, self.action, [*pairs, *extra])

    def shape(self, shape: str) -> TestResponse:
        return body_shape(self.http, self.action, shape, self.pairs)


class AdminClientFormDriver:
    """POST /admin/clients/new as root; every other field holds a valid registration."""

    name = "admin_client_form"
    fields = ("client_name", "redirect_uris", "grant_types", "scope", "token_endpoint_auth_method",
              "jwks_uri", "logo_uri", "client_uri", "post_logout_redirect_uris")  # fmt: skip

    def __init__(self, admin: FlaskClient, csrf: bool = True) -> None:
        self.http = admin  # signed in as an admin
        page = self.http.get("/admin/clients/new").get_data(as_text=True)
        self.csrf = [("csrf_token", csrf_token_from(page))] if csrf else []

    def pairs(self) -> list[tuple[Value, Value]]:
        return [*self.csrf, ("client_name", "Fuzzed app"), ("redirect_uris", "https://app.test/cb"),
                ("grant_types", "authorization_code"), ("scope", "openid photos.read"),
                ("token_endpoint_auth_method", "client_secret_basic")]  # fmt: skip

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        return post_form(
            self.http, "/admin/clients/new", replaced(self.pairs(), field, value, extra)
        )

    def shape(self, shape: str) -> TestResponse:
        return body_shape(self.http, "/admin/clients/new", shape, self.pairs())


class UploadDriver:
    """A multipart photo upload, by the API (bearer) or the My photos page (CSRF)."""

    fields = ("file", "filename", "part_content_type", "title", "description", "field_name")

    def __init__(self, world: World, surface: str = "api") -> None:
        self.surface = surface
        self.name = f"upload_{surface}"
        if surface == "api":
            self.http = world.app.test_client()
            self.path, self.file_field = "/api/v1/photos", "file"
            self.overrides = {"HTTP_AUTHORIZATION": f"Bearer {world.access_token}"}
            self.form: list[tuple[Value, Value]] = []
        else:
            self.http = world.signed_in("bob")
            self.path, self.file_field, self.overrides = "/account/photos", "photo", {}
            page = self.http.get("/account/photos").get_data(as_text=True)
            self.form = [("csrf_token", csrf_token_from(page))]

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        part = {"file": image_bytes(), "filename": "x.png", "part_content_type": "image/png",
                "field_name": self.file_field} | {field: value}  # fmt: skip
        texts: dict[str, Value] = {"title": "Fuzz", "description": "fuzzed"}
        if field in texts:
            texts[field] = value
        parts = [(k, None, None, raw(v)) for k, v in [*self.form, *texts.items(), *extra]]
        parts.append((part["field_name"], part["filename"], part["part_content_type"],
                      raw(part["file"])))  # fmt: skip
        data, content_type = multipart(parts)
        return self.http.post(self.path, data=data, content_type=content_type,
                              environ_overrides=self.overrides)  # fmt: skip

    def shape(self, shape: str) -> TestResponse:
        if shape == "repeated_parameters":
            png = image_bytes()
            parts = [(k, None, None, raw(v)) for k, v in self.form] + [
                (self.file_field, "a.png", "image/png", png),
                (self.file_field, "b.png", "image/png", png),
            ]  # fmt: skip
            data, content_type = multipart(parts)
            return self.http.post(self.path, data=data, content_type=content_type,
                                  environ_overrides=self.overrides)  # fmt: skip
        return body_shape(self.http, self.path, shape, [*self.form, ("title", "t")],
                          environ_overrides=self.overrides)  # fmt: skip


class PhotoApiDriver:
    """The rest of the photo API: ids in the path, paging, and the JSON PATCH body."""

    name = "photo_api"
    fields = ("photo_id", "delete_photo_id", "cursor", "limit", "patch_title", "if_none_match")

    def __init__(self, world: World) -> None:
        self.world = world
        self.http = world.app.test_client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {world.access_token}"}

    def send(self, field: str, value: Value, extra: Pairs = ()) -> TestResponse:
        tail = ("?" + encode(extra)) if extra else ""
        quoted = quote_from_bytes(raw(value), "")
        photo = f"/api/v1/photos/{self.world.photo_id}"
        if field == "photo_id":
            return self.http.get(f"/api/v1/photos/{quoted}{tail}", environ_overrides=self.auth)
        if field == "delete_photo_id":  # the "x" keeps bob's own photo out of reach
            return self.http.delete(f"/api/v1/photos/{quoted}x{tail}", environ_overrides=self.auth)
        if field in ("cursor", "limit"):
            query = encode([(field, value), *extra])
            return self.http.get(f"/api/v1/photos?{query}", environ_overrides=self.auth)
        if field == "if_none_match":
            overrides = self.auth | {"HTTP_IF_NONE_MATCH": latin1(value)}
            return self.http.get(f"{photo}/content{tail}", environ_overrides=overrides)
        body = b'{"title": "' + raw(value).replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"}'
        return self.http.patch(photo + tail, data=body, content_type="application/json",
                               environ_overrides=self.auth)  # fmt: skip

    def shape(self, shape: str) -> TestResponse:
        path = f"/api/v1/photos/{self.world.photo_id}"
        if shape in ("deep_json_array", "deep_json_object", "truncated_json", "json_body",
                     "json_escaped_surrogate", "text_plain_body", "no_content_type",
                     "utf16_charset"):  # fmt: skip
            return self.http.patch(path, **patch_body(shape), environ_overrides=self.auth)
        if shape == "repeated_parameters":
            return self.http.get("/api/v1/photos?limit=1&limit=2&cursor=a&cursor=b",
                                 environ_overrides=self.auth)  # fmt: skip
        if shape == "overlong_path":
            return self.http.get("/api/v1/photos/" + "a" * 100_000, environ_overrides=self.auth)
        if shape == "overlong_query":
            return self.http.get(f"/api/v1/photos?pad={PAD}", environ_overrides=self.auth)
        if shape == "raw_invalid_utf8_query":
            overrides = self.auth | {"QUERY_STRING": "cursor=\xff\xfe"}
            return self.http.get("/api/v1/photos", environ_overrides=overrides)
        return body_shape(self.http, "/api/v1/photos", shape, [("title", "t")],
                          environ_overrides=self.auth)  # fmt: skip
