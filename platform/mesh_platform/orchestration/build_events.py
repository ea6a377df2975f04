"""What `mesh build` reads back from a domain's run: its progress events, relayed as they land in
the instance, whoever executes the run (the build itself, or the daemon for a queued build)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

PROGRESS_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.RUN_FAILURE,  # the cause when no step failed (a Celery worker lost mid-step)
}


@dataclass
class DomainRun:
    """What one domain's run left in the instance: its id, whether it succeeded, and the
    progress events relayed while it ran (step failures and materializations among them).
    `error`: why a run failed that no step failure explains (canceled, failed to launch)."""

    run_id: str
    success: bool
    events: list[dg.DagsterEvent]
    error: str | None = None


def relay_new_events(
    instance: dg.DagsterInstance, run_id: str, cursor: str | None, events: list[dg.DagsterEvent],
    on_event: Callable[[dg.EventLogEntry], None],
) -> str | None:
    """Append the run's progress events stored since `cursor` to `events`, hand each to
    `on_event`, and return the cursor to read on from."""
    records = instance.get_records_for_run(run_id, cursor=cursor, of_type=PROGRESS_EVENTS)
    for record in records.records:
        events.append(record.event_log_entry.dagster_event)
        on_event(record.event_log_entry)
    return records.cursor
