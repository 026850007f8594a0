"""What the generated (AutoRest/msrest) models of an Azure SDK say about the REST body they stand for.

Read from the class attributes the code generator writes: ``_attribute_map`` (REST keys, with
flattened ``properties.x`` keys and escaped ``odata\\.type`` dots), ``_subtype_map`` (discriminator
values) and the ``__init__`` annotations (which name the enum of each enum-valued field).
"""

from __future__ import annotations

import re
from enum import Enum
from functools import cache
from types import ModuleType
from typing import Any

ModelClass = Any
"""A generated model class; the SDKs ship no usable type information for them."""


def split_key(key: str) -> list[str]:
    """``properties.criteria`` → two levels; ``odata\\.type`` is one key with a dot in it."""
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", key)]


@cache
def key_tree(cls: ModelClass) -> dict[str, Any]:
    """The REST keys a model maps, as a tree (flattened ``properties.x`` keys become nested levels)."""
    tree: dict[str, Any] = {}
    for spec in cls._attribute_map.values():
        if not spec["key"]:
            continue
        node = tree
        parts = split_key(spec["key"])
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], {})
    return tree


def flatten_subtypes(cls: ModelClass, attr: str, namespace: ModuleType) -> dict[str, str]:
    """Every discriminator value reachable from ``cls``, as the SDK's own ``_flatten_subtype`` does."""
    found: dict[str, str] = {}
    pending = [cls]
    while pending:
        current = pending.pop()
        for value, name in current.__dict__.get("_subtype_map", {}).get(attr, {}).items():
            found[value] = name
            sub = getattr(namespace, name, None)
            if sub is not None and sub is not current:
                pending.append(sub)
    return found


@cache
def own_discriminator(cls: ModelClass, namespace: ModuleType) -> tuple[str, str] | None:
    """The discriminator attribute and value that select ``cls`` in a base class's ``_subtype_map``."""
    for base in cls.__mro__[1:]:
        for attr in base.__dict__.get("_subtype_map", {}):
            for value, name in flatten_subtypes(base, attr, namespace).items():
                if name == cls.__name__:
                    return attr, value
    return None


@cache
def enum_values(cls: ModelClass, attr: str, namespace: ModuleType) -> frozenset[str]:
    """The values of the enum the SDK names for ``attr`` in ``cls.__init__`` (``Union[str, "_models.X"]``)."""
    annotation = cls.__init__.__annotations__.get(attr)
    for name in re.findall(r"_models\.(\w+)", str(annotation)):
        enum = getattr(namespace, name, None)
        if isinstance(enum, type) and issubclass(enum, Enum):
            return frozenset(str(member.value) for member in enum)
    return frozenset()


def is_model(namespace: ModuleType, type_name: str) -> bool:
    model = getattr(namespace, type_name, None)
    return isinstance(model, type) and hasattr(model, "_attribute_map")
