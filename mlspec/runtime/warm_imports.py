"""Import what later steps of a run need while earlier steps wait on their engines.

Most of a run is spent waiting: on the Spark JVM, on the training processes, on the scoring server
starting. Meanwhile this process is idle, yet the monitor and report steps begin by importing scipy,
pandas and matplotlib (one to three seconds on a small machine). A daemon thread imports them during
the wait, so those steps start at once. Nothing depends on it: a module that fails to import here
is imported again, with its real error, by the step that needs it.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterable

# Per step: the modules it imports first (the heavy part of its start).
STEP_MODULES: dict[str, tuple[str, ...]] = {
    "monitor": ("mlspec.runtime.monitor_program",),
    "report": ("mlspec.runtime.report", "mlspec.runtime.report.model_charts"),
}


def warm(steps: Iterable[str]) -> threading.Thread | None:
    """Start importing the modules of ``steps`` in a daemon thread; ``None`` when there is nothing to do."""
    modules = [module for step in steps for module in STEP_MODULES.get(step, ())]
    if not modules:
        return None
    thread = threading.Thread(target=_import_all, args=(modules,), name="mlspec-warm-imports", daemon=True)
    thread.start()
    return thread


def _import_all(modules: list[str]) -> None:
    for module in modules:
        with contextlib.suppress(Exception):  # the step's own import reports any error
            importlib.import_module(module)
