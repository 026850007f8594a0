"""Five-field cron (minute hour day-of-month month day-of-week), UTC — what Azure ML schedules take.

Azure ML's SDK accepts nonsense cron strings, so mlspec checks them itself.
"""

from __future__ import annotations

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i
            for i, m in enumerate(
                ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
            )
        },
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}),
)


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid five-field cron, or ``None``."""
    fields = expression.split()
    if len(fields) != 5:
        return f"has {len(fields)} fields, cron has 5"
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            problem = _part_problem(part, low, high, names)
            if problem:
                return f"{name} field {text!r}: {problem}"
    return _never_problem(fields)


_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""The most days each month has (February's 29th comes every four years, which is not never)."""


def _never_problem(fields: list[str]) -> str | None:
    """Why a valid expression never fires, or ``None``: days of the month that none of its months has
    (``0 3 31 2,4 *``, ``0 0 30 2 *``). With a day of the week as well cron fires on either, so it does;
    a day-of-week field starting with ``*`` (``*/1``) does not count as one, as in classic cron."""
    day_of_month, month, day_of_week = fields[2], fields[3], fields[4]
    if day_of_month == "*" or not day_of_week.startswith("*"):
        return None
    days = _values(day_of_month, *_FIELDS[2][1:])
    months = _values(month, *_FIELDS[3][1:])
    if any(day <= _LONGEST_MONTH[m - 1] for m in months for day in days):
        return None
    names = ", ".join(list(_FIELDS[3][3])[m - 1].title() for m in sorted(months))
    return f"never fires: no day {day_of_month} in {names}"


def _values(text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    """The values a valid field stands for."""
    found: set[int] = set()
    for part in text.split(","):
        body, slash, step = part.partition("/")
        if body == "*":
            first, last = low, high
        else:
            start, dash, end = body.partition("-")
            value = _value(start, names)
            first = low if value is None else value
            end_value = _value(end, names) if dash else None
            last = end_value if end_value is not None else (high if slash else first)
        found.update(range(first, last + 1, int(step) if slash else 1))
    return found


def _part_problem(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    if not part:
        return "empty list item"
    body, slash, step = part.partition("/")
    if slash:
        if not _is_number(step) or int(step) == 0:
            return f"step {step!r} must be a positive number"
        if int(step) > high:
            return f"step {step} is larger than {high}"
    if body == "*":
        return None
    start, dash, end = body.partition("-")
    first = _value(start, names)
    if first is None or not low <= first <= high:
        return f"{start!r} is not in {low}-{high}"
    if dash:
        last = _value(end, names)
        if last is None or not low <= last <= high:
            return f"{end!r} is not in {low}-{high}"
        if last < first:
            return f"range {body!r} runs backwards"
    return None


def _value(text: str, names: dict[str, int]) -> int | None:
    if _is_number(text):
        return int(text)
    return names.get(text.upper())


def _is_number(text: str) -> bool:
    # str.isdigit() is true for "²" and "٣" too, and int() refuses thousands of digits: both used to crash.
    return text.isascii() and text.isdigit() and len(text) <= 9
