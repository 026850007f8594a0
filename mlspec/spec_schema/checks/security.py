"""Security policy: no secret values anywhere in the spec, and no public endpoint by accident.

Messages never repeat the offending value: a diagnostic ends up in CI logs and SARIF files.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from mlspec.diagnostics import Diagnostic, SpecPath
from mlspec.redaction import credential_kind
from mlspec.spec_schema.checks.context import CheckContext
from mlspec.spec_schema.loader import SpecDocument
from mlspec.spec_schema.resolve import ResolvedSpec

SECRET_KEY_NAMES = re.compile(
    # A secret word as a whole segment of the key, so Spark's own option names are caught too:
    # fs.azure.account.key.<account>.dfs.core.windows.net, fs.azure.sas.<container>..., ...oauth2.client.secret
    r"(?i)(?:^|[._-])(?:password|passwd|pwd|secret|client[_.-]?secret|token|api[_-]?key|access[_-]?key|"
    r"account[_.-]?key|sas|sas[_-]?token|connection[_-]?string|private[_-]?key)(?:$|\.)"
)
_REFERENCE_ONLY = re.compile(r"^\$\{[^{}]+\}$")


def check_security(ctx: CheckContext) -> Iterator[Diagnostic]:
    yield from _network(ctx)


def scan_credentials(spec: ResolvedSpec) -> tuple[list[Diagnostic], set[str]]:
    """Diagnostics for credential-like values, and the values themselves (for :func:`redact`)."""
    pairs = list(_credentials(spec))
    return [d for d, _ in pairs], {value for _, value in pairs}


def redact(diagnostics: list[Diagnostic], secrets: set[str]) -> list[Diagnostic]:
    """Other checks may quote a value (a bad name, a bad URL); never let them quote a secret."""
    if not secrets:
        return diagnostics
    # structure's _shown quotes repr(value)[:37] + "...": the opening quote and 36 characters, escaped.
    shown = {f for s in secrets for f in (repr(s)[1:-1], repr(s)[1:37])}
    fragments = sorted({f for f in (*secrets, *shown) if len(f) >= 8}, key=len, reverse=True)

    def clean(text: str | None) -> str | None:
        if text is None:
            return None
        for fragment in fragments:
            text = text.replace(fragment, "[redacted]")
        return text

    def clean_path(path: SpecPath) -> SpecPath:
        return tuple(clean(p) or "" if isinstance(p, str) else p for p in path)

    return [
        Diagnostic(d.code, d.severity, clean(d.message) or "", clean_path(d.path), d.location, clean(d.hint))
        for d in diagnostics
    ]


_HINT = "store it in Key Vault and refer to it under access.secrets: {key_vault: ..., name: ...}; rotate the exposed one"


def _credentials(spec: ResolvedSpec) -> Iterator[tuple[Diagnostic, str]]:
    """Scan every value the user wrote (all environments: once per document), then values that
    interpolation produced (per environment).

    Runs on the data, not the model, so a secret is reported even in a spec that fails the schema.
    """
    document = spec.document
    written = document.memo.get("credentials")
    if written is None:
        written = document.memo["credentials"] = list(_written_credentials(document))
    yield from written
    for path in spec.interpolated:
        value = _at(spec.data, path)
        kind = credential_kind(value) if isinstance(value, str) else None
        if kind is not None:
            diagnostic = Diagnostic.error(
                "MLS501",
                f"a variable put {kind} into this value",
                path,
                spec.locate(path),
                "pass secrets as Key Vault references, never through --var or MLSPEC_VAR_*",
            )
            yield diagnostic, value


def _written_credentials(document: SpecDocument) -> Iterator[tuple[Diagnostic, str]]:
    """Credential-like values as written in the file, whatever the environment."""
    hint = _HINT

    def source_error(code: str, message: str, path: SpecPath, hint: str) -> Diagnostic:
        return Diagnostic.error(code, message, path, document.locate(path), hint)

    for path, key, value in _long_or_secret_named_strings(document.data):
        kind = credential_kind(value)
        if kind is not None and key == _KEY:
            diagnostic = Diagnostic.error(
                "MLS501", f"this key looks like {kind}", path, document.locate(path, at_key=True), hint
            )
            yield diagnostic, value
        elif key == _KEY:
            continue
        elif kind is not None:
            yield source_error("MLS501", f"this value looks like {kind}", path, hint), value
        elif key is not None and _secret_named(key) and value and not _REFERENCE_ONLY.match(value):
            message = f"{key!r} holds a literal value; secrets are Key Vault references only"
            yield source_error("MLS502", message, path, hint), value
    variables = document.data.get("variables")
    if isinstance(variables, dict):
        for name, decl in variables.items():
            default = decl.get("default") if isinstance(decl, dict) else None
            if SECRET_KEY_NAMES.search(str(name)) and default not in (None, ""):
                message = f"variable {name!r} looks like a secret and has a default value"
                yield source_error("MLS502", message, ("variables", name, "default"), hint), str(default)


def _at(data: Any, path: SpecPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


_KEY = "\x00key"
"""Marks a yielded mapping key (rather than a value) in :func:`_long_or_secret_named_strings`."""


@functools.lru_cache(maxsize=4096)
def _secret_named(key: str) -> bool:
    return SECRET_KEY_NAMES.search(key) is not None


def _long_or_secret_named_strings(root: Any) -> Iterator[tuple[SpecPath, str | None, str]]:
    """The strings worth a look — long enough to hold a credential, or under a secret-like key —
    with their path and key. Paths are built only for those: most values are short and skipped."""
    # Every node of the document is visited: exact type tests (the loader builds plain dicts, lists
    # and strs) keep the walk cheap.
    stack: list[tuple[SpecPath, Any]] = [((), root)]
    while stack:
        path, node = stack.pop()
        items = node.items() if type(node) is dict else enumerate(node)
        for k, v in items:
            key = k if type(k) is str else None
            if key is not None and len(key) >= 16:
                yield (*path, k), _KEY, key  # a mapping key can hold a pasted credential too
            kind = type(v)
            if kind is str:
                if len(v) >= 16 or (key is not None and _secret_named(key)):
                    yield (*path, k), key, v
            elif kind is dict or kind is list:
                stack.append(((*path, k), v))


def _network(ctx: CheckContext) -> Iterator[Diagnostic]:
    d = ctx.model.deployment
    if d is None:
        return
    net = d.network
    if not net.internal_load_balancer and not net.allow_public:
        yield ctx.error(
            "MLS503",
            "the deployment would get a public load balancer",
            ("deployment", "network", "internal_load_balancer"),
            "keep internal_load_balancer: true, or set network.allow_public: true to publish it on purpose",
        )
    elif not net.internal_load_balancer:
        yield ctx.warning(
            "MLS504",
            "the endpoint is public (allow_public: true)",
            ("deployment", "network", "allow_public"),
            "restrict network.allow_from to the callers' ranges",
        )
    if net.internal_load_balancer and net.allow_public:
        yield ctx.warning(
            "MLS504",
            "allow_public has no effect with an internal load balancer",
            ("deployment", "network", "allow_public"),
        )
    for i, cidr in enumerate(net.allow_from):
        if _prefix_length(cidr) == 0:  # None when it is no network: the format check reports that
            yield ctx.warning(
                "MLS505",
                f"allow_from {cidr} admits every address",
                ("deployment", "network", "allow_from", i),
                "name the callers' subnets instead",
            )
    if d.auth == "key" and not net.internal_load_balancer:
        yield ctx.warning(
            "MLS506",
            "a public endpoint with key auth",
            ("deployment", "auth"),
            "prefer auth: entra for public endpoints",
        )


@functools.lru_cache(maxsize=1024)
def _prefix_length(cidr: str) -> int | None:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen
    except ValueError:
        return None
