"""A fixed hostile corpus: values that have broken parsers, databases and headers elsewhere.

``VALUES`` are put into one field of an otherwise valid request at a time (str values are
percent-encoded as UTF-8, bytes values are sent as those raw bytes, percent-encoded where
the field is in a URL). ``SHAPES`` name whole-request attacks (repeated parameters, wrong
content types, deep JSON, overlong URLs) that each endpoint applies in its own way.
Sources: docs/security.md ER-01, ER-04..ER-07, RU-02, LS-07, UI-06; OWASP testing guide
(injection, CRLF); RFC 6749 §3.1 (parameters sent at most once).
"""

from __future__ import annotations

from dataclasses import dataclass

MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Hostile:
    name: str
    value: str | bytes

    def __repr__(self) -> str:
        return f"Hostile({self.name})"


def _values(**named: str | bytes) -> list[Hostile]:
    return [Hostile(name, value) for name, value in named.items()]


SQL_INJECTION = _values(
    sql_or_true="' OR '1'='1",
    sql_or_comment="' OR 1=1--",
    sql_double_quote='" OR ""="',
    sql_drop="1; DROP TABLE users;--",
    sql_drop_clients="x'); DROP TABLE clients;--",
    sql_admin_comment="admin'--",
    sql_paren="') OR ('a'='a",
    sql_union="1' UNION SELECT password_hash FROM users--",
    sql_union_null="%' AND 1=0 UNION SELECT NULL,NULL--",
    sql_stacked_sleep="'; SELECT pg_sleep(0);--",
    sql_sqlite_sleep="' AND randomblob(1)--",
    sql_placeholder_dollar="$1",
    sql_placeholder_qmark="?",
    sql_placeholder_format="%s%s%s%n",
    sql_escaped_quote="\\'; --",
    sql_like_wildcards="%_%_%",
    sql_concat="'||'",
    sql_comment_open="/*",
    sql_backtick="`",
)

CRLF_INJECTION = _values(
    crlf_header="a\r\nX-Injected: 1",
    lf_header="a\nX-Injected: 1",
    cr_header="a\rX-Injected: 1",
    crlf_body_split="a\r\n\r\n<html>injected</html>",
    crlf_in_uri="https://app.test/cb\r\nX-Injected: 1",
    crlf_encoded_text="%0d%0aX-Injected:%201",
    unicode_line_separator="a\u2028X-Injected: 1",
    unicode_next_line="a\u0085X-Injected: 1",
)

CONTROL_CHARACTERS = _values(
    nul="\x00",
    nul_inside="a\x00b",
    nul_then_sql="\x00' OR 1=1--",
    escape_sequence="\x1b[31mred\x1b[0m",
    delete_char="\x7f",
    low_controls="\x01\x02\x03\x04\x05",
    whitespace_zoo="\t\v\f \u00a0\u3000",
    backspaces="abc\x08\x08\x08",
)

INVALID_UTF8 = _values(
    utf8_ff=b"\xff",
    utf8_fe_ff=b"\xfe\xff",
    utf8_overlong_slash=b"\xc0\xaf",
    utf8_lone_surrogate=b"\xed\xa0\x80",
    utf8_continuation=b"\x80",
    utf8_five_bytes=b"\xf8\x88\x80\x80\x80",
    utf8_inside=b"bob\xffbob",
    utf8_truncated=b"\xe2\x82",
    latin1_word=b"caf\xe9",
    basic_nbsp=b"Basic \xa0",  # str.split() sees the NBSP as space: "Basic" and no credentials
)

ODD_UNICODE = _values(
    bom="\ufeff",
    right_to_left_override="photo\u202egpj.exe",
    astral="\U0001d54f\U0010ffff",
    ligature="\ufb00",
    dotted_capital_i="\u0130",
    combining_pile="e" + "\u0301" * 500,
    emoji_zwj="\U0001f468\u200d\U0001f469\u200d\U0001f467",
    zero_width="\u200b\u200c\u200d",
    fullwidth_slash="\uff0f\uff0fevil.test",
    homoglyph_host="https://\u0430pp.test/cb",
)

HUGE = _values(
    one_megabyte="A" * MEGABYTE,
    just_over_body_limit="B" * 65_537,
    long_4k="C" * 4096,
    emoji_megabyte="\U0001f600" * (MEGABYTE // 4),
    many_dots="a." * 20_000,
    many_percent="%" * 10_000,
)

FORMAT_CONFUSION = _values(
    jwt_alg_none="eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiIxIiwic2NvcGUiOiJvcGVuaWQifQ.",
    jwt_three_dots="a.b.c",
    jwt_empty_parts="..",
    jwt_bad_base64="e!.e!.e!",
    bearer_word="Bearer ",
    basic_empty="Basic Og==",
    json_null="null",
    json_true="true",
    json_array="[]",
    json_object='{"a":1}',
    negative_one="-1",
    zero="0",
    huge_integer="9" * 400,
    float_overflow="1e309",
    not_a_number="NaN",
    html_script="<script>alert(1)</script>",
    html_attribute='"><img src=x onerror=alert(1)>',
    template_jinja="{{ config.items() }}",
    template_dollar="${7*7}",
    path_traversal="../../../../etc/passwd",
    path_traversal_encoded="..%2f..%2f..%2fetc%2fpasswd",
    file_uri="file:///etc/passwd",
    javascript_uri="javascript:alert(1)",
    data_uri="data:text/html,<script>alert(1)</script>",
    ipv6_colons="http://[" + ":" * 5000 + "]/",
    protocol_relative="//evil.test",
    backslash_host="/\\evil.test",
    percent_alone="%",
    percent_bad_hex="%zz%g0",
    percent_nul="%00",
    ampersands="&&&===",
    nested_query="a=b&c=d",
    plus_signs="+++",
    hash_sign="#frag",
    semicolon=";x=1",
    star="*",
    single_quote="'",
    double_quote='"',
    empty="",
    space=" ",
    xml_cdata="]]><!--",
    ldap_star="*)(uid=*))(|(uid=*",
    format_braces="{0}{1}{__class__}",
)

VALUES: list[Hostile] = (
    SQL_INJECTION
    + CRLF_INJECTION
    + CONTROL_CHARACTERS
    + INVALID_UTF8
    + ODD_UNICODE
    + HUGE
    + FORMAT_CONFUSION
)

# Whole-request attacks; each endpoint's driver says what each one means for it.
SHAPES = (
    "repeated_parameters",  # RFC 6749 §3.1: every OAuth parameter at most once
    "json_body",  # /token and friends take application/x-www-form-urlencoded only
    "text_plain_body",
    "multipart_body",
    "no_content_type",
    "utf16_charset",
    "raw_invalid_utf8_body",
    "raw_invalid_utf8_query",  # bytes that are not UTF-8, not percent-encoded
    "deep_json_array",  # 10,000 levels
    "deep_json_object",
    "truncated_json",
    "json_escaped_surrogate",  # "\\ud800": valid JSON syntax, not Unicode text
    "overlong_path",
    "overlong_query",
)

DEEP = 10_000
DEEP_JSON_ARRAY = "[" * DEEP + "]" * DEEP
DEEP_JSON_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP

assert len(VALUES) + len(SHAPES) >= 100, len(VALUES) + len(SHAPES)
assert len({item.name for item in VALUES}) == len(VALUES)
