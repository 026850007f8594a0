"""How a run shows what it is doing: a live display on a terminal, plain lines otherwise (stderr).

Steps report through one small interface, so the chain never knows which display is used and
``--json`` (stdout reserved for the document) still shows progress on stderr.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO


class RunProgress(Protocol):
    def step_started(self, step: str, detail: str = "") -> None: ...

    def item(self, step: str, text: str) -> None:
        """Something finished inside a step (a transform with its row count, a pipeline step)."""

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """One line per event, for logs and CI."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def _say(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def step_started(self, step: str, detail: str = "") -> None:
        self._say(f"==> {step}" + (f": {detail}" if detail else ""))

    def item(self, step: str, text: str) -> None:
        self._say(f"    {step}: {text}")

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        self._say(f"    {step} {status} in {seconds:.1f} s" + (f" ({detail})" if detail else ""))

    def close(self) -> None:
        return None


_STYLES = {"succeeded": "green", "failed": "bold red", "skipped": "dim", "blocked": "yellow"}
_MARKS = {"succeeded": "✔", "failed": "✘", "skipped": "-", "blocked": "■"}


class RichProgress:
    """A spinner on the running step; a line with its timing when each step ends."""

    def __init__(self, stream: TextIO | None = None, *, color: bool = True) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, no_color=not color, highlight=False)
        self._status: Any = None

    def step_started(self, step: str, detail: str = "") -> None:
        self._stop()
        text = f"[bold]{step}[/bold]" + (f" [dim]{_escape(detail)}[/dim]" if detail else "")
        self._status = self.console.status(text, spinner="dots")
        self._status.start()

    def item(self, step: str, text: str) -> None:
        self.console.print(f"  [dim]{_escape(step)}[/dim] {_escape(text)}")

    def step_finished(self, step: str, status: str, seconds: float, detail: str = "") -> None:
        self._stop()
        style = _STYLES.get(status, "")
        mark = _MARKS.get(status, "•")
        tail = f"  [dim]{_escape(detail)}[/dim]" if detail else ""
        self.console.print(f"[{style}]{mark} {_escape(step):<11}[/{style}] {seconds:6.1f} s{tail}")

    def close(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def make_progress(*, tty: bool, color: bool, quiet: bool = False) -> RunProgress:
    if tty and not quiet:
        return RichProgress(color=color)
    return PlainProgress(quiet=quiet)
