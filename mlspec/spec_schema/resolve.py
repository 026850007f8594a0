"""Resolve a loaded spec for one environment: overlay merge, then ``${...}`` interpolation.

Every value in the resolved data keeps a way back to the line the user wrote:
:meth:`ResolvedSpec.locate` maps a path in the merged document to the overlay that
set it or to the base spec, so an error in a merged, interpolated value still points
at the user's line (the Databricks bundles lesson: never at a generated place).

Overlay semantics are RFC 7396 JSON merge-patch: mappings merge key by key, lists and
scalars replace, ``null`` removes the key. To replace a list, write the whole list in
the overlay; to drop a section, set it to ``null``.

Interpolation: ``${var.NAME}``, ``${project.name}``, ``${environment.name}``,
``${workspace.KEY}``. ``$${`` writes a literal ``${``; Azure ML's ``${{ ... }}`` is left
untouched. A string that is exactly one reference takes the referenced value's type
(``threshold: ${var.t}`` stays a number).

Variable precedence: ``--var k=v`` > ``MLSPEC_VAR_K`` > the environment's
``variables`` > the declared ``default``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlspec.diagnostics import Diagnostic, Location, Severity, SpecPath
from mlspec.redaction import printable, redact
from mlspec.spec_schema.loader import SpecDocument

LOCAL_ENVIRONMENT = "local"
"""Exists for every project without being declared: the embedded local default."""

ENV_VAR_PREFIX = "MLSPEC_VAR_"

_REFERENCE = re.compile(r"\$\$\{|\$\{(?!\{)([^{}]*)\}")
_NAMESPACES = ("var", "project", "environment", "workspace")


@dataclass
class ResolvedSpec:
    """The spec as one environment sees it: merged, interpolated, still located."""

    document: SpecDocument
    environment: str
    data: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict)
    interpolated: list[SpecPath] = field(default_factory=list)
    """Paths of the values that interpolation changed (the security scan re-checks only these)."""
    variable_uses: dict[SpecPath, set[str]] = field(default_factory=dict)
    """Which variables each interpolated value used."""
    given_variables: dict[str, str] = field(default_factory=dict)
    """Variables given from outside the spec, with how: ``--var`` or the ``MLSPEC_VAR_*`` name."""

    @property
    def file(self) -> str:
        return self.document.file

    def origin(self, path: SpecPath) -> SpecPath:
        """The path in the source document that wrote the value at ``path`` of the merged data."""
        overlay = _overlay_of(self.document.data, self.environment)
        if not overlay:
            return path
        base: Any = self.document.data
        over: Any = overlay
        for part in path:
            if not (isinstance(over, dict) and isinstance(part, str) and part in over):
                return path
            over_value = over[part]
            base_value = base.get(part) if isinstance(base, dict) else None
            if not (isinstance(over_value, dict) and isinstance(base_value, dict)):
                return ("environments", self.environment, "overrides", *path)
            over, base = over_value, base_value
        return path

    def locate(self, path: SpecPath, *, at_key: bool = False) -> Location:
        return self.document.locate(self.origin(path), at_key=at_key)


def variable_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of a process environment resolution reads (``MLSPEC_VAR_*``): taken once, not per environment."""
    return {key: value for key, value in environ.items() if key.startswith(ENV_VAR_PREFIX)}


def environment_names(document: SpecDocument) -> list[str]:
    """Declared environments plus ``local``, which every project has."""
    declared = document.data.get("environments")
    names = [str(n) for n in declared] if isinstance(declared, dict) else []
    return names if LOCAL_ENVIRONMENT in names else [*names, LOCAL_ENVIRONMENT]


def default_environment(document: SpecDocument) -> str:
    declared = document.data.get("environments")
    if isinstance(declared, dict):
        for name, env in declared.items():
            if isinstance(env, dict) and env.get("default") is True:
                return str(name)
    return LOCAL_ENVIRONMENT


def _overlay_of(data: Mapping[str, Any], environment: str) -> dict[str, Any] | None:
    envs = data.get("environments")
    env = envs.get(environment) if isinstance(envs, dict) else None
    overrides = env.get("overrides") if isinstance(env, dict) else None
    return overrides if isinstance(overrides, dict) else None


def merge_patch(base: Any, patch: Any) -> Any:
    """RFC 7396: mappings merge, ``None`` removes, anything else replaces. Inputs are not mutated."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class _Problems:
    def __init__(self, spec: ResolvedSpec) -> None:
        self.spec = spec
        self.items: list[Diagnostic] = []

    def add(
        self,
        code: str,
        message: str,
        path: SpecPath,
        hint: str | None = None,
        *,
        source_path: bool = False,
        offset: int = 0,
    ) -> None:
        if source_path:
            location = self.spec.document.locate(path)
        else:  # at the reference itself: `offset` is where its ${ starts in the string
            location = self.spec.document.locate_in_scalar(self.spec.origin(path), offset)
        self.items.append(Diagnostic(code, Severity.ERROR, message, path, location, hint))


def resolve(
    document: SpecDocument,
    environment: str,
    cli_vars: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ResolvedSpec, list[Diagnostic]]:
    """Merge ``environment``'s overlay and interpolate; problems come back as diagnostics."""
    environ = os.environ if environ is None else environ
    spec = ResolvedSpec(document, environment, {})
    problems = _Problems(spec)
    data = document.data
    envs = data.get("environments")
    env_def = envs.get(environment) if isinstance(envs, dict) else None
    if environment != LOCAL_ENVIRONMENT and not isinstance(env_def, dict):
        known = environment_names(document)
        problems.items.append(
            Diagnostic.error(
                "MLS205",
                f"unknown environment '{_typed(environment)}'",
                ("environments",),
                document.locate(("environments",)),
                f"declared environments: {', '.join(known)}" + _did_you_mean(environment, known),
            )
        )
        return spec, problems.items

    merged = {k: v for k, v in data.items() if k != "environments"}
    overlay = _overlay_of(data, environment)
    if overlay:
        for forbidden in ("apiVersion", "environments", "variables", "moved"):
            if forbidden in overlay:
                problems.add(
                    "MLS206",
                    f"{forbidden!r} cannot be overridden per environment",
                    ("environments", environment, "overrides", forbidden),
                    "set variables in the environment's `variables:`; the rest belongs in the base spec",
                    source_path=True,
                )
        merged = merge_patch(
            merged,
            {
                k: v
                for k, v in overlay.items()
                if k not in ("apiVersion", "environments", "variables", "moved")
            },
        )
    if "environments" in data:
        merged["environments"] = data["environments"]
    spec.variables = _variable_values(document, environment, env_def, cli_vars or {}, environ, problems)
    spec.given_variables = _given_variables(document, cli_vars or {}, environ)
    spec.data = _Interpolator(spec, merged, problems).run()
    return spec, problems.items


def _given_variables(
    document: SpecDocument, cli_vars: Mapping[str, str], environ: Mapping[str, str]
) -> dict[str, str]:
    declared = document.data.get("variables")
    names = list(declared) if isinstance(declared, dict) else []
    by_upper = {name.upper(): name for name in names}
    given: dict[str, str] = {}
    for env_key in environ:
        if env_key.startswith(ENV_VAR_PREFIX) and (
            name := by_upper.get(env_key[len(ENV_VAR_PREFIX) :].upper())
        ):
            given[name] = env_key
    given.update({name: "--var" for name in cli_vars if name in names})
    return given


def _variable_values(
    document: SpecDocument,
    environment: str,
    env_def: Any,
    cli_vars: Mapping[str, str],
    environ: Mapping[str, str],
    problems: _Problems,
) -> dict[str, Any]:
    declared = document.data.get("variables")
    declared = declared if isinstance(declared, dict) else {}
    values: dict[str, Any] = {}
    for name, decl in declared.items():
        if isinstance(decl, dict) and decl.get("default") is not None:
            values[name] = decl["default"]
    env_values = env_def.get("variables") if isinstance(env_def, dict) else None
    if isinstance(env_values, dict):
        for name, value in env_values.items():
            if name not in declared:
                problems.add(
                    "MLS203",
                    f"variable {name!r} is not declared",
                    ("environments", environment, "variables", name),
                    "declare it under the top-level `variables:`" + _did_you_mean(name, list(declared)),
                    source_path=True,
                )
            values[name] = value
    by_upper = {name.upper(): name for name in declared}
    for env_key, value in environ.items():
        if env_key.startswith(ENV_VAR_PREFIX):
            name = by_upper.get(env_key[len(ENV_VAR_PREFIX) :].upper())
            if name is not None:
                values[name] = value
    for name, value in cli_vars.items():
        if name not in declared:
            problems.items.append(
                Diagnostic.error(
                    "MLS203",
                    f"--var {_typed(name)}: variable '{_typed(name)}' is not declared",
                    ("variables",),
                    document.locate(("variables",)),
                    "declare it under `variables:`" + _did_you_mean(name, list(declared)),
                )
            )
        values[name] = value
    return values


class _Interpolator:
    def __init__(self, spec: ResolvedSpec, merged: dict[str, Any], problems: _Problems) -> None:
        self.spec = spec
        self.merged = merged
        self.problems = problems
        workspace = merged.get("workspace")
        self.raw_workspace: dict[str, Any] = workspace if isinstance(workspace, dict) else {}
        self.workspace_done: dict[str, Any] = {}
        self.workspace_active: list[str] = []
        project = merged.get("project")
        self.project_name = project.get("name") if isinstance(project, dict) else None
        self.plain = _plain_subtrees(spec.document)

    def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.merged.items():
            if key in ("environments", "variables"):
                out[key] = value  # consumed by resolution itself, never interpolated
            elif key == "workspace" and isinstance(value, dict):
                out[key] = {k: self.workspace_value(k, ("workspace", k)) for k in value}
            else:
                out[key] = self.value(value, (key,))
        return out

    def value(self, value: Any, path: SpecPath) -> Any:
        return self._value(value, path, None)

    def _value(self, value: Any, prefix: SpecPath, trail: _Trail) -> Any:
        # A mapping or list that interpolation leaves as it is comes back as the same object (and one
        # with no `$` anywhere below is not even walked): most of a spec is the same in every
        # environment, and what later steps see as the very same object they need to look at once.
        # Elsewhere the walk stays lean: a path is built only for a string that holds a reference.
        kind = type(value)
        if kind is str:
            return self.string(value, _path_of(prefix, trail)) if "$" in value else value
        if kind is dict:
            if id(value) in self.plain:
                return value
            changed: dict[str, Any] | None = None
            for k, v in value.items():
                if _unchanging(v):
                    continue
                new = self._value(v, prefix, (trail, k))
                if new is not v:
                    if changed is None:
                        changed = dict(value)
                    changed[k] = new
            return value if changed is None else changed
        if kind is list:
            if id(value) in self.plain:
                return value
            items: list[Any] | None = None
            for i, v in enumerate(value):
                if _unchanging(v):
                    continue
                new = self._value(v, prefix, (trail, i))
                if new is not v:
                    if items is None:
                        items = list(value)
                    items[i] = new
            return value if items is None else items
        return value

    def string(self, text: str, path: SpecPath) -> Any:
        whole = _REFERENCE.fullmatch(text)
        if whole and whole.group(1) is not None:
            self.spec.interpolated.append(path)
            return self.lookup(whole.group(1).strip(), path)

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "${"  # $${ escape
            value = self.lookup(match.group(1).strip(), path, match.start())
            if isinstance(value, bool):
                return "true" if value else "false"
            return "" if value is None else str(value)

        result = _REFERENCE.sub(substitute, text)
        if result != text:
            self.spec.interpolated.append(path)
        return result

    def lookup(self, reference: str, path: SpecPath, offset: int = 0) -> Any:
        namespace, _, key = reference.partition(".")
        if namespace == "var" and key:
            self.spec.variable_uses.setdefault(path, set()).add(key)
            if key in self.spec.variables:
                return self.spec.variables[key]
            declared = self.spec.document.data.get("variables")
            if isinstance(declared, dict) and key in declared:
                self.problems.add(
                    "MLS204",
                    # No environment in the message: the same finding in several environments is one,
                    # and validate names the environments it holds in.
                    f"variable {key!r} has no value",
                    path,
                    "give it a default, set it in the environment's `variables:`, "
                    f"export {ENV_VAR_PREFIX}{key.upper()}=... or pass --var {key}=...",
                    offset=offset,
                )
            else:
                names = list(declared) if isinstance(declared, dict) else []
                self.problems.add(
                    "MLS201",
                    f"unknown variable ${{var.{key}}}",
                    path,
                    "declare it under `variables:`" + _did_you_mean(key, names),
                    offset=offset,
                )
            return ""
        if reference == "project.name" and isinstance(self.project_name, str):
            return self.project_name
        if reference == "environment.name":
            return self.spec.environment
        if namespace == "workspace" and key:
            return self.workspace_value(key, path, offset)
        self.problems.add(
            "MLS201",
            f"unknown reference ${{{reference}}}",
            path,
            "references are ${var.NAME}, ${project.name}, ${environment.name} and ${workspace.KEY}; "
            "write $${ for a literal ${" + _did_you_mean(reference, ["project.name", "environment.name"]),
            offset=offset,
        )
        return ""

    def workspace_value(self, key: str, path: SpecPath, offset: int = 0) -> Any:
        if key in self.workspace_done:
            return self.workspace_done[key]
        if key not in self.raw_workspace:
            self.problems.add(
                "MLS201",
                f"unknown reference ${{workspace.{key}}}",
                path,
                "workspace keys: "
                + ", ".join(sorted(self.raw_workspace))
                + _did_you_mean(key, list(self.raw_workspace)),
                offset=offset,
            )
            return ""
        if key in self.workspace_active:
            cycle = " → ".join(
                f"workspace.{k}" for k in [*self.workspace_active[self.workspace_active.index(key) :], key]
            )
            self.problems.add(
                "MLS202",
                f"cyclic reference: {cycle}",
                ("workspace", key),
                "break the cycle with a literal value",
            )
            return ""
        self.workspace_active.append(key)
        try:
            value = self.value(self.raw_workspace[key], ("workspace", key))
        finally:
            self.workspace_active.pop()
        self.workspace_done[key] = value
        return value


_Trail = tuple[Any, str | int] | None
"""A path as a chain of (parent trail, key) pairs: cheap to extend, turned into a tuple on demand."""


def _path_of(prefix: SpecPath, trail: _Trail) -> SpecPath:
    keys: list[str | int] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    return (*prefix, *reversed(keys))


def _plain_subtrees(document: SpecDocument) -> dict[int, Any]:
    """The document's mappings and lists with no ``$`` in any string below, by ``id`` (computed once
    per document; the objects are kept, so no other object can take one of their ids meanwhile)."""
    plain = document.memo.get("plain_subtrees")
    if plain is None:
        plain = document.memo["plain_subtrees"] = {}
        _collect_plain(document.data, plain)
    return plain


def _collect_plain(node: Any, plain: dict[int, Any]) -> bool:
    """Whether ``node`` holds no ``$`` (keys aside: interpolation leaves keys alone); records such containers."""
    kind = type(node)
    if kind is str:
        return "$" not in node
    if kind is dict or kind is list:
        clean = True
        for item in node.values() if kind is dict else node:
            clean = _collect_plain(item, plain) and clean
        if clean:
            plain[id(node)] = node
        return clean
    return True


def _unchanging(value: Any) -> bool:
    """A leaf interpolation leaves as it is: not a container, not a string with a ``$``."""
    kind = type(value)
    return kind is not dict and kind is not list and (kind is not str or "$" not in value)


def _typed(text: str) -> str:
    """A name the user typed on the command line, safe to quote: a mistyped ``--env`` may be a
    pasted SAS URL or token, and may carry terminal escapes."""
    return printable(redact(text))


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
