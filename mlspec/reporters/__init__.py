"""Reporters turn diagnostics into one output format each: text, json, github, sarif."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from mlspec.api import ValidationReport

Reporter = Callable[[ValidationReport, TextIO, bool], None]
FORMATS = ("text", "json", "github", "sarif")


def reporter_for(name: str) -> Reporter:
    if name == "json":
        from mlspec.reporters.json_report import write_json

        return write_json
    if name == "github":
        from mlspec.reporters.github import write_github

        return write_github
    if name == "sarif":
        from mlspec.reporters.sarif import write_sarif

        return write_sarif
    from mlspec.reporters.text import write_text

    return write_text
