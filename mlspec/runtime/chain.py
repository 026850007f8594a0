"""``mlspec run``: the whole chain, in dependency order, from the compiled artifacts.

Steps (each can be rerun alone with ``--only`` or onwards with ``--from``)::

    seed        fill the raw sources from the project's seed program when they are all empty
    transforms  the Synapse notebooks on PySpark, in the Synapse pipeline's order
    train       the Azure ML pipeline's components as local processes; the gate decides registration
    serve       the scoring image's entry script on the Azure ML inference server; traffic replayed
    monitor     the monitor program over the prediction and serving logs; every alert rule evaluated
    retrain     a fired alert with action retrain: transforms (if stale), training, gate, promotion
    report      the static HTML report (the local stand-in for Power BI)

A step that fails puts the lake and the model registry back as they were before it, records
the failure and names the step to rerun; the record (``run.json``) is the ``--json`` document.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec.runtime import warm_imports
from mlspec.runtime.interrupts import sigterm_as_interrupt
from mlspec.runtime.lake import local_path
from mlspec.runtime.progress import PlainProgress, RunProgress
from mlspec.runtime.project import RunProject
from mlspec.runtime.records import RECORD_VERSION, RunLayout, now_iso, write_record
from mlspec.runtime.snapshot import AppendedFiles, FolderSnapshot

STEPS = ("seed", "transforms", "train", "serve", "monitor", "retrain", "report")
DEFAULT_TRAFFIC_ROWS = 1000
TRAFFIC_BATCH_ROWS = 25
_SKIP_SECTIONS = {"transforms": "transforms", "train": "model", "serve": "serving", "monitor": "monitoring"}


class RunFailed(Exception):
    """A step of the chain failed; ``step`` is the step to rerun from once the cause is fixed
    (the running step itself, or an earlier one whose output is missing)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


@dataclass
class RunOptions:
    spark_master: str | None = None
    traffic: Path | None = None
    from_step: str | None = None
    only: str | None = None
    traffic_rows: int = DEFAULT_TRAFFIC_ROWS
    environ: Mapping[str, str] | None = None
    variables: Mapping[str, str] | None = None
    """``--var`` values, repeated in the rerun hint."""
    lake_given: bool = False
    """Whether ``--lake`` was given (the rerun hint repeats it)."""

    def selected(self) -> list[str]:
        if self.only is not None:
            return [self.only]
        if self.from_step is not None:
            return list(STEPS[STEPS.index(self.from_step) :])
        return list(STEPS)


class Chain:
    """One run of the chain over one project; :meth:`run` returns the record."""

    def __init__(
        self,
        project: RunProject,
        layout: RunLayout,
        options: RunOptions | None = None,
        progress: RunProgress | None = None,
    ) -> None:
        self.project = project
        self.layout = layout
        self.options = options or RunOptions()
        self.progress = progress or PlainProgress()
        self.environ = dict(os.environ if self.options.environ is None else self.options.environ)
        self.history = list(layout.records())
        self.run_id, self.run_dir = layout.new_run()
        self.server: Any = None
        self.record: dict[str, Any] = {
            "version": RECORD_VERSION,
            "run_id": self.run_id,
            "project": project.name,
            "environment": project.environment,
            "status": "running",
            "started": now_iso(),
            "finished": None,
            "lake": str(layout.lake),
            "build": str(project.build_dir),
            "steps": [],
            "transforms": {},
            "model": None,
            "serving": None,
            "monitoring": None,
            "retrain": {"triggered": False, "alerts": []},
            "report": None,
            "error": None,
            "timings": {},
        }
        # Seconds spent inside the engines (Spark, the training processes, the scoring server's
        # start-up); bench/run.py reports mlspec's own overhead as the rest of the wall time.
        self.engine_seconds: dict[str, float] = {
            "seed_program": 0.0,
            "spark": 0.0,
            "training_processes": 0.0,
            "server_start": 0.0,
        }
        self._started = time.monotonic()

    # --- the driver ----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        selected = self.options.selected()
        steps: dict[str, Callable[[], str]] = {
            "seed": self._seed,
            "transforms": self._transforms,
            "train": self._train,
            "serve": self._serve,
            "monitor": self._monitor,
            "retrain": self._retrain,
            "report": self._report,
        }
        self._carry_over(selected)
        if selected and selected[0] not in warm_imports.STEP_MODULES:  # the first step waits on an engine
            warm_imports.warm(selected)
        failed = interrupted = False
        with sigterm_as_interrupt():  # children stopped, outputs put back, the record written
            try:
                try:
                    self._preflight(selected)
                except RunFailed as failure:
                    # Nothing ran: the rerun is this same command once the cause is fixed.
                    self._fail(
                        {"name": failure.step}, failure, time.monotonic(), ran=False, rerun=selected[0]
                    )
                    failed = True
                for name in STEPS:
                    if failed or name not in selected:
                        status = "blocked" if failed else "skipped"
                        self.record["steps"].append({"name": name, "status": status, "seconds": 0.0})
                        continue
                    failed = not self._run_step(name, steps[name])
            except KeyboardInterrupt:
                interrupted = True
                done = {s["name"] for s in self.record["steps"]}
                self.record["steps"] += [
                    {"name": n, "status": "blocked", "seconds": 0.0} for n in STEPS if n not in done
                ]
            finally:
                self._stop_server()
                self.progress.close()
                self.record["status"] = "interrupted" if interrupted else "failed" if failed else "succeeded"
                self.record["finished"] = now_iso()
                self.record["timings"] = {
                    "total": round(time.monotonic() - self._started, 3),
                    **{k: round(v, 3) for k, v in self.engine_seconds.items()},
                }
                self._save()
                self.layout.mark_latest(self.run_id)
        if interrupted:
            raise KeyboardInterrupt
        return self.record

    def _run_step(self, name: str, step: Callable[[], str]) -> bool:
        self.progress.step_started(name)
        started = time.monotonic()
        entry: dict[str, Any] = {"name": name, "status": "running", "seconds": 0.0}
        self.record["steps"].append(entry)
        try:
            detail = step()
        except RunFailed as failure:
            self._fail(entry, failure, started)
            return False
        except KeyboardInterrupt:
            entry.update(status="interrupted", seconds=round(time.monotonic() - started, 3))
            self.record["error"] = {
                "step": name,
                "message": f"interrupted during {name}; what the step was writing was put back",
                "rerun": self._rerun_hint(name),
            }
            self.progress.step_finished(name, "interrupted", entry["seconds"])
            raise
        except Exception as error:  # an engine's own error: the step failed, say where
            self._fail(entry, RunFailed(name, f"{type(error).__name__}: {_short(str(error))}"), started)
            return False
        entry.update(status="succeeded", seconds=round(time.monotonic() - started, 3))
        if detail:
            entry["detail"] = detail
        self.progress.step_finished(name, "succeeded", entry["seconds"], detail)
        self._save()
        return True

    def _preflight(self, selected: list[str]) -> None:
        """What can be checked before anything runs: the lake is writable, the Spark master URL, the
        traffic file, the deployment's secrets. A run that would fail after minutes fails at once."""
        try:
            self.layout.lake.mkdir(parents=True, exist_ok=True)
            probe = self.layout.lake / f".mlspec-write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise RunFailed(
                selected[0], f"cannot write to the lake {self.layout.lake}: {error.strerror or error}"
            ) from error
        master = self.options.spark_master
        if master is not None and {"transforms", "retrain"} & set(selected):
            from mlspec.runtime.spark import check_master  # the form only: no Spark is started here

            try:
                check_master(master)
            except ValueError as error:
                raise RunFailed("transforms", f"--spark-master: {error}") from error
        serving = {"serve", "retrain"} & set(selected) and self.project.deployment is not None
        if serving and self.project.deployment is not None:
            from mlspec.runtime.serving.secrets import SecretMissing, load_local_secrets

            names = [self.project.secret_names.get(n, n) for n in self.project.deployment.secrets]
            try:
                load_local_secrets(self.project.project_dir, names, self.environ)
            except SecretMissing as error:
                raise RunFailed("serve", str(error)) from error
        if "serve" in selected and self.options.traffic is not None:
            self._traffic_frame()

    def _fail(
        self,
        entry: dict[str, Any],
        failure: RunFailed,
        started: float,
        *,
        ran: bool = True,
        rerun: str | None = None,
    ) -> None:
        self.record["error"] = {
            "step": entry["name"],
            "message": failure.message,
            "rerun": self._rerun_hint(rerun or failure.step),
        }
        if ran:
            entry.update(status="failed", seconds=round(time.monotonic() - started, 3))
            self.progress.step_finished(entry["name"], "failed", entry["seconds"])
        self._save()

    def _rerun_hint(self, step: str) -> str:
        """The command that reruns from ``step`` with the options this run was given."""
        words = ["mlspec", "run", self._spec_argument()]
        if self.project.environment != "local":
            words += ["--env", self.project.environment]
        for name, value in (self.options.variables or {}).items():
            words += ["--var", f"{name}={value}"]
        if self.options.lake_given:
            words += ["--lake", str(self.layout.lake)]
        if self.options.spark_master:
            words += ["--spark-master", self.options.spark_master]
        if self.options.traffic and STEPS.index(step) <= STEPS.index("serve"):
            words += ["--traffic", str(self.options.traffic)]
        if self.options.only == step:
            words += ["--only", step]
        elif step != STEPS[0]:
            words += ["--from", step]
        return " ".join(shlex.quote(w) for w in words)

    def _spec_argument(self) -> str:
        try:
            return str(self.project.spec_file.relative_to(Path.cwd()))
        except ValueError:
            return str(self.project.spec_file)

    def _save(self) -> None:
        write_record(self.run_dir, self.record)

    def _carry_over(self, selected: list[str]) -> None:
        """What skipped steps produced in earlier runs (``--from``/``--only`` build on it): for each,
        the newest run in which that step succeeded (a later failed or partial run does not erase it)."""
        for step, section in _SKIP_SECTIONS.items():
            if step in selected:
                continue
            found = self._last_success(step, section)
            if found is not None:
                self.record[section] = found[section]
                if step == "transforms" and found.get("sources_fingerprint"):
                    self.record["sources_fingerprint"] = found["sources_fingerprint"]
        promoted = self.layout.served_version()
        if "train" not in selected and promoted is not None:
            for record in self.history:  # the model the endpoint serves, maybe from a retrain
                retrained = (record.get("retrain") or {}).get("model") or {}
                if retrained.get("version") == promoted.get("version") and retrained.get(
                    "name"
                ) == promoted.get("model"):
                    self.record["model"] = retrained
                    break
                if (record.get("model") or {}).get("version") == promoted.get("version"):
                    break

    def _last_success(self, step: str, section: str) -> dict[str, Any] | None:
        for record in self.history:
            succeeded = any(s.get("name") == step and s.get("status") == "succeeded" for s in record["steps"])
            if succeeded and isinstance(record.get(section), dict) and record[section]:
                return record
        return None

    # --- seed ----------------------------------------------------------------------------

    def _source_paths(self) -> dict[str, Path]:
        return {s.name: Path(self._local(s.url)) for s in self.project.sources}

    def _local(self, url: str) -> str:
        try:
            return local_path(url, str(self.layout.lake))
        except ValueError as error:
            raise RunFailed("seed", str(error)) from error

    def _seed(self) -> str:
        paths = self._source_paths()
        empty = [name for name, path in paths.items() if not _has_data(path)]
        if not empty:
            return f"{len(paths)} sources hold data"
        if self.project.seed is None:
            raise RunFailed(
                "seed",
                f"no data in source(s) {', '.join(empty)} ({', '.join(str(paths[n]) for n in empty)}); "
                "put data there, point --lake at an existing lake, or name a seed program in the spec "
                "(run: {seed: data/generate.py})",
            )
        if len(empty) < len(paths):
            full = sorted(set(paths) - set(empty))
            raise RunFailed(
                "seed",
                f"source(s) {', '.join(empty)} are empty but {', '.join(full)} hold data: the seed program "
                "fills all sources at once and would overwrite them; fill the empty ones yourself or "
                "empty the lake",
            )
        sources = {
            s.name: {"url": s.url, "path": str(paths[s.name]), "format": s.format}
            for s in self.project.sources
        }
        snapshot = FolderSnapshot(self.run_dir / ".snapshot-seed").take(list(paths.values()))
        log = self.run_dir / "seed.log"
        env = {
            **self.environ,
            "MLSPEC_SOURCES": json.dumps(sources),
            "MLSPEC_LAKE_ROOT": str(self.layout.lake),
        }
        command = [sys.executable, str(self.project.seed), "--lake", str(self.layout.lake)]
        seed_started = time.monotonic()
        with log.open("wb") as sink:
            done = subprocess.run(
                command,
                cwd=self.project.project_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                check=False,
            )
        self.engine_seconds["seed_program"] += time.monotonic() - seed_started
        if done.returncode != 0:
            snapshot.restore()
            raise RunFailed(
                "seed", f"the seed program {self.project.seed} failed (exit {done.returncode}):\n{_tail(log)}"
            )
        still_empty = [name for name, path in paths.items() if not _has_data(path)]
        if still_empty:
            snapshot.restore()  # all or nothing: a half-seeded lake would refuse the next seed
            raise RunFailed(
                "seed",
                f"the seed program {self.project.seed} left source(s) {', '.join(still_empty)} empty "
                "(what it wrote was removed); it must write every source of MLSPEC_SOURCES",
            )
        snapshot.discard()
        return f"seeded {len(paths)} sources with {self.project.seed.name}"

    # --- transforms ----------------------------------------------------------------------

    def _transforms(self, step: str = "transforms") -> str:
        from mlspec.runtime.spark import TransformFailed, run_transforms

        if not self.project.transforms:
            return "no transforms"
        outputs = [Path(self._local(t.url)) for t in self.project.transforms]
        snapshot = FolderSnapshot(self.run_dir / f".snapshot-{step}", link=True).take(outputs)
        results: dict[str, Any] = {}

        def done(result: Any) -> None:
            results[result.name] = {
                "rows": int(result.rows),
                "path": str(result.path),
                "url": result.url,
                "format": result.format,
                "seconds": round(float(result.seconds), 3),
            }
            self.progress.item(step, f"{result.name}: {result.rows:,} rows ({result.seconds:.1f} s)")

        spark_started = time.monotonic()
        try:
            run_transforms(
                self.project.build_dir,
                self.layout.lake,
                master=self.options.spark_master,
                on_start=lambda name: self.progress.item(step, f"{name} ..."),
                on_done=done,
            )
        except TransformFailed as error:
            snapshot.restore()
            raw = {source.name for source in self.project.sources}
            if error.empty and error.source in raw and self.project.seed is not None:
                # An empty raw source is the seed program's to fill: the rerun starts there.
                raise RunFailed("seed", f"{error}; the seed step fills empty sources") from error
            raise RunFailed(step, str(error)) from error
        except BaseException:
            snapshot.restore()
            raise
        finally:
            self.engine_seconds["spark"] += time.monotonic() - spark_started
        snapshot.discard()
        self.record["transforms"] = results
        self.record["sources_fingerprint"] = self._sources_fingerprint()
        rows = sum(r["rows"] for r in results.values())
        return f"{len(results)} transforms, {rows:,} rows written"

    def _sources_fingerprint(self) -> str:
        """Changes when any source file is added, removed or rewritten (retraining checks staleness)."""
        digest = hashlib.sha256()
        for name, folder in sorted(self._source_paths().items()):
            digest.update(name.encode())
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if path.is_file():
                    info = path.stat()
                    digest.update(f"{path.relative_to(folder)}:{info.st_size}:{info.st_mtime_ns}".encode())
        return digest.hexdigest()

    # --- train ---------------------------------------------------------------------------

    def _train(self, step: str = "train", work: str = "training") -> str:
        from mlspec.runtime.training import TrainingFailed, run_pipeline

        model = self.project.model
        if model is None:
            return "no model in the spec"
        location = self.project.table_location(model.training_data)
        if location is not None and not _has_data(Path(self._local(location[0]))):
            before = (
                "transforms"
                if any(t.name == model.training_data for t in self.project.transforms)
                else "seed"
            )
            raise RunFailed(
                before,
                f"the training data {model.training_data} has no data yet at {self._local(location[0])}: "
                f"run the {before} step first",
            )
        registry = FolderSnapshot(self.run_dir / f".snapshot-{step}").take([self.layout.mlruns / "models"])
        try:
            result = run_pipeline(
                self.project.build_dir,
                lake_root=self.layout.lake,
                work_dir=self.run_dir / work,
                tracking_uri=self.layout.tracking_uri,
                experiment=self.project.name,
                on_step=lambda name: self.progress.item(step, f"{name} ..."),
                environ=self.environ,
            )
        except TrainingFailed as error:
            registry.restore()
            raise RunFailed(step, str(error)) from error
        except BaseException:
            registry.restore()
            raise
        registry.discard()
        self.engine_seconds["training_processes"] += sum(s.seconds for s in result.steps)
        section = {
            "name": model.name,
            "version": result.version,
            "metrics": result.metrics,
            "gate": {
                "passed": result.gate_passed,
                "failures": result.gate_failures,
                "rules": result.gate_rules,
            },
            "model_dir": _text(result.output("model")),
            "train_data": _text(result.output("train")),
            "test_data": _text(result.output("test")),
            "evaluation_dir": _text(result.output("evaluation")),
            "run_dir": str(self.run_dir / work),
        }
        if step == "train":
            self.record["model"] = section
        if not result.gate_passed or result.version is None:
            failures = "; ".join(result.gate_failures) or "the model was not registered"
            if step == "train":
                raise RunFailed(
                    step, f"evaluation gate failed: {failures}; {model.name} is not registered and not served"
                )
            self.record["retrain"]["model"] = section
            return f"gate failed: {failures}"
        self.layout.promote(model.name, result.version, self.run_id)
        if step != "train":
            self.record["retrain"]["model"] = section
            self.record["model"] = section  # the model the endpoint now serves
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items())
        return f"{model.name} v{result.version} registered ({metrics})"

    # --- serve ---------------------------------------------------------------------------

    def _serve(self) -> str:
        from mlspec.runtime.serving.traffic import replay

        model, deployment = self.project.model, self.project.deployment
        if model is None or deployment is None:
            return "no deployment in the spec"
        frame = self._traffic_frame()  # checked before the server starts: a bad file fails at once
        # A failed or interrupted replay takes its predictions back out of the log: the monitor
        # must not judge traffic of a step that did not happen.
        logged = (
            AppendedFiles(Path(self._local(deployment.log_predictions_url)))
            if deployment.log_predictions_url
            else None
        )
        if logged is not None:
            logged.take()
        try:
            outcome = self._replay(frame, model, replay)
        except BaseException:
            self._stop_server()  # nothing may append while the log is put back
            if logged is not None:
                logged.restore()
            raise
        ground_truth = self.run_dir / "ground_truth.jsonl"
        records = getattr(outcome, "ground_truth", None) or []
        with ground_truth.open("w", encoding="utf-8") as handle:
            for item in records:
                handle.write(json.dumps(item, default=str) + "\n")
        latencies = sorted(getattr(outcome, "latencies_ms", None) or [])
        self.record["serving"] = {
            "url": self.server.url,
            "model": model.name,
            "version": self._served["version"],
            "requests": int(outcome.requests),
            "rows": len(frame),
            "status_counts": {str(k): int(v) for k, v in outcome.status_counts.items()},
            "latency_p95_ms": _percentile(latencies, 0.95),
            "log": str(self.server.log_path),
            "ground_truth": str(ground_truth) if records else None,
            "traffic": str(self.options.traffic) if self.options.traffic else "evaluation split",
            "first_error": outcome.first_error,
        }
        ok = sum(v for k, v in outcome.status_counts.items() if str(k) == "200")
        if ok == 0:
            if logged is not None:
                self._stop_server()
                logged.restore()
            raise RunFailed(
                "serve",
                f"no request of {self._traffic_name()} succeeded: status counts {dict(outcome.status_counts)}; "
                f"the first answer was {outcome.first_error}; the server's log is {self.server.log_path}",
            )
        return f"{outcome.requests} requests, {_counts(outcome.status_counts)}"

    def _replay(self, frame: Any, model: Any, replay: Callable[..., Any]) -> Any:
        self._start_server("serve")
        with self._watch("serve"):
            try:
                return replay(
                    self.server,
                    frame,
                    list(model.features),
                    model.target,
                    batch_size=TRAFFIC_BATCH_ROWS,
                    on_progress=lambda sent, total: self.progress.item(
                        "serve", f"replayed {sent:,} of {total:,} rows"
                    ),
                )
            except ValueError as error:  # the traffic lacks a feature column
                raise RunFailed("serve", f"cannot replay {self._traffic_name()}: {error}") from error

    def _traffic_name(self) -> str:
        return f"--traffic {self.options.traffic}" if self.options.traffic else "the evaluation split"

    def _start_server(self, step: str) -> None:
        from mlspec.runtime.endpoint import EndpointUnavailable, start_endpoint

        self._stop_server()
        started = time.monotonic()
        try:
            self.server, self._served = start_endpoint(
                self.project,
                self.layout,
                log_dir=self.run_dir,
                environ=self.environ,
                on_progress=lambda text: self.progress.item(step, text),
            )
        except EndpointUnavailable as error:
            raise RunFailed(error.step or step, str(error)) from error
        finally:
            self.engine_seconds["server_start"] += time.monotonic() - started
        self.progress.item(step, f"{self.server.url} is healthy")

    def _traffic_frame(self) -> Any:
        """The rows to replay, checked against what the model was trained on."""
        import pandas as pd

        from mlspec.runtime.serving.traffic import check_traffic, read_traffic

        model = self.project.model
        assert model is not None
        trained = self.record.get("model") or {}
        if not trained.get("train_data"):
            raise RunFailed("train", "no model has been trained yet: run the train step first")
        reference = pd.read_parquet(Path(trained["train_data"]) / "train.parquet")
        if self.options.traffic is not None:
            try:
                frame = read_traffic(self.options.traffic)
            except (OSError, ValueError) as error:
                raise RunFailed("serve", f"cannot read --traffic {self.options.traffic}: {error}") from error
        else:
            frame = pd.read_parquet(Path(trained["test_data"]) / "test.parquet").head(
                self.options.traffic_rows
            )
        classes = (
            sorted(reference[model.target].dropna().unique().tolist(), key=str)
            if model.task == "classification"
            else None
        )
        numeric = [
            f for f in model.features if f in reference and pd.api.types.is_numeric_dtype(reference[f])
        ]
        whole = [f for f in numeric if pd.api.types.is_integer_dtype(reference[f])]
        try:
            check_traffic(
                frame,
                list(model.features),
                model.target,
                classes=classes,
                numeric_features=numeric,
                whole_number_features=whole,
            )
        except ValueError as error:
            raise RunFailed("serve", f"{self._traffic_name()}: {error}") from error
        return frame

    @contextmanager
    def _watch(self, step: str) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            raise RunFailed(step, f"the scoring server stopped answering: {error}") from error

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    # --- monitor -------------------------------------------------------------------------

    def monitor_config(self) -> dict[str, Any]:
        model, deployment = self.project.model, self.project.deployment
        serving = self.record.get("serving") or {}
        trained = self.record.get("model") or {}
        predictions = None
        if deployment is not None and deployment.log_predictions_url:
            predictions = {"path": self._local(deployment.log_predictions_url)}
        train = trained.get("train_data")
        return {
            "project": self.project.name,
            "environment": self.project.environment,
            "model": model.name if model else "",
            "model_version": str(serving.get("version") or trained.get("version") or ""),
            "task": model.task if model else "classification",
            "target": model.target if model else "",
            "features": list(model.features) if model else [],
            "reference": {"path": str(Path(train) / "train.parquet"), "format": "parquet"} if train else None,
            "predictions": predictions,
            "ground_truth": {"path": serving["ground_truth"]} if serving.get("ground_truth") else None,
            "serving_log": serving.get("log"),
            "alerts": [alert.as_config() for alert in self.project.alerts],
            "now": None,
        }

    def _monitor(self) -> str:
        from mlspec.runtime import monitor_program

        if self.project.model is None:
            return "no model to monitor"
        if self.project.deployment is None:
            return "no deployment in the spec: nothing is served to monitor"
        if not self.record.get("serving"):
            raise RunFailed("serve", "nothing was served yet: run the serve step first")
        config = self.monitor_config()
        folder = self.run_dir / "monitoring"
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "monitor.json"
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
        table = self.layout.monitoring_dir(self.project.log_analytics)
        # The program Azure runs on a schedule (standalone: numpy, pandas, scipy, pyarrow), called
        # in this process; `python monitor_program.py --config monitor.json --output DIR` is the same.
        try:
            result = monitor_program.run_monitor(config, output=table)
        except (monitor_program.ConfigError, OSError) as error:
            raise RunFailed("monitor", f"the monitor program cannot run: {error}") from error
        shutil.copy2(table / monitor_program.RESULT_FILE, folder / monitor_program.RESULT_FILE)
        alerts = [
            {
                "name": a.get("name"),
                "signal": a.get("signal"),
                "value": a.get("value"),
                "threshold": a.get("threshold"),
                "operator": a.get("operator"),
                "fired": bool(a.get("fired")),
                "action": a.get("action"),
                **({"feature": a["feature"]} if a.get("feature") else {}),
                **({"rows": a["rows"]} if a.get("rows") is not None else {}),
                **({"reason": a["reason"]} if a.get("reason") else {}),
            }
            for a in result.get("alerts", [])
        ]
        self.record["monitoring"] = {
            "drift": result.get("drift", {}),
            "prediction_drift": result.get("prediction_drift"),
            "serving": result.get("serving", {}),
            "model_metrics": result.get("model_metrics", {}),
            "alerts": alerts,
            "table": str(table),
            "rows": result.get("rows"),
            "result": str(folder / monitor_program.RESULT_FILE),
        }
        fired = [a["name"] for a in alerts if a["fired"]]
        return f"{len(alerts)} alert rules, fired: {', '.join(fired) or 'none'}"

    # --- retrain -------------------------------------------------------------------------

    def _retrain(self) -> str:
        monitoring = self.record.get("monitoring") or {}
        fired = [a["name"] for a in monitoring.get("alerts", []) if a.get("fired")]
        triggers = [name for name in fired if name in self.project.retrain_on]
        self.record["retrain"] = {"triggered": bool(triggers), "alerts": triggers}
        if not triggers:
            return "no retraining alert fired"
        stale = self.record.get("sources_fingerprint") != self._sources_fingerprint()
        self.record["retrain"]["transforms_rerun"] = stale
        if stale:
            self._transforms(step="retrain")
        before = self.layout.served_version()
        detail = self._train(step="retrain", work="retraining")
        after = self.layout.served_version()
        promoted = after is not None and after != before
        self.record["retrain"].update(
            version=(after or {}).get("version") if promoted else None,
            gate_passed=promoted,
            promoted=promoted,
        )
        if promoted and self.server is not None:
            self._start_server("retrain")  # the endpoint moves to the new version
            self.record["serving"]["version"] = self._served["version"]
            self.record["serving"]["url"] = self.server.url
        return f"triggered by {', '.join(triggers)}: {detail}"

    # --- report --------------------------------------------------------------------------

    def _report(self) -> str:
        from mlspec.runtime.report import render_report

        target = self.run_dir / "report.html"
        render_report(self.report_inputs(), target)
        stable = self.layout.home / "report.html"
        shutil.copy2(target, stable)
        self.record["report"] = {"path": str(stable), "run_copy": str(target)}
        return str(stable)

    def report_inputs(self) -> Any:
        """What the report shows: the spec's pages over the lake tables, the model, the monitoring."""
        from mlspec.runtime.report import ReportInputs, ReportModel, ReportMonitoring

        tables: dict[str, tuple[Path | str, str]] = {}
        for report in self.project.reports:
            for name in report.get("tables", []):
                location = self.project.table_location(name)
                if location is not None:
                    tables[name] = (self._local(location[0]), location[1])
        deployment = self.project.deployment
        predictions = None
        if deployment is not None and deployment.log_predictions_url:
            predictions = Path(self._local(deployment.log_predictions_url))
            tables["predictions"] = (predictions, "predictions")
        trained, model = self.record.get("model") or {}, self.project.model
        report_model = evaluation = monitoring = None
        if model is not None and trained:
            gate = trained.get("gate") or {}
            report_model = ReportModel(
                name=model.name,
                version=str(
                    (self.record.get("serving") or {}).get("version") or trained.get("version") or ""
                ),
                task=model.task,
                metrics=trained.get("metrics") or {},
                gate={
                    "passed": gate.get("passed"),
                    "failures": gate.get("failures", []),
                    "gate": gate.get("rules", []),
                },
            )
            if trained.get("evaluation_dir"):
                evaluation = Path(trained["evaluation_dir"])
        # This run's monitoring, or (--only/--from after it) the last run's whose monitor step succeeded.
        result = (self.record.get("monitoring") or {}).get("result")
        result_file = Path(result) if result else None
        if result_file is not None and result_file.is_file():
            train = trained.get("train_data")
            monitoring = ReportMonitoring(
                result=json.loads(result_file.read_text(encoding="utf-8")),
                reference=(Path(train) / "train.parquet", "parquet") if train else None,
                predictions=predictions,
            )
        return ReportInputs(
            project=self.project.name,
            environment=self.project.environment,
            run_id=self.run_id,
            generated=now_iso(),
            reports=list(self.project.reports),
            tables=tables,
            model=report_model,
            evaluation=evaluation,
            monitoring=monitoring,
            alerts=[alert.as_config() for alert in self.project.alerts],
        )


def _short(message: str, lines: int = 12) -> str:
    """An engine's message without its stack frames (Java ``at ...`` lines, Python tracebacks)."""
    kept = [
        line
        for line in message.splitlines()
        if not line.lstrip().startswith(("at ", "... ")) and "more lines" not in line
    ]
    return "\n".join(kept[:lines])


def _counts(status_counts: Mapping[Any, int]) -> str:
    """``HTTP 200: 16, 400: 2`` (status: requests)."""
    return "HTTP " + ", ".join(
        f"{code}: {n}" for code, n in sorted(status_counts.items(), key=lambda i: str(i[0]))
    )


def _has_data(folder: Path) -> bool:
    if folder.is_file():
        return True
    if not folder.is_dir():
        return False
    return any(
        p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
        for p in folder.rglob("*")
    )


def _tail(log: Path, lines: int = 20) -> str:
    from mlspec.runtime.training import log_tail

    return log_tail(log, lines)


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(share * (len(values) - 1))))
    return round(float(values[index]), 3)
