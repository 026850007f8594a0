"""The redaction layer: no credential survives a message, and lock fields cannot drive a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.redaction import REDACTED, printable, redact, strip_query

SAS = "sv=2022-11-02&ss=b&srt=co&sp=rwdlac&se=2026-12-31T00:00:00Z&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2B%2F%3D"
ACCOUNT_KEY = "Zm9v" * 21 + "ab=="  # 86 base64 characters and the padding
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (
            f"cannot reach https://acct.blob.core.windows.net/state?{SAS}: timed out",
            "cannot reach https://acct.blob.core.windows.net/state: timed out",
            "sig=",
        ),
        (
            f"'https://a.blob.core.windows.net/c/x.json?{SAS}'",
            "'https://a.blob.core.windows.net/c/x.json'",
            "sv=",
        ),
        (
            f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net",
            f"AccountKey={REDACTED};EndpointSuffix",
            ACCOUNT_KEY,
        ),
        ("Server=db;User Id=ml;Password=hunter2hunter2;", f"Password={REDACTED};", "hunter2"),
        (f"token {JWT} refused", "token <redacted: a JSON web token> refused", JWT),
        (f"key {ACCOUNT_KEY}", "key <redacted: an Azure storage account key>", ACCOUNT_KEY),
        (
            "postgres://ml:s3cretpass@db.internal:5432/x",
            f"postgres://ml:{REDACTED}@db.internal:5432/x",
            "s3cret",
        ),
        ("ghp_" + "a" * 36 + " leaked", "<redacted: a GitHub token> leaked", "ghp_"),
        ("AKIAABCDEFGHIJKLMNOP", "<redacted: an AWS access key>", "AKIAABCD"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- after",
            "<redacted: a private key> after",
            "MIIEow",
        ),
        ("abc1Q~" + "x" * 34, "<redacted: an Entra ID client secret>", "Q~xxx"),
    ],
)
def test_credentials_never_survive(text: str, kept: str, gone: str) -> None:
    cleaned = redact(text)
    assert kept in cleaned
    assert gone not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "abfss://raw@lake.dfs.core.windows.net/customers/",
        "mlproject.yaml:12:5: MLS201 unknown field 'tages' (did you mean 'tags'?)",
        "spark://127.0.0.1:7077",
        "password must be set",  # the word alone is no credential
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_strip_query_drops_query_and_fragment() -> None:
    assert strip_query(f"https://a.blob.core.windows.net/c?{SAS}#x") == "https://a.blob.core.windows.net/c"
    assert strip_query("https://a.blob.core.windows.net/c") == "https://a.blob.core.windows.net/c"


def test_printable_escapes_terminal_control_and_bounds_length() -> None:
    assert printable("ci\x1b[2J\nrm -rf") == "ci\\x1b[2J\\nrm -rf"
    assert printable("evil\u202etxt") == "evil\\u202etxt"
    assert printable("x" * 500, limit=20) == "x" * 17 + "..."
    assert printable("alice@host (pid 42)") == "alice@host (pid 42)"


def test_a_secret_value_ends_before_the_sentence_punctuation_after_it() -> None:
    text = "held by x?sig=abcdefghijklmnopqrstuvwxyz0123456789ABCD, operation apply"
    assert redact(text) == "held by x?sig=<redacted>, operation apply"
    assert redact("pwd=a,b,c end") == "pwd=<redacted> end"  # a comma inside the value is the value's


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('password="hunter2"', 'password="<redacted>"'),
        ("password='hunter2'", "password='<redacted>'"),
        ("Password: hunter2", "Password: <redacted>"),
        ("db_password=hunter2", "db_password=<redacted>"),
    ],
)
def test_quoted_colon_and_prefixed_secret_assignments_are_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown


def _redact_unguarded(text: str) -> str:
    """Every pattern on every text, as redact did before it skipped the patterns that cannot match."""
    from mlspec import redaction

    if not text:
        return text
    text = redaction._URL_QUERY.sub(r"\1", text)
    text = redaction._URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    text = redaction._SECRET_ASSIGNMENT.sub(rf"\1\2{REDACTED}", text)
    text = redaction._PRIVATE_KEY_BLOCK.sub("<redacted: a private key>", text)
    for kind, _, pattern in redaction._STANDALONE:
        text = pattern.sub(f"<redacted: {kind}>", text)
    return text


_FRAGMENTS = [
    "https://",
    "acct.dfs.core.windows.net/",
    "?",
    "&",
    "@",
    "user:",
    "pw",
    ":",
    "=",
    ";",
    " ",
    '"',
    "sig=",
    "SIG=",
    "\u017fig=",
    "AccountKey",
    "accountkey",
    "ACCOUNTKEY",
    "SharedAccessKey",
    "password",
    "PASSWORD",
    "pwd",
    "pa\u017f\u017fword",
    "Kelvin\u212a",
    "SharedAccessSignature",
    SAS,
    ACCOUNT_KEY,
    JWT,
    "-----BEGIN RSA PRIVATE KEY-----",
    "MIIB",
    "-----END RSA PRIVATE KEY-----",
    "==",
    "Q~",
    "abc1Q~",
    "x" * 31,
    "AKIA",
    "ASIA",
    "ABCDEFGHIJKLMNOP",
    "ghp_",
    "a" * 36,
    "eyJ",
    ".",
    "\n",
    "é",
]


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join))
@settings(max_examples=1500, deadline=None, derandomize=True)
def test_skipping_patterns_that_cannot_match_changes_nothing(text: str) -> None:
    assert redact(text) == _redact_unguarded(text)
