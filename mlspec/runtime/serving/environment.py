"""The scoring environment: an isolated virtualenv with Azure ML's inference server and the model's packages.

The server (``azureml-inference-server-http``) pins ``pydantic~=2.12`` and ``opentelemetry-sdk==1.33``,
which conflict with mlspec's own environment, and a ``--system-site-packages`` virtualenv does not
work either (the ``azure.monitor`` namespace package then mixes versions and the worker fails to
boot). So the server runs in a virtualenv of its own holding :data:`SERVER_REQUIREMENTS` and the
model's ``requirements.txt`` (MLflow writes it into the model folder, pinning e.g. scikit-learn to
the version the model was trained with, so its pickle loads).

Environments are cached by a hash of what they hold: ``$MLSPEC_CACHE_DIR/envs/scoring-<hash>``
(default ``~/.cache/mlspec/envs/``). One is built in a temporary folder beside its final place and
renamed into it only once the install and an import check succeeded, so a half-built environment
is never used; two processes building the same one at once both end up using the first rename.
The server is started with ``python -m`` (never a console script), since a renamed virtualenv's
scripts still name the temporary folder in their first line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

SERVER_REQUIREMENTS = (
    "azureml-inference-server-http==1.5.1",
    "gunicorn==27.0.1",
    "gevent==26.9.0",
)
"""The same pins as the image (``mlspec.spec_schema.serving_image.requirements.SERVER_REQUIREMENTS``): the server
configuration was measured with them."""
SINK_REQUIREMENTS = ("azure-storage-file-datalake>=12.16,<13",)
"""What the scoring script writes the prediction log to the lake with on Azure (as in the image), so the
same script runs here whole; a local run writes the log to the local lake folder instead."""
IMPORT_CHECK = "import azureml_inference_server_http.amlserver, gevent, mlflow.pyfunc, pandas, azure.storage.filedatalake"
ENVIRONMENT_PREFIX = "scoring-"
INSTALL_TIMEOUT_SECONDS = 1200.0
_FULL_MLFLOW = "mlflow"


class ScoringEnvironmentError(Exception):
    """The scoring environment cannot be built; the message names the cause (and pip's output tail)."""


def model_requirements(model_dir: Path) -> list[str]:
    """The model's ``requirements.txt`` as plain requirements, the full ``mlflow`` as ``mlflow-skinny``.

    Serving needs only MLflow's model loaders, and the full package pins ``gunicorn<24``, which the
    server's pin excludes. Options (``-r``, ``--index-url``) and URL requirements are refused: the
    file comes from a model registry, and nothing in it may redirect pip.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    path = model_dir / "requirements.txt"
    if not path.is_file():
        raise ScoringEnvironmentError(f"{path} is missing: MLflow writes it when it saves a model")
    server = {canonicalize_name(Requirement(line).name) for line in SERVER_REQUIREMENTS}
    found: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            raise ScoringEnvironmentError(
                f"{path}:{number}: not a plain requirement: {line[:80]!r}"
            ) from None
        if requirement.url:
            raise ScoringEnvironmentError(f"{path}:{number}: URL requirements are not installed")
        name = canonicalize_name(requirement.name)
        if name in server:
            continue  # the server's pins win: the configuration was measured with them
        if name == _FULL_MLFLOW:
            requirement.name = "mlflow-skinny"
        found.append(str(requirement))
    return found


def environment_key(requirements: Sequence[str]) -> str:
    """The cache key: the interpreter and the sorted requirements."""
    text = "\n".join([sys.implementation.name, sys.version, *sorted(set(requirements))])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def environments_dir() -> Path:
    from mlspec.templates.engine import cache_dir

    return cache_dir() / "envs"


def scoring_python(
    model_dir: Path,
    *,
    cache_dir: Path | None = None,
    extra_requirements: Sequence[str] = (),
    timeout: float = INSTALL_TIMEOUT_SECONDS,
) -> Path:
    """The Python of a ready scoring environment for the model in ``model_dir`` (built on first use).

    ``extra_requirements`` are added to the server's and the model's; ``cache_dir`` replaces the
    cache folder (default :func:`environments_dir`). Raises :class:`ScoringEnvironmentError`.
    """
    requirements = [
        *SERVER_REQUIREMENTS,
        *SINK_REQUIREMENTS,
        *model_requirements(model_dir),
        *extra_requirements,
    ]
    root = cache_dir or environments_dir()
    target = root / f"{ENVIRONMENT_PREFIX}{environment_key(requirements)}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        _build(building, requirements, timeout)
        try:
            building.rename(target)
        except OSError:
            if not python.exists():  # not another process's finished environment: a real failure
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return python


def _build(folder: Path, requirements: Sequence[str], timeout: float) -> None:
    python = folder / "bin" / "python"
    _run([sys.executable, "-m", "venv", str(folder)], "create the virtualenv", timeout)
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*install, "--requirement", str(folder / "requirements.txt")], "install the packages", timeout)
    _run([str(python), "-c", IMPORT_CHECK], "import the server and MLflow", 120.0)


def _run(command: list[str], what: str, timeout: float) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=environ, check=False
        )
    except subprocess.TimeoutExpired:
        raise ScoringEnvironmentError(f"scoring environment: could not {what} within {timeout:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ScoringEnvironmentError(f"scoring environment: could not {what}:\n{tail}")
