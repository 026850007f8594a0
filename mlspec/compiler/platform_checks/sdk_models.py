"""Check a JSON body against the generated (AutoRest/msrest) models of an Azure SDK, offline.

``Model.from_dict`` only fails on values it cannot convert. It silently accepts missing required
fields, unknown keys (kept as ``additional_properties`` or dropped), an unknown discriminator (falls
back to the base class) and any string where the service expects an enum value. This walk reads the
same metadata the SDK generated from the REST spec -- ``_attribute_map``, ``_validation``,
``_subtype_map`` and the enum named in each ``__init__`` annotation -- and reports each of those with
a pointer to the offending key. Leaf values go through the SDK's own ``Deserializer`` so type errors
(``"5m"`` as a duration) are located too; ``from_dict`` then gives the SDK's verdict on the whole.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from mlspec.compiler.platform_checks.json_pointers import child
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.sdk_model_metadata import (
    ModelClass,
    enum_values,
    flatten_subtypes,
    is_model,
    key_tree,
    own_discriminator,
    split_key,
)
from mlspec.compiler.platform_checks.suggestions import did_you_mean

_MISSING = object()
_OMIT = object()  # an expression where an object goes: left out of what from_dict reads
_UNKNOWABLE = object()  # the value sits under an expression, so nothing can be said about it

_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "long": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "duration": "an ISO 8601 duration such as PT5M",
    "iso-8601": "an ISO 8601 date-time",
    "date": "an ISO 8601 date",
}

# What stands in for an expression when the body is handed to from_dict: it must deserialize as the
# declared type, and it is never reported on (the walk has already skipped the expression).
_PLACEHOLDERS: dict[str, object] = {
    "int": 0,
    "long": 0,
    "float": 0.0,
    "bool": False,
    "duration": "PT1M",
    "iso-8601": "2000-01-01T00:00:00Z",
    "date": "2000-01-01",
}


def _never_expression(_: object) -> bool:
    return False


@dataclass(frozen=True)
class ModelSet:
    """One SDK's models and the machinery to read them."""

    namespace: ModuleType
    """The SDK's ``models`` module."""
    deserializer: Any
    """An instance of the SDK's own ``Deserializer`` (used leaf by leaf, so errors get a location)."""
    error: type[Exception]
    """What that deserializer raises."""
    checker: str
    """The name reported as :attr:`PlatformProblem.checker` for what the SDK itself rejects."""
    is_expression: Callable[[object], bool] = _never_expression
    """Values the service resolves later (ARM ``[...]`` expressions): accepted wherever a value goes."""
    extra_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per model class name, keys the service accepts although the SDK does not map them (``"*"``: any)."""
    sdk_logger: str = ""
    """The logger ``from_dict`` warns on (unknown discriminators); muted while it runs."""


def check_model(
    models: ModelSet, class_name: str, data: object, artifact: str, where: str = ""
) -> list[PlatformProblem]:
    """Every problem the SDK models reveal in ``data`` read as ``class_name``, located."""
    walker = _Walker(models, artifact)
    cls = getattr(models.namespace, class_name)
    clean = walker.model(cls, data, where)
    if not walker.located_type_error:
        # from_dict is the SDK's verdict on the whole body. Its error carries no location, so it is
        # only worth adding when the walk could not place a type error itself.
        message = _from_dict_error(models, cls, clean)
        if message is not None:
            walker.problems.append(PlatformProblem(artifact, where, message, models.checker))
    return walker.problems


def _from_dict_error(models: ModelSet, cls: ModelClass, data: object) -> str | None:
    muted = logging.getLogger(models.sdk_logger) if models.sdk_logger else None
    previous = muted.disabled if muted else False
    if muted:
        muted.disabled = True  # the walk already reported the discriminator it warns about
    try:
        cls.from_dict(data)
    except models.error as exc:
        return f"the SDK cannot deserialize the body: {exc}"
    finally:
        if muted:
            muted.disabled = previous
    return None


class _Walker:
    def __init__(self, models: ModelSet, artifact: str) -> None:
        self.models = models
        self.artifact = artifact
        self.problems: list[PlatformProblem] = []
        self.located_type_error = False

    def report(self, where: str, message: str, *, sdk: bool = True, type_error: bool = False) -> None:
        checker = self.models.checker if sdk else "mlspec"
        self.problems.append(PlatformProblem(self.artifact, where, message, checker))
        self.located_type_error = self.located_type_error or type_error

    # -- objects -----------------------------------------------------------------------------------

    def model(self, cls: ModelClass, data: object, where: str) -> object:
        if not isinstance(data, dict):
            self.report(
                where, f"expected an object ({cls.__name__}), got {_json_type(data)}", type_error=True
            )
            return {}
        cls, known_subtype = self._resolve_subtype(cls, data, where)
        clean: dict[str, Any] = {}
        not_objects: set[str] = set()
        for attr, spec in cls._attribute_map.items():
            if not spec["key"]:
                continue  # additional_properties: the catch-all for unknown keys, checked below
            parts = split_key(spec["key"])
            value = self._lookup(data, parts, where, not_objects)
            if value is _UNKNOWABLE:
                continue
            rules = cls._validation.get(attr, {})
            path = child(where, *parts)
            if value is _MISSING or value is None:
                if rules.get("required") and not rules.get("readonly"):
                    self.report(path, f"missing required field '{'.'.join(parts)}'")
                continue
            checked = self.value(spec["type"], value, path, rules, (cls, attr))
            if checked is not _OMIT:
                _place(clean, parts, checked)
        if known_subtype:  # else the keys of the intended subtype would all look unknown
            self._unknown_keys(cls, data, where, key_tree(cls))
        return clean

    def _lookup(self, data: dict[str, Any], parts: list[str], where: str, not_objects: set[str]) -> object:
        node: object = data
        for depth, part in enumerate(parts):
            if self.models.is_expression(node):
                return _UNKNOWABLE
            if not isinstance(node, dict):
                path = child(where, *parts[:depth])
                if path not in not_objects:
                    not_objects.add(path)
                    self.report(path, f"expected an object, got {_json_type(node)}", type_error=True)
                return _UNKNOWABLE
            if part not in node:
                return _MISSING
            node = node[part]
        return node

    def _resolve_subtype(self, cls: ModelClass, data: dict[str, Any], where: str) -> tuple[ModelClass, bool]:
        """The subclass the discriminator names, and whether it named a known one."""
        own = cls.__dict__.get("_subtype_map")
        if not own:
            self._check_fixed_discriminator(cls, data, where)
            return cls, True
        attr = next(iter(own))
        rest_key = split_key(cls._attribute_map[attr]["key"])[-1]
        value = data.get(rest_key)
        if value is None or self.models.is_expression(value):
            return cls, True  # a missing discriminator is reported by the required-field check
        namespace = self.models.namespace
        by_value = flatten_subtypes(cls, attr, namespace)
        name = by_value.get(value) if isinstance(value, str) else None
        sub = getattr(namespace, name) if name else None
        if sub is not None and not sub.__dict__.get("_subtype_map"):
            return sub, True
        concrete = sorted(
            v for v, n in by_value.items() if not getattr(namespace, n).__dict__.get("_subtype_map")
        )
        known = f"known: {', '.join(concrete)}" if len(concrete) <= 12 else f"{len(concrete)} known values"
        # from_dict would quietly fall back to the base class and drop everything type-specific.
        self.report(
            child(where, rest_key),
            f"unknown {rest_key} {value!r} for {cls.__name__}{did_you_mean(value, concrete)}; {known}",
            sdk=False,
        )
        return cls, False

    def _check_fixed_discriminator(self, cls: ModelClass, data: dict[str, Any], where: str) -> None:
        """A concrete subtype used directly (``allOf: [MetricCriteria]``) still has a fixed discriminator."""
        expected = own_discriminator(cls, self.models.namespace)
        if expected is None:
            return
        attr, wanted = expected
        rest_key = split_key(cls._attribute_map[attr]["key"])[-1]
        value = data.get(rest_key)
        if value is not None and not self.models.is_expression(value) and value != wanted:
            self.report(
                child(where, rest_key), f"{rest_key} must be {wanted!r} in {cls.__name__}, got {value!r}"
            )

    def _unknown_keys(self, cls: ModelClass, data: dict[str, Any], where: str, tree: dict[str, Any]) -> None:
        extra = self.models.extra_keys.get(cls.__name__, frozenset())
        if "*" in extra:
            return
        for key, value in data.items():
            if key in extra:
                continue
            if key not in tree:
                self.report(
                    child(where, key),
                    f"unknown field '{key}' in {cls.__name__}{did_you_mean(key, list(tree))}",
                    sdk=False,
                )
            elif tree[key] and isinstance(value, dict):
                self._unknown_keys(cls, value, child(where, key), tree[key])

    # -- values ------------------------------------------------------------------------------------

    def value(
        self,
        type_name: str,
        value: object,
        where: str,
        rules: Mapping[str, Any],
        owner: tuple[ModelClass, str],
    ) -> object:
        if self.models.is_expression(value):
            if is_model(self.models.namespace, type_name):
                return _OMIT  # no object stands in for a computed one; from_dict gets none
            return _placeholder(type_name, value)
        if type_name.startswith("["):
            if not isinstance(value, list):
                self.report(where, f"expected a list, got {_json_type(value)}", type_error=True)
                return []
            self._check_rules(value, where, rules)
            items = [
                self.value(type_name[1:-1], item, child(where, i), {}, owner) for i, item in enumerate(value)
            ]
            return [item for item in items if item is not _OMIT]
        if type_name.startswith("{"):
            if not isinstance(value, dict):
                self.report(where, f"expected an object, got {_json_type(value)}", type_error=True)
                return {}
            entries = {
                k: self.value(type_name[1:-1], v, child(where, k), {}, owner) for k, v in value.items()
            }
            return {k: v for k, v in entries.items() if v is not _OMIT}
        if is_model(self.models.namespace, type_name):
            return self.model(getattr(self.models.namespace, type_name), value, where)
        return self._primitive(type_name, value, where, rules, owner)

    def _primitive(
        self,
        type_name: str,
        value: object,
        where: str,
        rules: Mapping[str, Any],
        owner: tuple[ModelClass, str],
    ) -> object:
        if type_name == "object":
            return value
        try:
            self.models.deserializer.deserialize_data(value, type_name)
        except self.models.error:
            expected = _TYPE_NAMES.get(type_name, type_name)
            self.report(where, f"cannot read {value!r} as {expected}", type_error=True)
            return _placeholder(type_name, value)
        if not _json_type_matches(type_name, value):
            # The SDK coerces (str(5), int("5"), int(True)); the service's JSON reader may not.
            expected = _TYPE_NAMES.get(type_name, type_name)
            self.report(
                where, f"expected {expected}, got {_json_type(value)} {value!r}", sdk=False, type_error=True
            )
            return _placeholder(type_name, value)
        self._check_rules(value, where, rules)
        allowed = enum_values(*owner, self.models.namespace)
        if allowed and isinstance(value, str) and value not in allowed:
            self.report(
                where,
                f"{value!r} is not one of {', '.join(sorted(allowed))}{did_you_mean(value, sorted(allowed))}",
                sdk=False,
            )
        return value

    def _check_rules(self, value: object, where: str, rules: Mapping[str, Any]) -> None:
        sized = isinstance(value, str | list)
        if sized and "max_length" in rules and len(value) > rules["max_length"]:  # type: ignore[arg-type]
            self.report(where, f"{value!r} is longer than {rules['max_length']} characters")
        if sized and "min_length" in rules and len(value) < rules["min_length"]:  # type: ignore[arg-type]
            self.report(where, f"{value!r} is shorter than {rules['min_length']} characters")
        if isinstance(value, list) and "max_items" in rules and len(value) > rules["max_items"]:
            self.report(where, f"more than {rules['max_items']} items")
        if isinstance(value, list) and "min_items" in rules and len(value) < rules["min_items"]:
            self.report(where, f"fewer than {rules['min_items']} items")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and "maximum" in rules and value > rules["maximum"]:
            self.report(where, f"{value!r} is greater than the maximum {rules['maximum']}")
        if number and "minimum" in rules and value < rules["minimum"]:
            self.report(where, f"{value!r} is less than the minimum {rules['minimum']}")
        if isinstance(value, str) and "pattern" in rules and not re.search(rules["pattern"], value):
            self.report(where, f"{value!r} does not match the pattern {rules['pattern']}")


def _place(target: dict[str, Any], parts: list[str], value: object) -> None:
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _placeholder(type_name: str, value: object) -> object:
    if type_name.startswith("["):
        return []
    if type_name.startswith("{"):
        return {}
    return _PLACEHOLDERS.get(type_name, value if isinstance(value, str) else "")


def _json_type_matches(type_name: str, value: object) -> bool:
    if type_name in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name in ("str", "duration", "iso-8601", "date"):
        return isinstance(value, str)
    return True


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
