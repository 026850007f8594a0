"""The README's minimal spec is complete and valid as pasted: validate and build accept it as it stands."""

from __future__ import annotations

import re
from pathlib import Path

from mlspec import api

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_minimal_spec_validates_and_builds_as_pasted(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README shows a spec"
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(blocks[0], encoding="utf-8")
    report = api.validate_file(spec, environ={})
    assert report.ok and not report.diagnostics, [f"{d.code} {d.message}" for d in report.diagnostics]
    for environment in report.environments:
        assert api.build(spec, environment, environ={}).manifest.resources
