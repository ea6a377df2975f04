"""Runs a dead `mesh build` left behind, found and closed the next time the mesh starts.

`mesh build` runs each domain's run from its own process (the steps run there, or in processes it
starts, as MESH_EXECUTOR says), so a build killed mid-run leaves its run STARTED (or NOT_STARTED)
in the instance forever, and the UI shows it as running. Every run a build starts is tagged with
the process that runs it: its host, pid and the kernel's start time of that pid. A later
`mesh build` or `mesh dev` marks failed the runs whose process is gone. The start time makes a
recycled pid count as gone; a run of another host is never touched (its process cannot be checked
from here), nor one of a live build.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import dagster as dg

HOST_TAG = "mesh/build_host"
PID_TAG = "mesh/build_pid"
PROCESS_TAG = "mesh/build_process"  # the pid's start time: tells this process from a later one with its pid
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def process_start(pid: int) -> str | None:
    """When process `pid` started (boot id and clock ticks since boot), or None when there is no
    such process. Without /proc (not Linux), only whether the pid is alive: "alive"."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").is_file():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # The command name (field 2) may hold spaces and parentheses: count fields after its ')'.
        return f"{_boot_id()}:{text[text.rindex(')') + 2:].split()[19]}"  # field 22, starttime
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    return "alive"


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def build_tags() -> dict[str, str]:
    """The tags naming this process on every run it starts."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), PROCESS_TAG: process_start(os.getpid()) or ""}


def is_orphaned(tags: dict[str, str], host: str | None = None) -> bool:
    """True when the tags name a process of this host that no longer runs."""
    if tags.get(HOST_TAG) != (host or socket.gethostname()) or not tags.get(PID_TAG, "").isdigit():
        return False
    return process_start(int(tags[PID_TAG])) != tags.get(PROCESS_TAG)


@dataclass(frozen=True)
class ClosedRun:
    run_id: str
    job: str
    status: str
    pid: str

    def line(self) -> str:
        return f"run {self.run_id} ({self.job}) was {self.status} but its mesh build (pid {self.pid}) is gone: marked failed"


def fail_orphaned_runs(instance: dg.DagsterInstance, starter: str) -> list[ClosedRun]:
    """Mark failed every unfinished run of a `mesh build` of this host whose process is gone,
    with an engine event in the run's log saying so; `starter` names who noticed (for that log)."""
    host = socket.gethostname()
    closed = []
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host})):
        if not is_orphaned(run.tags, host):
            continue
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in UNFINISHED:
            continue  # another starter closed it meanwhile
        pid = run.tags[PID_TAG]
        message = (f"The mesh build process that ran this run (pid {pid} on {host}) is gone — killed or crashed — "
                   f"and left it {run.status.value}; {starter} marked it failed.")
        instance.report_engine_event(message, run)
        instance.report_run_failed(run, message)
        # Its warehouse pool slot (settings.warehouse_pool) would otherwise block the domain's next run.
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        closed.append(ClosedRun(run.run_id, run.job_name, run.status.value, pid))
    return closed
