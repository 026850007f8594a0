"""Snapshots that put a step's writes back: lake folders, the registry, append-only logs."""

from __future__ import annotations

from pathlib import Path

from mlspec.runtime.snapshot import AppendedFiles, FolderSnapshot


def test_appended_logs_are_cut_back_and_new_files_removed(tmp_path: Path) -> None:
    log = tmp_path / "predictions"
    (log / "2026").mkdir(parents=True)
    (log / "2026" / "day1.jsonl").write_text('{"a": 1}\n')
    (log / "day0.jsonl").write_text('{"a": 0}\n')
    kept = AppendedFiles(log).take()
    with (log / "2026" / "day1.jsonl").open("a") as handle:
        handle.write('{"a": 2}\n')
    (log / "2026" / "day2.jsonl").write_text('{"a": 3}\n')
    (log / "2027").mkdir()
    (log / "2027" / "day9.jsonl").write_text('{"a": 9}\n')
    kept.restore()
    assert sorted(str(p.relative_to(log)) for p in log.rglob("*")) == [
        "2026",
        "2026/day1.jsonl",
        "day0.jsonl",
    ]
    assert (log / "2026" / "day1.jsonl").read_text() == '{"a": 1}\n'


def test_a_log_folder_that_did_not_exist_is_removed_again(tmp_path: Path) -> None:
    log = tmp_path / "predictions"
    kept = AppendedFiles(log).take()
    log.mkdir()
    (log / "day.jsonl").write_text("{}\n")
    kept.restore()
    assert not log.exists()


def test_folder_snapshot_puts_a_rewritten_folder_back(tmp_path: Path) -> None:
    folder = tmp_path / "table"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes(b"old")
    snapshot = FolderSnapshot(tmp_path / ".snap", link=True).take([folder])
    (folder / "part-0.parquet").unlink()
    (folder / "part-1.parquet").write_bytes(b"new")
    snapshot.restore()
    assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
    assert (folder / "part-0.parquet").read_bytes() == b"old"
