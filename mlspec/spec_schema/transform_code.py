"""What a Python transform's code file must be: UTF-8 Python text defining a top-level ``transform()``.

The check stage (``mlspec validate``) and the Synapse renderer, which inlines the code into the
transform's notebook, both judge a file with these functions, so they cannot disagree. Codes:
MLS610 the file cannot be read, MLS611 it is not valid Python, MLS612 it defines no ``transform``.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

READ_HINT = "the path is relative to the folder of the spec file"
FUNCTION_HINT = "define def transform(spark, **inputs) returning a DataFrame; inputs are passed by name"


@dataclass(frozen=True)
class CodeProblem:
    """Why a transform's code cannot run: a code, the message, a hint, and a short reason for a notebook."""

    code: str
    message: str
    hint: str | None
    reason: str
    """What the notebook's stop cell says (``mlspec build error: <reason>``)."""


def unreadable_code(relative: str, error: OSError | UnicodeDecodeError) -> CodeProblem:
    """MLS610: the file named by ``transforms.<x>.python`` could not be read as UTF-8 text."""
    why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return CodeProblem(
        "MLS610", f"cannot read transform code {relative!r}: {why}", READ_HINT, f"cannot read {relative}"
    )


@functools.lru_cache(maxsize=64)
def transform_code_problem(relative: str, text: str) -> CodeProblem | None:
    """MLS611 or MLS612 for the text of ``relative``, or ``None`` when it is a usable transform.

    Memoised on the text: parsing is most of the cost, and validate judges the same file once per
    environment, build once more when it renders the notebook."""
    try:
        tree = ast.parse(text, filename=relative)
    except SyntaxError as exc:
        message = f"{relative!r} is not valid Python: line {exc.lineno}: {exc.msg}"
        return CodeProblem("MLS611", message, None, f"{relative} is not valid Python")
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "transform"]
    if not functions:
        message = f"{relative!r} defines no top-level function transform(spark, **inputs)"
        return CodeProblem("MLS612", message, FUNCTION_HINT, message)
    arguments = functions[-1].args  # the last definition is the one Python keeps
    if not (arguments.posonlyargs or arguments.args or arguments.vararg):
        message = (
            f"{relative!r}: transform() takes no positional parameter, but the notebook calls "
            "transform(spark, **inputs)"
        )
        return CodeProblem("MLS612", message, FUNCTION_HINT, message)
    return None
