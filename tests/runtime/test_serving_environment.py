"""The scoring environment: what goes into it, its cache key, and that a failed build is never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec.runtime.serving.environment import (
    ENVIRONMENT_PREFIX,
    SERVER_REQUIREMENTS,
    SINK_REQUIREMENTS,
    ScoringEnvironmentError,
    environment_key,
    model_requirements,
    scoring_python,
)

pytest.importorskip("packaging", reason="requirements are parsed with packaging")


def _model(tmp_path: Path, requirements: str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    (folder / "requirements.txt").write_text(requirements, encoding="utf-8")
    return folder


def test_the_models_pins_are_kept_and_full_mlflow_becomes_skinny(tmp_path: Path) -> None:
    folder = _model(
        tmp_path,
        "# written by MLflow\nmlflow==2.22.5\ncloudpickle==3.1.3\nscikit-learn==1.7.2  # trained with\n\n"
        'pywin32==306; sys_platform == "win32"\ngunicorn<24\n',
    )
    assert model_requirements(folder) == [
        "mlflow-skinny==2.22.5",
        "cloudpickle==3.1.3",
        "scikit-learn==1.7.2",
        'pywin32==306; sys_platform == "win32"',
    ], "the server's own pins (gunicorn) win"


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://example.invalid/simple",
        "-r other.txt",
        "pkg @ https://example.invalid/p.whl",
        "-e .",
    ],
)
def test_options_and_urls_in_a_models_requirements_are_refused(tmp_path: Path, line: str) -> None:
    with pytest.raises(ScoringEnvironmentError, match=r"requirements\.txt"):
        model_requirements(_model(tmp_path, f"numpy==2.0\n{line}\n"))


def test_a_model_without_requirements_is_refused(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
    with pytest.raises(ScoringEnvironmentError, match=r"requirements\.txt is missing"):
        scoring_python(tmp_path, cache_dir=tmp_path / "envs")


def test_the_cache_key_depends_on_the_requirements_not_their_order() -> None:
    assert environment_key(["a==1", "b==2"]) == environment_key(["b==2", "a==1", "a==1"])
    assert environment_key(["a==1", "b==2"]) != environment_key(["a==1", "b==3"])


def test_the_server_pins_match_the_image() -> None:
    from mlspec.spec_schema.serving_image.requirements import SERVER_REQUIREMENTS as IMAGE_PINS
    from mlspec.spec_schema.serving_image.requirements import SERVING_REQUIREMENTS

    assert sorted(SERVER_REQUIREMENTS) == sorted(IMAGE_PINS.values())
    assert set(SINK_REQUIREMENTS) <= set(SERVING_REQUIREMENTS.values()), "the lake writer as in the image"


def test_a_cached_environment_is_used_without_building(tmp_path: Path) -> None:
    folder = _model(tmp_path, "numpy==2.0\n")
    key = environment_key([*SERVER_REQUIREMENTS, *SINK_REQUIREMENTS, "numpy==2.0"])
    python = tmp_path / "envs" / f"{ENVIRONMENT_PREFIX}{key}" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("", encoding="utf-8")
    assert scoring_python(folder, cache_dir=tmp_path / "envs") == python


@pytest.mark.slow
def test_a_failed_build_leaves_no_environment_behind(tmp_path: Path) -> None:
    folder = _model(tmp_path, "mlspec-test-no-such-package-exists==0.0.1\n")
    with pytest.raises(ScoringEnvironmentError, match="install the packages"):
        scoring_python(folder, cache_dir=tmp_path / "envs")
    assert list((tmp_path / "envs").iterdir()) == []
