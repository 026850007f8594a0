"""The serving image: ``acr/Dockerfile``, ``acr/score.py``, ``acr/gunicorn.conf.py``,
``acr/requirements.txt`` and the ACR task (``acr/task.yaml``) that builds and pushes it to the
project's own registry.

The image runs Microsoft's Azure ML inference server (``azmlinfsrv``, the server of Azure ML's own
images) with the generated entry script, so the same script serves on AKS, on an Azure ML online
endpoint and locally (``mlspec.runtime.serving``). The server runs gunicorn; ``gunicorn.conf.py``
makes it hold up under hostile clients (gevent workers, a time limit on every request head and
body read, request line and header limits; its docstring has the measurements behind the
choice), and the Dockerfile bounds the workers (``WORKER_COUNT``, ``WORKER_TIMEOUT``).

The Dockerfile, the scoring script and the server configuration are jinja2 templates
(``mlspec/templates/aks/``) rendered with ``StrictUndefined``; every spec value reaches the script
as a Python literal (``repr``), and the Dockerfile receives only values checked against a strict
pattern. The image tag is the first 12 hex digits of the SHA-256 over the four build inputs: the
same inputs give the same tag, and a changed input a new one (never ``latest``).

The base is Microsoft's curated Azure ML image for the spec's Python, pinned by digest
(:mod:`mlspec.spec_schema.serving_image.base_images`); the packages go into a virtualenv of their own, installed
from the lock file (:mod:`mlspec.spec_schema.serving_image.lock_file`) with ``--require-hashes --no-deps`` when
it matches. The Deployments run the image by the digest the ACR task pushed
(:attr:`ImageBuild.deployed_reference`, an output marker apply resolves), never by its tag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mlspec.compiler.addresses import acr_task
from mlspec.compiler.aks.conventions import (
    LIVE_PATH,
    PRE_STOP_SECONDS,
    RUN_AS,
    TERMINATION_GRACE_SECONDS,
    output_marker,
)
from mlspec.contract.graph import content_hash
from mlspec.spec_schema.serving_image.base_images import VENV, base_image
from mlspec.spec_schema.serving_image.requirements import (
    UnsafeValue,
)
from mlspec.templates.engine import code_environment

TEMPLATE_PACKAGE = "mlspec"
TEMPLATE_DIR = "templates/aks"
TASK_VERSION = "v1.1.0"
RUN_ID = "{{.Run.ID}}"
"""ACR Tasks' own template syntax: written literally into task.yaml, which ACR renders before parsing."""

WORKER_COUNT = 2
"""gevent workers per pod: a CPU-bound prediction blocks its worker, so a second one keeps answering."""
WORKER_TIMEOUT_SECONDS = 120
"""gunicorn restarts a worker that has not reported for this long (e.g. a prediction that hangs)."""
KEEPALIVE_SECONDS = 5
BODY_IDLE_SECONDS = 10
WORKER_CONNECTIONS = 1000
SHUTDOWN_MARGIN_SECONDS = 5
"""Left of the termination grace period after the preStop pause and gunicorn's graceful stop, before
the kubelet kills the container."""

PYTHON_VERSION = re.compile(r"3\.\d{1,2}(?:\.\d{1,2})?")
SAFE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


class NoBaseImage(UnsafeValue):
    """A Python version no pinned base image exists for (``base_images.BASE_IMAGES``)."""


def python_literal(value: Any) -> str:
    """``value`` as Python source (``repr`` of plain data: strings, numbers, lists, dicts), a dict one
    entry a line. Anything else is refused, so no spec value can become code."""
    _check_plain(value)
    if isinstance(value, dict) and value:
        entries = "".join(f"    {key!r}: {_inline(value[key])},\n" for key in sorted(value))
        return "{\n" + entries + "}"
    return _inline(value)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_inline(value[key])}" for key in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    return repr(value)


def _check_plain(value: Any) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeValue(repr(value))
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_plain(item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsafeValue(repr(key))
            _check_plain(item)
        return
    raise UnsafeValue(type(value).__name__)


def _read_template(name: str) -> str:
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_DIR).joinpath(name).read_text("utf-8")


@cache
def _environment() -> Any:
    import jinja2

    env = code_environment(
        jinja2.FunctionLoader(_read_template),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pyliteral"] = python_literal
    return env


def render_template(name: str, **values: Any) -> str:
    text: str = _environment().get_template(name).render(**values)
    return text


@dataclass(frozen=True)
class ImageBuild:
    """The rendered build inputs and the image they make."""

    dockerfile: str
    score: str
    server_config: str
    """``gunicorn.conf.py``."""
    requirements: str
    repository: str
    """``<project>/<endpoint>`` inside the registry."""
    registry: str
    tag: str
    endpoint: str

    @property
    def reference(self) -> str:
        """The image by its content tag: what the ACR task builds once and pushes."""
        return f"{self.registry}/{self.repository}:{self.tag}"

    @property
    def deployed_reference(self) -> str:
        """The image by the digest the ACR task pushed (known once it ran): what the Deployments run.

        ``<registry>/<repository>@mlspec:output:acr.task.<endpoint>.image_digest``: apply replaces the
        marker with ``sha256:<hex>``, so a tag moved later (a rerun task) cannot change a pod's image."""
        return (
            f"{self.registry}/{self.repository}@{output_marker(str(acr_task(self.endpoint)), 'image_digest')}"
        )

    def task(self) -> dict[str, Any]:
        """ACR Tasks YAML (``az acr run -f task.yaml acr/``): build, tag by run id and content, push."""
        by_run = f"$Registry/{self.repository}:{RUN_ID}"
        by_content = f"$Registry/{self.repository}:{self.tag}"
        return {
            "version": TASK_VERSION,
            "steps": [
                {"build": f"-t {by_run} -t {by_content} -f Dockerfile ."},
                {"push": [by_run, by_content]},
            ],
        }


def build_image(
    *,
    project: str,
    endpoint: str,
    registry: str,
    python_version: str,
    port: int,
    requirements: str,
    locked: bool,
    defaults: dict[str, str],
) -> ImageBuild:
    """Render the Dockerfile and scoring script; ``UnsafeValue`` if a value cannot be embedded safely
    (``NoBaseImage`` for a Python version without a pinned base). ``locked``: ``requirements`` pins
    every distribution with its hashes (the lock file), so pip installs exactly those files."""
    for name in (project, endpoint):
        if not SAFE_NAME.fullmatch(name):
            raise UnsafeValue(name)
    if not PYTHON_VERSION.fullmatch(python_version):
        raise UnsafeValue(python_version)
    base = base_image(python_version)
    if base is None:
        raise NoBaseImage(python_version)
    dockerfile = render_template(
        "Dockerfile.j2",
        base_image=base.reference,
        venv=VENV,
        locked=locked,
        port=int(port),
        uid=RUN_AS,
        live_path=LIVE_PATH,
        worker_count=WORKER_COUNT,
        worker_timeout=WORKER_TIMEOUT_SECONDS,
    )
    score = render_template("score.py.j2", project=project, endpoint=endpoint, defaults=defaults)
    server_config = render_template(
        "gunicorn.conf.py.j2",
        worker_connections=WORKER_CONNECTIONS,
        keepalive_seconds=KEEPALIVE_SECONDS,
        graceful_seconds=TERMINATION_GRACE_SECONDS - PRE_STOP_SECONDS - SHUTDOWN_MARGIN_SECONDS,
        body_idle_seconds=BODY_IDLE_SECONDS,
    )
    digest = content_hash(
        [dockerfile.encode(), score.encode(), server_config.encode(), requirements.encode()]
    )
    tag = digest.removeprefix("sha256:")[:12]
    return ImageBuild(
        dockerfile, score, server_config, requirements, f"{project}/{endpoint}", registry, tag, endpoint
    )
