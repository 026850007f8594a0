"""Traffic files and their replay, against a small real HTTP server on 127.0.0.1 (the real scoring
server's replay test is in test_serving.py)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas", reason="traffic files are read with pandas")
pytest.importorskip("requests", reason="replay sends with requests")

from mlspec.runtime.serving.traffic import EndpointGone, json_rows, read_traffic, replay  # noqa: E402

FEATURES = ["months", "spend", "tier"]


def _frame() -> Any:
    return pd.DataFrame(
        {
            "months": [1, 2, 3, 4, 5],
            "spend": [1.5, None, 3.5, 4.5, 5.5],
            "tier": ["a", "b", None, "a", "b"],
            "left": [True, False, True, False, True],
            "ignored": ["x"] * 5,
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_traffic_files_are_read_by_their_suffix(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"traffic{suffix}"
    frame = _frame()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    read = read_traffic(path)
    assert list(read.columns) == list(frame.columns)
    assert read["months"].tolist() == [1, 2, 3, 4, 5] and read["left"].tolist() == frame["left"].tolist()


def test_a_folder_of_parquet_files_is_one_traffic_frame(tmp_path: Path) -> None:
    folder = tmp_path / "traffic"
    folder.mkdir()
    _frame().iloc[:2].to_parquet(folder / "part-0.parquet", index=False)
    _frame().iloc[2:].to_parquet(folder / "part-1.parquet", index=False)
    assert sorted(read_traffic(folder)["months"].tolist()) == [1, 2, 3, 4, 5]


def test_an_unknown_traffic_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "traffic.xlsx").write_bytes(b"")
    with pytest.raises(ValueError, match="CSV, Parquet or JSON lines"):
        read_traffic(tmp_path / "traffic.xlsx")


def test_rows_become_json_values_with_missing_values_as_null() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "x": [float("nan"), 2.5],
            "t": [pd.Timestamp("2026-01-02T03:04:05Z"), pd.NaT],
            "b": [True, False],
        }
    )
    rows = json_rows(frame, ["n", "x", "t", "b"])
    assert rows == [[1, None, "2026-01-02T03:04:05+00:00", True], [None, 2.5, None, False]]
    json.dumps(rows, allow_nan=False)


def test_rows_are_read_without_generating_a_class_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    # A namedtuple per batch is an eval of generated source; a Ctrl-C landing there made the
    # interrupted replay's exit code death by SIGINT instead of 130 (see forget_handled_interrupts).
    import collections

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("json_rows built a namedtuple class")

    monkeypatch.setattr(collections, "namedtuple", refuse)
    assert json_rows(_frame(), ["months", "tier"]) == [[1, "a"], [2, "b"], [3, None], [4, "a"], [5, "b"]]


@dataclass
class Recorder:
    """A scoring stand-in that answers like the real one and keeps what it received."""

    url: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"Authorization": "Bearer test-key"})
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    fail_every: int = 0


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    state = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.received.append((dict(self.headers), body))
            failing = state.fail_every and len(state.received) % state.fail_every == 0
            answer = json.dumps({"predictions": [0] * len(body["data"])}).encode()
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_replay_sends_batches_of_features_with_their_own_request_ids(recorder: Recorder) -> None:
    outcome = replay(recorder, _frame(), FEATURES, "left", batch_size=2)
    assert outcome.requests == 3 and outcome.rows == 5 and dict(outcome.status_counts) == {200: 3}
    assert len(outcome.latencies_ms) == 3 and all(ms >= 0 for ms in outcome.latencies_ms)
    sent_ids = [headers["x-request-id"] for headers, _ in recorder.received]
    assert len(set(sent_ids)) == 3
    assert all(headers["Authorization"] == "Bearer test-key" for headers, _ in recorder.received)
    first = recorder.received[0][1]
    assert first == {"columns": FEATURES, "data": [[1, 1.5, "a"], [2, None, "b"]]}, (
        "no target, no extra column"
    )
    assert outcome.ground_truth == [
        {"request_id": sent_ids[0], "row": 0, "target": True},
        {"request_id": sent_ids[0], "row": 1, "target": False},
        {"request_id": sent_ids[1], "row": 0, "target": True},
        {"request_id": sent_ids[1], "row": 1, "target": False},
        {"request_id": sent_ids[2], "row": 0, "target": True},
    ]


def test_failed_requests_are_counted_and_carry_no_ground_truth(recorder: Recorder) -> None:
    recorder.fail_every = 2
    outcome = replay(recorder, _frame(), FEATURES, "left", batch_size=1)
    assert dict(outcome.status_counts) == {200: 3, 500: 2}
    assert [g["row"] for g in outcome.ground_truth] == [0, 0, 0]
    assert outcome.succeeded == 3


def test_replay_is_bounded_and_works_without_a_target(recorder: Recorder) -> None:
    outcome = replay(recorder, _frame(), FEATURES, None, batch_size=1, max_requests=2)
    assert outcome.requests == 2 and len(recorder.received) == 2 and outcome.ground_truth == []
    assert replay(recorder, _frame(), FEATURES, "no-such-target").ground_truth == []


def test_missing_feature_columns_are_named(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="'plan'"):
        replay(recorder, _frame(), [*FEATURES, "plan"])
    assert recorder.received == []


def test_a_server_that_is_gone_stops_the_replay(recorder: Recorder) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = Recorder(url=f"http://127.0.0.1:{port}")
    with pytest.raises(EndpointGone):
        replay(gone, _frame(), FEATURES)
