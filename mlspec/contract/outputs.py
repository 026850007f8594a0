"""Output markers: values that exist only once another resource is created ("known after apply").

A renderer that needs such a value (the client id of a managed identity, the digest of the image an
ACR task builds) writes a *marker* in its place: ``mlspec:output:<target>.<attribute>``. The build
records which markers each resource needs (``needs`` in ``manifest.json``) and which outputs each
producer reports (``outputs``); plan refuses a need nothing can satisfy; apply replaces every marker
with the value the producer reported, in what it sends to the provider, while the build's hash (and
state's record of the payload) keeps the marker form.

The grammar, exactly:

- a marker token is :data:`MARKER_PREFIX` followed by the longest run of ``[A-Za-z0-9_.-]`` after it;
  it ends at the first character outside that set (so it may stand inside a longer string, e.g. an
  image reference ``registry/repo@mlspec:output:acr.task.scoring.image_digest``);
- the run is ``<target>.<attribute>``: ``attribute`` is its last dot-separated segment
  (``[a-z][a-z0-9_]*``), ``target`` everything before it: a resource address
  (``<service>.<kind>.<name>``, whose name may itself hold dots) or the pseudo-target
  :data:`TARGET`, a value of the environment deployed into rather than of a resource.

Which kinds produce which attributes is :data:`PRODUCERS` (and :data:`TARGET_OUTPUTS`): the one list
the compiler, plan and providers read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlspec.contract.graph import Address, content_hash
from mlspec.contract.payload import Payload

MARKER_PREFIX = "mlspec:output:"
"""Every marker starts with this."""
_PREFIX_BYTES = MARKER_PREFIX.encode("ascii")
_TOKEN = re.compile(re.escape(MARKER_PREFIX) + r"([A-Za-z0-9_.-]*)")
_TOKEN_BYTES = re.compile(re.escape(_PREFIX_BYTES) + rb"([A-Za-z0-9_.-]*)")
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_]*")
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
TARGET = "workspace"
"""The pseudo-target of values the deployment target supplies (``workspace.tenant_id``)."""


@dataclass(frozen=True)
class OutputKind:
    """One attribute a producer reports. ``changes_on_update``: an in-place update of the producer may
    give it a new value (an image digest after a rebuild), so its consumers are updated with it; a value
    fixed at creation (a client id) changes only when the producer is replaced."""

    attribute: str
    changes_on_update: bool
    description: str
    observed: bool = False
    """The value can change without mlspec applying anything (a model version training registers): a
    refreshed plan asks the provider for it again (``observe_outputs``) and updates what was applied
    with an older one."""
    pattern: str = r"[A-Za-z0-9_.:/=;-]+"
    """What a reported value must look like in full: it replaces markers inside YAML and JSON as it is,
    so only characters that cannot end a scalar or start a comment are allowed."""


PRODUCERS: Mapping[tuple[str, str], tuple[OutputKind, ...]] = {
    ("access", "identity"): (
        OutputKind(
            "client_id", False, "the managed identity's client (application) id", pattern=GUID_PATTERN
        ),
        OutputKind(
            "principal_id", False, "the managed identity's object (principal) id", pattern=GUID_PATTERN
        ),
    ),
    ("acr", "task"): (
        OutputKind(
            "image_digest", True, "the digest of the image the task built", pattern=r"sha256:[0-9a-f]{64}"
        ),
    ),
    # Not known to change on update: training registers new versions later, outside any apply. A
    # refreshed plan reads the newest again (observed) and updates what serves an older one.
    ("aml", "pipeline"): (
        OutputKind(
            "model_version",
            False,
            "the newest model version registered past the gate",
            observed=True,
            pattern=r"[1-9][0-9]{0,9}|unregistered",
        ),
    ),
    ("aml", "compute"): (
        OutputKind(
            "principal_id", False, "the compute cluster's managed identity (object id)", pattern=GUID_PATTERN
        ),
    ),
    # The published semantic model's ids: the transforms' pipeline asks Power BI to refresh it once
    # they wrote new data (after `mlspec run` and after a retrain alike). Republishing a model deleted
    # behind mlspec's back gives it a new id, so its consumers are updated with it.
    ("powerbi", "report"): (
        OutputKind(
            "workspace_id",
            True,
            "the id of the Power BI workspace the report is published to",
            pattern=GUID_PATTERN,
        ),
        OutputKind(
            "semantic_model_id", True, "the id of the report's published semantic model", pattern=GUID_PATTERN
        ),
    ),
    ("monitor", "data_collection_endpoint"): (
        OutputKind(
            "logs_ingestion_endpoint",
            False,
            "the endpoint's Logs Ingestion API URL",
            pattern=r"https://[A-Za-z0-9.-]+/?",
        ),
    ),
    ("monitor", "data_collection_rule"): (
        OutputKind(
            "immutable_id",
            False,
            "the rule's immutable id (dcr-...), which the Logs Ingestion API names",
            pattern=r"dcr-[0-9a-f]{32}",
        ),
    ),
}
"""``(service, kind)`` → the outputs every resource of that kind reports once applied."""

TARGET_OUTPUTS: tuple[OutputKind, ...] = (
    OutputKind(
        "tenant_id", False, "the Entra ID tenant of the subscription deployed into", pattern=GUID_PATTERN
    ),
    OutputKind(
        "application_insights_connection_string",
        False,
        "the connection string of the workspace's Application Insights component (workspace.application_insights)",
    ),
)
"""What the pseudo-target :data:`TARGET` supplies (the provider knows it, not a resource)."""


class MarkerError(ValueError):
    """A marker token that does not follow the grammar (the message names it)."""


@dataclass(frozen=True, order=True)
class OutputRef:
    """What one marker names: ``target`` (an address's text, or :data:`TARGET`) and ``attribute``."""

    target: str
    attribute: str

    def __str__(self) -> str:
        return f"{self.target}.{self.attribute}"

    @property
    def marker(self) -> str:
        return MARKER_PREFIX + str(self)

    @property
    def producer(self) -> Address | None:
        """The address of the resource that produces it; ``None`` for the pseudo-target."""
        return None if self.target == TARGET else Address.parse(self.target)

    @classmethod
    def parse(cls, reference: str) -> OutputRef:
        """``<target>.<attribute>`` (a marker without its prefix); :class:`MarkerError` if malformed."""
        target, dot, attribute = reference.rpartition(".")
        if not dot or not _ATTRIBUTE.fullmatch(attribute):
            raise MarkerError(f"{MARKER_PREFIX}{reference} does not end in .<attribute>")
        if target != TARGET:
            try:
                Address.parse(target)
            except ValueError:
                raise MarkerError(
                    f"{MARKER_PREFIX}{reference} names neither a resource address "
                    f"(<service>.<kind>.<name>) nor {TARGET}"
                ) from None
        return cls(target, attribute)


def output_marker(target: str, attribute: str) -> str:
    """The marker of ``attribute`` of ``target`` (an address's text or :data:`TARGET`)."""
    return f"{MARKER_PREFIX}{target}.{attribute}"


def is_marker(value: str) -> bool:
    """Whether ``value`` is exactly one well-formed marker (nothing before or after it)."""
    match = _TOKEN.fullmatch(value)
    if match is None:
        return False
    try:
        OutputRef.parse(match[1])
    except MarkerError:
        return False
    return True


def outputs_of(address: Address) -> tuple[str, ...]:
    """The attributes a resource at ``address`` reports once applied (none for most kinds)."""
    return tuple(o.attribute for o in PRODUCERS.get((address.service, address.kind), ()))


def output_kind(ref: OutputRef) -> OutputKind | None:
    """The catalogue entry of what ``ref`` names; ``None`` when no producer of its kind reports it."""
    if ref.target == TARGET:
        kinds: Iterable[OutputKind] = TARGET_OUTPUTS
    else:
        address = Address.parse(ref.target)
        kinds = PRODUCERS.get((address.service, address.kind), ())
    return next((k for k in kinds if k.attribute == ref.attribute), None)


def has_marker(content: bytes) -> bool:
    """The cheap test run on every artifact before any regex: does the prefix occur at all."""
    return content.find(_PREFIX_BYTES) >= 0


def marker_tokens(content: bytes) -> set[str]:
    """Every marker token's reference (``<target>.<attribute>``, unparsed) in ``content``."""
    if not has_marker(content):
        return set()
    return {match[1].decode("ascii") for match in _TOKEN_BYTES.finditer(content)}


def value_tokens(value: Any) -> set[str]:
    """Every marker token's reference in the strings of a JSON value (keys included)."""
    found: set[str] = set()
    for text in _strings(value):
        if MARKER_PREFIX in text:
            found.update(match[1] for match in _TOKEN.finditer(text))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


def parse_refs(references: Iterable[str]) -> list[OutputRef]:
    """Sorted, deduplicated; :class:`MarkerError` for the first malformed one."""
    return sorted({OutputRef.parse(r) for r in references})


_UNSAFE_VALUE = re.compile(r"[\x00-\x1f\x7f\"'\\]")


def check_output_value(ref: OutputRef, value: Any) -> str:
    """``value`` as it may replace a marker: a string of its kind's :attr:`OutputKind.pattern` (it lands
    inside JSON strings and YAML scalars as it is: nothing that ends a scalar, opens a comment or quotes
    may be in it). :class:`MarkerError` otherwise."""
    kind = output_kind(ref)
    pattern = kind.pattern if kind is not None else OutputKind.pattern
    if (
        not isinstance(value, str)
        or not value
        or _UNSAFE_VALUE.search(value)
        or re.fullmatch(pattern, value) is None
    ):
        raise MarkerError(
            f"the value reported for {ref} cannot replace its marker: "
            f"{json.dumps(value, default=str)[:80]} is not of the form {pattern}"
        )
    return value


def substitute_text(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every marker whose reference is in ``values`` replaced by its value."""
    if MARKER_PREFIX not in text:
        return text
    return _TOKEN.sub(lambda m: values.get(m[1], m[0]), text)


def substitute_value(value: Any, values: Mapping[str, str]) -> Any:
    """A JSON value with markers replaced in its strings (keys included); unchanged parts are shared."""
    if not values:
        return value
    if isinstance(value, str):
        return substitute_text(value, values)
    if isinstance(value, dict):
        return {
            (substitute_text(k, values) if isinstance(k, str) else k): substitute_value(v, values)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute_value(v, values) for v in value]
    return value


_YAML_SUFFIXES = (".yaml", ".yml")


def substitute_file(path: str, content: bytes, values: Mapping[str, str]) -> bytes:
    """A file's bytes with markers replaced. In a YAML file, a marker that is a whole plain scalar
    (``key: <marker>`` or ``- <marker>``, nothing after it on the line but a comment) becomes a
    double-quoted string, so a value such as ``3`` stays the string it replaces; anywhere else the
    value goes in as it is (inside a JSON string, after ``@`` in an image reference)."""
    if not values or not has_marker(content):
        return content
    yaml = path.endswith(_YAML_SUFFIXES)

    def replace(match: re.Match[bytes]) -> bytes:
        value = values.get(match[1].decode("ascii"))
        if value is None:
            return match[0]
        if yaml and _whole_plain_scalar(content, match.start(), match.end()):
            return json.dumps(value).encode("utf-8")
        return value.encode("utf-8")

    return _TOKEN_BYTES.sub(replace, content)


def _whole_plain_scalar(content: bytes, start: int, end: int) -> bool:
    line_start = content.rfind(b"\n", 0, start) + 1
    line_end = content.find(b"\n", end)
    raw_before = content[line_start:start]
    before = raw_before.rstrip()
    after = content[end : len(content) if line_end < 0 else line_end].strip()
    # a space (or the line's start) right before it, and a key's colon or a list item's dash before that
    separated = not raw_before or raw_before[-1:] in (b" ", b"\t")
    lead_ok = separated and (before.endswith((b":", b"-")) or not before)
    return lead_ok and (not after or after.startswith(b"#"))


def sent_payload(
    payload: Payload, resolved: Mapping[str, str], sent_attachments: Mapping[str, str]
) -> Payload:
    """What was sent for ``payload`` (the marker form) when its markers were replaced by ``resolved``
    and that changed the attachments to ``sent_attachments``: what a provider reads back. Its hash is
    the marker form's, as the provider was given it."""
    if not resolved and not sent_attachments:
        return payload
    attachments = dict(payload.attachments)
    attachments.update((k, v) for k, v in sent_attachments.items() if k in attachments)
    return Payload(substitute_value(payload.properties, resolved), attachments, payload.hash)


def substituted_request_parts(
    payload: Payload, files: Mapping[str, bytes], values: Mapping[str, str]
) -> tuple[Payload, dict[str, bytes], dict[str, str]]:
    """The payload and files to send, markers replaced by ``values``, and the content hash of each
    attachment the replacing changed (its sent hash). The payload keeps its hash (the marker form's)."""
    if not values:
        return payload, dict(files), {}
    sent_files = {path: substitute_file(path, content, values) for path, content in files.items()}
    changed = {
        path: content_hash([sent_files[path]])
        for path in payload.attachments
        if path in sent_files and sent_files[path] != files[path]
    }
    attachments = {**payload.attachments, **changed}
    return (
        Payload(substitute_value(payload.properties, values), attachments, payload.hash),
        sent_files,
        changed,
    )
