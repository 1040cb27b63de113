"""Building requests byte for byte: form and multipart encoding, and the corpus' body shapes.

Values are str (sent as UTF-8, percent-encoded where the field is in a URL or form body) or
bytes (sent as those raw bytes). Headers go into the WSGI environ directly, as a server
would hand them over, so CR/LF values reach the app untouched.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_from_bytes

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.fuzz.corpus import DEEP_JSON_ARRAY, DEEP_JSON_OBJECT

Value = str | bytes
Pairs = Sequence[tuple[Value, Value]]
FORM = "application/x-www-form-urlencoded"
PAD = "A" * (1024 * 1024)


def raw(value: Value) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def latin1(value: Value) -> str:
    """How a WSGI server hands over header bytes: each byte one code point."""
    return raw(value).decode("latin-1")


def encode(pairs: Pairs) -> str:
    """application/x-www-form-urlencoded, byte for byte (bytes values are not re-encoded)."""
    return "&".join(
        f"{quote_from_bytes(raw(k), '')}={quote_from_bytes(raw(v), '')}" for k, v in pairs
    )


def replaced(
    pairs: Pairs, field: str, value: Value, extra: Pairs = ()
) -> list[tuple[Value, Value]]:
    """``pairs`` with ``field`` set to ``value`` (added if absent), then ``extra``."""
    out = [(k, value if k == field else v) for k, v in pairs]
    if field not in [k for k, _ in pairs]:
        out.append((field, value))
    return [*out, *extra]


def doubled(pairs: Pairs) -> list[tuple[Value, Value]]:
    """Every parameter twice (RFC 6749 §3.1 forbids it)."""
    return [pair for pair in pairs for _ in range(2)]


def post_form(http: FlaskClient, path: str, pairs: Pairs, **kwargs: Any) -> TestResponse:
    return http.post(path, data=encode(pairs).encode("ascii"), content_type=FORM, **kwargs)


def multipart(
    parts: Sequence[tuple[Value, Value | None, Value | None, bytes]],
) -> tuple[bytes, str]:
    """A multipart/form-data body of (name, filename, content type, data) parts, raw bytes."""
    boundary = "fuzz" + secrets.token_hex(8)
    body = b""
    for name, filename, content_type, data in parts:
        disposition = b'form-data; name="' + raw(name) + b'"'
        if filename is not None:
            disposition += b'; filename="' + raw(filename) + b'"'
        body += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        if content_type is not None:
            body += b"Content-Type: " + raw(content_type) + b"\r\n"
        body += b"\r\n" + data + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


def body_shape(
    http: FlaskClient, path: str, shape: str, pairs: Pairs, **kwargs: Any
) -> TestResponse:
    """The body-shaped attacks of the corpus against a form endpoint."""
    form = dict((latin1(k), latin1(v)) for k, v in pairs)
    bodies: dict[str, tuple[bytes, str | None]] = {
        "json_body": (json.dumps(form).encode(), "application/json"),
        "text_plain_body": (encode(pairs).encode(), "text/plain"),
        "no_content_type": (encode(pairs).encode(), None),
        "utf16_charset": (encode(pairs).encode("utf-16"), FORM + "; charset=utf-16"),
        "raw_invalid_utf8_body": (encode(pairs).encode() + b"&x=\xff\xfe\xc0\xaf", FORM),
        "deep_json_array": (DEEP_JSON_ARRAY.encode(), "application/json"),
        "deep_json_object": (DEEP_JSON_OBJECT.encode(), "application/json"),
        "truncated_json": (json.dumps(form).encode()[:-3], "application/json"),
        "json_escaped_surrogate": (b'{"a": "\\ud800"}', "application/json"),
    }
    if shape == "multipart_body":
        data, content_type = multipart([(k, None, None, raw(v)) for k, v in pairs])
        return http.post(path, data=data, content_type=content_type, **kwargs)
    if shape == "repeated_parameters":
        return post_form(http, path, doubled(pairs), **kwargs)
    if shape == "overlong_path":
        return post_form(http, path + "/" + "a" * 100_000, pairs, **kwargs)
    if shape == "overlong_query":
        return post_form(http, f"{path}?pad={PAD}", pairs, **kwargs)
    if shape == "raw_invalid_utf8_query":
        overrides = kwargs.pop("environ_overrides", {}) | {"QUERY_STRING": "x=\xff\xfe&y=\xc0\xaf"}
        return post_form(http, path, pairs, environ_overrides=overrides, **kwargs)
    data, content_type = bodies[shape]
    if content_type is None:
        return http.post(path, data=data, **kwargs)
    return http.post(path, data=data, content_type=content_type, **kwargs)


def patch_body(shape: str) -> dict[str, Any]:
    """A PATCH body for the JSON API in the corpus' body shapes."""
    bodies: dict[str, tuple[bytes, str | None]] = {
        "json_body": (b'{"title": "t"}', "application/json"),
        "deep_json_array": (DEEP_JSON_ARRAY.encode(), "application/json"),
        "deep_json_object": (DEEP_JSON_OBJECT.encode(), "application/json"),
        "truncated_json": (b'{"title": "t', "application/json"),
        "json_escaped_surrogate": (b'{"title": "\\ud800"}', "application/json"),
        "text_plain_body": (b'{"title": "t"}', "text/plain"),
        "no_content_type": (b'{"title": "t"}', None),
        "utf16_charset": ('{"title": "t"}'.encode("utf-16"), "application/json; charset=utf-16"),
    }
    data, content_type = bodies[shape]
    return {"data": data} | ({"content_type": content_type} if content_type else {})
