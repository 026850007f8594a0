"""Names, versions and folder layout of the Azure ML artifacts, in one place.

Azure ML asset versions are immutable: creating ``name:version`` again with other content
fails. Every versioned asset mlspec renders therefore takes its version from its content
(:func:`content_version`), so an unchanged asset keeps its version and a changed one gets
a new one, and two builds of one spec are byte-identical.
"""

from __future__ import annotations

import re

from mlspec.contract.graph import canonical_json, content_hash

FOLDER = "azureml"
STEPS = ("prepare", "train", "evaluate", "register")
DEFAULT_IMAGE = (
    "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
    "@sha256:7481fbfbbc1c7d7ab0e9e4633180c809413bd77e108b605d6e4d3a60aa35bf67"
)
"""The training (and monitoring) environment's base, by digest so a rebuilt environment is the same
image: Microsoft's Azure ML base, as `latest` resolved in a public run record. mcr.microsoft.com is not
reachable where mlspec is developed, so the digest could not be checked here; `model.training.
environment.image` names another base."""

_BINDING_OPENERS = ("${{", "$[[")
_NOT_COMPONENT_CHAR = re.compile(r"[^a-z0-9_]")


def path(*parts: str) -> str:
    """A build-relative path inside the Azure ML folder."""
    return "/".join((FOLDER, *parts))


def component_file(step: str) -> str:
    return path("components", f"{step}.yml")


def source_folder(step: str) -> str:
    """Each step ships only its own folder as ``code``: a changed script re-versions one component."""
    return path("src", step)


def environment_name(model: str) -> str:
    return f"{model}-env"


def component_name(model: str, step: str) -> str:
    """Component names allow lowercase letters, digits and ``_`` only, starting with a letter."""
    slug = _NOT_COMPONENT_CHAR.sub("_", model.lower())
    if not slug[:1].isalpha():
        slug = "m" + slug
    return f"{slug}_{step}"


def retrain_schedule_name(model: str) -> str:
    return f"{model}-retrain"


def monitor_name(model: str) -> str:
    return f"{model}-monitor"


def content_version(*parts: object) -> str:
    """A short version string derived from ``parts`` (JSON-serialisable values or bytes)."""
    digest = content_hash(p if isinstance(p, bytes) else canonical_json(p) for p in parts)
    return digest.removeprefix("sha256:")[:12]


def inert(text: str) -> str:
    """``text`` with Azure ML's binding openers broken up, so free text never becomes a binding.

    ``${{parent.inputs.x}}`` in a description would otherwise read as an input reference;
    ``$[[...]]`` is the optional-input form. A space after the ``$`` keeps the text readable.
    """
    for opener in _BINDING_OPENERS:
        text = text.replace(opener, opener[0] + " " + opener[1:])
    return text
