"""Run records and the run lock (mlspec.runtime.records), and `mlspec status` over them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlspec.cli import main
from mlspec.runtime.records import RunLayout, RunLocked, RunRecordCorrupt, write_record

ROOT = Path(__file__).resolve().parents[2]


def a_record(run_id: str, **sections: object) -> dict[str, object]:
    return {
        "run_id": run_id,
        "status": "succeeded",
        "steps": [{"name": "train", "status": "succeeded", "seconds": 1.0}],
        **sections,
    }


def project(tmp_path: Path) -> Path:
    (tmp_path / "mlproject.yaml").write_text(
        "apiVersion: mlspec/v1\nproject: {name: demo}\n", encoding="utf-8"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"run_id": "r1", "status": "succ', "is not valid JSON"),
        ("[1, 2]", "it is not a JSON object"),
        ("{}", "run_id and status must be strings"),
        ('{"run_id": "r1", "status": "ok", "steps": ["train"]}', "steps must be a list"),
        ('{"run_id": "r1", "status": "ok", "steps": [], "model": "v1"}', "model must be an object or null"),
    ],
)
def test_a_corrupt_record_is_named_with_what_is_wrong(tmp_path: Path, content: str, problem: str) -> None:
    layout = RunLayout(project(tmp_path))
    (layout.runs / "r1").mkdir(parents=True)
    (layout.runs / "r1" / "run.json").write_text(content, encoding="utf-8")
    layout.mark_latest("r1")
    with pytest.raises(RunRecordCorrupt, match=problem) as caught:
        layout.latest_record()
    assert str(layout.runs / "r1" / "run.json") in str(caught.value)
    assert list(layout.records()) == []  # a run never builds on a record it cannot read


def test_records_come_newest_first_and_unreadable_ones_are_passed_over(tmp_path: Path) -> None:
    layout = RunLayout(project(tmp_path))
    for run_id in ("20261201T090000Z-aaaaaa", "20261201T100000Z-bbbbbb", "20261201T110000Z-cccccc"):
        write_record(layout.runs / run_id, a_record(run_id))
    (layout.runs / "20261201T110000Z-cccccc" / "run.json").write_text("{", encoding="utf-8")
    assert [r["run_id"] for r in layout.records()] == ["20261201T100000Z-bbbbbb", "20261201T090000Z-aaaaaa"]


def test_status_says_the_record_is_corrupt_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path)
    layout = RunLayout(folder)
    (layout.runs / "r1").mkdir(parents=True)
    (layout.runs / "r1" / "run.json").write_text("{}", encoding="utf-8")
    layout.mark_latest("r1")
    with pytest.raises(SystemExit) as done:
        main(["status", str(folder / "mlproject.yaml")])
    assert done.value.code == 1
    assert "cannot be read" in capsys.readouterr().err


def test_status_of_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as done:
        main(["status", str(tmp_path / "nowhere" / "mlproject.yaml")])
    assert done.value.code == 2


def test_status_shows_the_last_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = project(tmp_path)
    layout = RunLayout(folder)
    write_record(layout.runs / "r1", a_record("r1", environment="local"))
    layout.mark_latest("r1")
    main(["status", str(folder / "mlproject.yaml"), "--json"])
    assert json.loads(capsys.readouterr().out)["run_id"] == "r1"


def test_the_run_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    folder = project(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from mlspec.runtime.records import RunLayout
                with RunLayout(Path({str(folder)!r})).lock("run"):
                    print("held", flush=True)
                    time.sleep(30)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=rf"mlspec run, pid {holder.pid}"), RunLayout(folder).lock("run"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with RunLayout(folder).lock("run"):  # the operating system released it with the process
        pass
