"""Durations as people say them (`1 day`, `2 days`, `36 hours`, `90 minutes`): one formatter for
every place an SLA window is shown (the catalog's table, JSON and pages, Dagster's `mesh/sla/*`
metadata), so one SLA never reads `1 d` in one place and `1 day, 0:00:00` in another."""

from __future__ import annotations

import datetime as dt

# Largest unit first: a window is said in the largest unit that divides it exactly.
_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def format_duration(window: dt.timedelta) -> str:
    """`1 day`, `2 days`, `36 hours` (not `1.5 days`), `90 minutes`, `1.5 seconds`."""
    seconds = window.total_seconds()
    if seconds <= 0:
        return "0 seconds"
    for unit, size in _UNITS:
        count = seconds / size
        if count == int(count):
            return _plural(int(count), unit)
    return _plural(round(seconds, 3), "second")  # below a second: weeks and days never get here


def _plural(count: float, unit: str) -> str:
    number = str(count) if isinstance(count, int) else f"{count:g}"
    return f"{number} {unit}" + ("" if count == 1 else "s")


def format_elapsed(delta: dt.timedelta | None, parts: int = 2) -> str:
    """A measured time (an age, a delay) in its `parts` largest units, in the same words as an SLA:
    `2 days 12 hours`, `1 minute 30 seconds`, `45 seconds` (`unknown` for None)."""
    if delta is None:
        return "unknown"
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    said = []
    for unit, size in _UNITS:
        if seconds >= size and len(said) < parts:
            said.append(_plural(seconds // size, unit))
            seconds %= size
        elif said:
            break  # `1 day 5 seconds` is never said: units stay next to each other
    return sign + (" ".join(said) or "0 seconds")
