"""The one way mlspec makes jinja2 environments for code templates (notebook cells, scripts, Dockerfiles).

Compiling templates costs tens of milliseconds per process, which every `build` and `plan`
would pay again; the compiled bytecode is cached per user (keyed by each template's source
checksum, so an edited template is recompiled). ``MLSPEC_CACHE_DIR`` moves the cache; an
unwritable cache is simply not used.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import jinja2


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """A cache that never fails a build: a read or write error just means no cache this time."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def cache_dir() -> Path:
    configured = os.environ.get("MLSPEC_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlspec"


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    folder = cache_dir() / f"jinja-py{sys.version_info[0]}{sys.version_info[1]}-{jinja2.__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return None
    return _QuietBytecodeCache(str(folder))


def code_environment(loader: jinja2.BaseLoader, **options: Any) -> jinja2.Environment:
    """A ``StrictUndefined`` environment for code (no HTML autoescape) with the shared bytecode cache.

    Templates are files of the installed package and do not change while mlspec runs, so a loaded
    template is not checked for changes (``auto_reload`` stats its file on every use: at a
    thousand notebooks of five cells each, that was a tenth of the build).
    """
    options.setdefault("undefined", jinja2.StrictUndefined)
    options.setdefault("autoescape", False)
    options.setdefault("auto_reload", False)
    return jinja2.Environment(loader=loader, bytecode_cache=_bytecode_cache(), **options)
