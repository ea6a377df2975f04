"""How a recorded run's steps executed, read from its event log (never from our own code)."""

from __future__ import annotations

import dagster as dg


def steps_executed(instance: dg.DagsterInstance, run_id: str) -> str:
    """`in_process` when every step started in the run's own process, `multiprocess` when each
    step started in a process of its own; anything else says what was seen."""
    run_pid, step_pids = None, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.RUN_START:
            run_pid = event.pid
        elif event.event_type == dg.DagsterEventType.STEP_START:
            step_pids[event.step_key] = event.pid
    assert run_pid is not None and step_pids, f"run {run_id} never started a step"
    if set(step_pids.values()) == {run_pid}:
        return "in_process"
    if run_pid not in step_pids.values() and len(set(step_pids.values())) == len(step_pids):
        return "multiprocess"
    return f"mixed: run pid {run_pid}, step pids {step_pids}"
