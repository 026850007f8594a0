"""Azure ML CLI v2 YAML files, loaded and validated by ``azure-ai-ml`` exactly as ``az ml`` would, offline.

The SDK resolves relative paths in the file (``code: ../src``, ``create_job: ./pipeline.yml``) against
the file's folder and fails on missing ones. A pipeline step names its component as registered
(``azureml:<name>:<version>``), which the SDK leaves unresolved offline: the build's components
are loaded beside the pipeline and each step is checked against the one of that name and version. mlspec adds what the SDK lets through: pipeline
bindings and step keys (:mod:`aml_pipeline`), cron expressions and time zones of schedules, an
environment's image/build rule and a cluster's instance bounds.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from mlspec.compiler.platform_checks.aml_errors import sdk_error_messages
from mlspec.compiler.platform_checks.aml_pipeline import pipeline_problems
from mlspec.compiler.platform_checks.cron import cron_errors
from mlspec.compiler.platform_checks.json_pointers import pointer
from mlspec.compiler.platform_checks.problems import PlatformProblem

CHECKER = "azure-ai-ml"

AmlKind = Literal["job", "component", "environment", "compute", "schedule", "monitor_schedule"]

# The SDK logs a warning for every experimental class it instantiates while loading.
_NOISY_LOGGER = "azure.ai.ml._utils._experimental"
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def check_aml_file(path: Path, kind: AmlKind) -> list[PlatformProblem]:
    """Problems ``azure-ai-ml`` (and mlspec's extra rules) find in one CLI v2 YAML file."""
    artifact = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [PlatformProblem(artifact, "", f"cannot read the file: {exc}", "mlspec")]
    if not isinstance(raw, dict):
        return [PlatformProblem(artifact, "", "the file must hold a YAML mapping", "mlspec")]
    try:
        with _quiet_sdk():
            entity = _loaders()[kind](path)
    # The SDK raises marshmallow ValidationError, its own ValidationException, FileNotFoundError and
    # more while loading; every one of them means the file would be rejected.
    except Exception as exc:
        return [
            PlatformProblem(artifact, where, message, CHECKER) for where, message in sdk_error_messages(exc)
        ]
    problems = [PlatformProblem(artifact, where, message, CHECKER) for where, message in _validate(entity)]
    for where, message in _extra_checks(kind, raw, entity, path):
        problems.append(PlatformProblem(artifact, where, message, "mlspec"))
    return problems


@cache
def _loaders() -> dict[str, Callable[[Path], Any]]:
    from azure.ai.ml import load_component, load_compute, load_environment, load_job

    # Not exported from azure.ai.ml in 1.35.x.
    from azure.ai.ml.entities._load_functions import load_schedule

    return {
        "job": load_job,
        "component": load_component,
        "environment": load_environment,
        "compute": load_compute,
        "schedule": load_schedule,
        "monitor_schedule": load_schedule,
    }


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Mute what the SDK says about itself (experimental classes, marshmallow 4 deprecations)."""
    logger = logging.getLogger(_NOISY_LOGGER)
    previous, logger.disabled = logger.disabled, True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.disabled = previous


def _validate(entity: Any) -> list[tuple[str, str]]:
    """The SDK's own validation of a loaded entity, where it has one."""
    from azure.ai.ml.exceptions import MlException

    kind = type(entity).__name__
    # Environment validates in public validate(); MonitorSchedule has no _validate(), but building its
    # REST body applies the service's rules (compute runtime version, thresholds, data contexts).
    check = {"Environment": "validate", "MonitorSchedule": "_to_rest_object"}.get(kind)
    if check is not None:
        try:
            with _quiet_sdk():
                getattr(entity, check)()
        except MlException as exc:
            return [("", reason) for reason in _reasons(exc)]
        return []
    validate = getattr(entity, "_validate", None)
    if validate is None:
        return []
    try:
        with _quiet_sdk():
            result = validate()
    except NotImplementedError:  # entities without a validation schema (the SDK's own stub)
        return []
    return [(_dotted(path), str(message)) for path, message in result.error_messages.items()]


def _reasons(exc: Exception) -> list[str]:
    """The SDK wraps reasons in a coloured help text; its "(x) ..." lines are the reasons."""
    text = _ANSI_COLOUR.sub("", str(exc))
    return [line[4:] for line in text.splitlines() if line.startswith("(x) ")] or [text.strip()]


def _extra_checks(kind: str, raw: dict[str, Any], entity: Any, path: Path) -> list[tuple[str, str]]:
    if kind == "job" and raw.get("type") == "pipeline":
        return pipeline_problems(raw, entity, _registered_components(path.parent / "components"))
    if kind in ("schedule", "monitor_schedule"):
        return _trigger_problems(raw)
    if kind == "compute":
        return _compute_problems(raw)
    return []


def _registered_components(folder: Path) -> dict[str, Any]:
    """The build's components, loaded by the SDK, by ``<name>:<version>`` (a step names one registered as
    ``azureml:<name>:<version>``); one that does not load is left out (its own check reports it)."""
    found: dict[str, Any] = {}
    for file in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        try:
            with _quiet_sdk():
                component = _loaders()["component"](file)
        except Exception:  # the component file's own check says why it does not load
            continue
        found[f"{component.name}:{component.version}"] = component
    return found


def _trigger_problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    from azure.ai.ml.constants import TimeZone

    trigger = raw.get("trigger")
    if not isinstance(trigger, dict):
        return []
    found: list[tuple[str, str]] = []
    expression = trigger.get("expression")
    if trigger.get("type") == "cron" and isinstance(expression, str):
        found += [(pointer("trigger", "expression"), error) for error in cron_errors(expression)]
    zone = trigger.get("time_zone")
    zones = {str(member.value) for member in TimeZone}
    if zone is not None and zone not in zones:
        found.append((pointer("trigger", "time_zone"), f"{zone!r} is not an Azure ML time zone (e.g. UTC)"))
    return found


def _compute_problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    low, high = raw.get("min_instances"), raw.get("max_instances")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        return [(pointer("min_instances"), f"min_instances {low} is more than max_instances {high}")]
    return []


def _dotted(path: str) -> str:
    return pointer(*[part for part in str(path).split(".") if part and part != "*"])
