"""The one redaction layer: what mlspec prints, logs or records never carries a credential.

Every message, diagnostic location and log line goes through :func:`redact` on its way out (the
reporters, the CLI's error output, state and lock errors, the run's progress). It

- drops the query string of every URL (a SAS token is a query string: ``?sv=...&sig=...``);
- replaces the value of ``AccountKey=``, ``SharedAccessKey=``, ``SharedAccessSignature=``,
  ``password=``/``pwd=`` and a stray ``sig=`` with ``<redacted>``;
- replaces what looks like a credential by itself (a JSON web token, a storage account key, an
  Entra ID client secret, an AWS access key, a GitHub token, a private key block) with
  ``<redacted: a JSON web token>`` and so on;
- replaces the password of ``scheme://user:password@host``.

:func:`printable` escapes control characters (ANSI escapes, newlines) in a value that comes from a
file someone else may have written, such as a lock's owner, before it reaches a terminal.

The patterns are those the spec's security check (``spec_schema/checks/security.py``) refuses in a
spec; they live here so that the check and the redaction can never disagree.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

CREDENTIAL_PATTERNS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    # (what it is, substrings one of which must be present, the pattern). The substring guard
    # makes the common case — an ordinary value — a few `in` tests instead of ten regex scans.
    ("a private key", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")),
    (
        "a connection string with a key",
        ("=",),
        re.compile(r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*="),
    ),
    (
        "a connection string with a password",
        ("=",),
        re.compile(r"(?i)(?:^|;)\s*(?:password|pwd)\s*=\s*[^;\s]"),
    ),
    ("a SAS token", ("sig=", "SIG=", "Sig="), re.compile(r"(?i)(?:^|[?&])sig=[A-Za-z0-9%+/=]{16,}")),
    (
        "a JSON web token",
        ("eyJ",),
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    ("an Azure storage account key", ("==",), re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==")),
    (
        "an Entra ID client secret",
        ("Q~",),
        re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),
    ),
    ("an AWS access key", ("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", ("gh",), re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}")),
    ("a URL with a password", ("://",), re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)

# A URL's query string: from "?" to the end of the URL (whitespace, a quote or a bracket ends it;
# so does punctuation that ends the sentence, as in "cannot reach https://...?sv=...: timed out").
_URL_QUERY = re.compile(
    r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#'\"<>()\[\]{}]*)\?[^\s#'\"<>()\[\]{}]*?"
    r"(?=[:;,.!]?(?:[\s#'\"<>()\[\]{}]|$))"
)
# key=value pairs whose value is a secret, in connection strings and loose text.
_SECRET_ASSIGNMENT = re.compile(
    # `key=value`, `key: value` and quoted values (`password="x"`). The value ends at a separator; a comma
    # or full stop right before a space is the sentence's, not the value's.
    r"(?i)\b((?:[a-z0-9]+_)*(?:AccountKey|SharedAccessKey|SharedAccessSignature|password|pwd|sig))(\s*[=:]\s*[\"']?)"
    r"[^;&\s'\"]+?(?=[,.]?(?:[;&\s'\"]|$))"
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@")
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z]+ )*PRIVATE KEY-----|$)", re.DOTALL
)
_ASSIGNMENT_KEYS = ("accountkey", "sharedaccesskey", "password", "pwd", "sig")
"""What :data:`_SECRET_ASSIGNMENT` can match starts with one of these (``sharedaccesssignature`` has
``sig``), compared casefolded as its ``(?i)`` compares."""
# Credentials that are recognisable by themselves (the span the pattern matches is the secret).
_STANDALONE = tuple(
    (kind, guards, pattern)
    for kind, guards, pattern in CREDENTIAL_PATTERNS
    if kind
    in (
        "a JSON web token",
        "an Azure storage account key",
        "an Entra ID client secret",
        "an AWS access key",
        "a GitHub token",
    )
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def credential_kind(value: str) -> str | None:
    """What kind of credential ``value`` looks like, or ``None``."""
    if len(value) < 16:
        return None
    for kind, guards, pattern in CREDENTIAL_PATTERNS:
        for guard in guards:
            if guard in value:
                if pattern.search(value):
                    return kind
                break
    return None


def strip_query(url: str) -> str:
    """``url`` without its query string and fragment (where a SAS token travels)."""
    return url.split("#", 1)[0].split("?", 1)[0]


def redact(text: str) -> str:
    """``text`` with every credential in it replaced; see the module docstring.

    Each pattern runs only when ``text`` holds what any match of it must contain (``://`` for a URL,
    a key name for an assignment, ...): state records and plans redact every spec value of every
    resource, and a value with nothing to redact then costs a few ``in`` tests, not ten regex scans.
    """
    if not text:
        return text
    if "://" in text:
        if "?" in text:
            text = _URL_QUERY.sub(r"\1", text)
        if "@" in text:
            text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    if "=" in text or ":" in text:
        folded = text.casefold()
        if any(key in folded for key in _ASSIGNMENT_KEYS):
            text = _SECRET_ASSIGNMENT.sub(rf"\1\2{REDACTED}", text)
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY_BLOCK.sub("<redacted: a private key>", text)
    for kind, guards, pattern in _STANDALONE:
        if any(guard in text for guard in guards):
            text = pattern.sub(f"<redacted: {kind}>", text)
    return text


def printable(text: str, limit: int = 200) -> str:
    """``text`` safe to print: control and bidirectional characters escaped, at most ``limit`` long."""
    escaped = _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."
