"""Cron expressions of product schedules, checked when a descriptor is read.

The same rules Dagster applies to a ScheduleDefinition (five fields, no seconds, no 30th or 31st
of February, no step wider than its field), without importing Dagster: descriptors are also read
inside every dbt process (the port plugin) and by quick `mesh` commands.
"""

from __future__ import annotations

from croniter import croniter

# Each field's highest value: a step beyond the top of its range (`*/90` minutes) fires once per
# range, not once per step.
_FIELD_TOPS = (("minute", 59), ("hour", 23), ("day of month", 31), ("month", 12), ("day of week", 7))


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a schedule Dagster would run as written, or None."""
    if not croniter.is_valid(expression):
        return "is not a valid cron expression"
    fields, *_ = croniter.expand(expression)
    if len(fields) != 5:
        return "has seconds or years; expected five fields"
    if fields[3] == [2] and len(fields[2]) == 1 and fields[2][0] in (30, 31):
        return "names a day February never has"
    for text, (name, top) in zip(expression.lower().split(), _FIELD_TOPS):
        for part in text.split(","):
            values, _, step = part.partition("/")
            # `a-b/s` steps within a..b; `*/s` and `a/s` up to the field's top.
            high = values.partition("-")[2] or str(top)
            high = "31" if name == "day of month" and high == "l" else high
            if step.isdigit() and high.isdigit() and int(step) > int(high):
                return f"has a step of {step} in its {name} field, beyond the top of its range ({high})"
    return None
