"""Cron expressions of Azure ML schedules, which the SDK accepts unchecked ("every monday" loads fine).

Azure ML reads five fields, ``MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK``, each ``*`` or a comma list of
values and ranges, optionally stepped (``*/15``, ``1-5/2``); months and weekdays also by name.
"""

from __future__ import annotations

import re

_FIELDS = (
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("days", 1, 31, ()),
    ("months", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("days of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_ELEMENT = re.compile(r"^(?P<range>\*|(?P<start>\w+)(-(?P<end>\w+))?)(/(?P<step>[0-9]+))?$")


def cron_errors(expression: str) -> list[str]:
    """What is wrong with a five-field cron expression; empty when it is valid."""
    fields = expression.split()
    if len(fields) != len(_FIELDS):
        layout = "minutes hours days months weekdays"
        return [f"{expression!r} has {len(fields)} fields; a cron expression has 5 ({layout})"]
    errors: list[str] = []
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for element in text.split(","):
            problem = _element_error(element, low, high, names)
            if problem:
                errors.append(f"{name} field {text!r}: {problem}")
                break
    return errors


def _element_error(element: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    match = _ELEMENT.match(element)
    if match is None:
        return f"{element!r} is not *, a value, a range or a step"
    if match.group("step") is not None and int(match.group("step")) == 0:
        return "a step must be at least 1"
    bounds = [match.group("start"), match.group("end")]
    values = [_value(b, low, names) for b in bounds if b is not None]
    if any(v is None or not low <= v <= high for v in values):
        return f"{element!r} is outside {low}-{high}"
    if len(values) == 2 and values[0] > values[1]:  # type: ignore[operator]
        return f"{element!r} is an empty range"
    return None


def _value(text: str, low: int, names: tuple[str, ...]) -> int | None:
    """A field value given as a number or a name (names count from the field's lowest value)."""
    if text.isdigit():
        return int(text)
    upper = text.upper()
    return low + names.index(upper) if upper in names else None
