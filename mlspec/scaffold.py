"""``mlspec init``: scaffold a project folder whose spec validates cleanly in every environment.

Templates are folders under ``mlspec/templates/init/<template>/``. Every file in them ends
in ``.j2``, is rendered with jinja2 (``StrictUndefined``: a misspelt placeholder is an
error, never an empty string) and written without that suffix. The suffix also keeps the
template's Python files away from the linters and type checkers that check mlspec's own code.

Rendering YAML with a text template is safe here **only** because every value put into it
is derived from ``name`` after ``name`` has been checked against ``[a-z][a-z0-9-]*`` (a
lowercase DNS label), or is a constant of mlspec (the schema path): no quote, colon, brace, ``#`` or newline can reach the YAML. Do not
add a placeholder fed by anything less constrained; render data with ``yaml.safe_dump``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, get_args

import jinja2

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.spec_schema.export import PROJECT_SCHEMA_PATH, write_schema

Template = Literal["tabular", "images"]
TEMPLATES: tuple[str, ...] = get_args(Template)
TEMPLATE_ROOT = Path(__file__).parent / "templates" / "init"

NAME = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
MIN_NAME_LENGTH, MAX_NAME_LENGTH = 3, 24
NAME_RULE = (
    f"a lowercase DNS label of {MIN_NAME_LENGTH}-{MAX_NAME_LENGTH} characters: letters, digits and hyphens, "
    "starting with a letter and ending with a letter or digit (e.g. churn or fraud-scoring)"
)

# Written by code rather than kept as a template file: package-data globs skip dotfiles.
GITIGNORE = """\
# written by mlspec: build artifacts and local state, lake data and run records
build/
.mlspec/
__pycache__/
"""

# Azure names built from the project name must fit their own limits for every name that
# passes NAME: key vaults allow 24 characters and no "--"; with "kv-" and "-<environment>"
# (at most "-local", "-prod") that leaves 15 for the name.
_SHORT_LENGTH = 15
_ACCOUNT_STEM_LENGTH = 17  # "st" + stem + "prod" <= 24, lowercase letters and digits only


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a project name, or ``None``."""
    if not MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH:
        return f"it has {len(name)} characters"
    if not NAME.fullmatch(name):
        return "it has characters other than lowercase letters, digits and hyphens, or starts or ends wrongly"
    return None


def template_values(name: str) -> dict[str, str]:
    """What the templates may use, all derived from a checked ``name``."""
    compact = name.replace("-", "")
    return {
        "name": name,
        "short": re.sub(r"-+", "-", name)[:_SHORT_LENGTH].rstrip("-"),
        "compact": compact,
        "lake_account": "st" + compact[:_ACCOUNT_STEM_LENGTH],
        # Relative to the spec, so the YAML language server resolves it offline (see init_project).
        "schema_path": PROJECT_SCHEMA_PATH.as_posix(),
    }


def init_project(name: str, destination: Path, template: Template = "tabular") -> list[Path]:
    """Create ``destination`` with a valid ``mlproject.yaml`` and the files it refers to.

    Returns the created files, sorted. Raises :class:`MlspecError` (and writes nothing)
    when ``name`` is not a valid project name, ``template`` is unknown, or ``destination``
    exists and is not an empty folder.
    """
    problem = name_problem(name)
    if problem is not None:
        raise MlspecError(
            [Diagnostic.error("MLS000", f"invalid project name {name!r}: {problem}", hint=f"use {NAME_RULE}")]
        )
    if template not in TEMPLATES:
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS000", f"unknown template {template!r}", hint=f"templates: {', '.join(TEMPLATES)}"
                )
            ]
        )
    destination = Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        what = "is not empty" if destination.is_dir() else "is a file"
        raise MlspecError(
            [
                Diagnostic.error(
                    "MLS000",
                    f"cannot create the project in {str(destination)!r}: it {what}",
                    hint="give a new or empty folder; mlspec init never overwrites files",
                )
            ]
        )
    files = render_template(template, template_values(name))
    destination.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    for relative, text in files.items():
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    created.append(write_local_secrets(destination, files["mlproject.yaml"]))
    created.append(write_editor_schema(destination))
    return sorted(created)


def write_editor_schema(project: Path) -> Path:
    """The JSON Schema the spec's ``# yaml-language-server: $schema=`` line points at, so editor
    hints work the moment the project exists, offline. It lives in the git-ignored ``.mlspec/``
    (it belongs to the installed mlspec, not to the project); ``mlspec schema --write`` recreates it."""
    return write_schema(project / PROJECT_SCHEMA_PATH)


def write_local_secrets(project: Path, spec_text: str) -> Path:
    """``.mlspec/secrets.yaml`` (git-ignored, 0600) with a random local stand-in for each Key Vault
    secret the scaffold's spec names, so ``mlspec run`` works at once; the values are only for this
    machine's local endpoint and never leave it."""
    import secrets

    import yaml

    spec = yaml.safe_load(spec_text)
    names = sorted(str(ref["name"]) for ref in ((spec.get("access") or {}).get("secrets") or {}).values())
    target = project / ".mlspec" / "secrets.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = "# Local stand-ins for the Key Vault secrets of mlproject.yaml (docs/run.md); never commit.\n"
    body += yaml.safe_dump({name: f"local-{secrets.token_hex(16)}" for name in names}, sort_keys=True)
    handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(body)
    return target


def render_template(template: str, values: dict[str, str]) -> dict[str, str]:
    """Relative path → text of every file the template creates, ``.gitignore`` included."""
    root = TEMPLATE_ROOT / template
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, Python and Markdown, not HTML; see the module docstring
    )
    files: dict[str, str] = {}
    for source in sorted(root.rglob("*.j2")):
        relative = source.relative_to(root).as_posix()
        files[relative.removesuffix(".j2")] = environment.get_template(relative).render(**values)
    files[".gitignore"] = GITIGNORE
    return files
