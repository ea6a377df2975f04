"""The retention vacuum of one code location's ports, daily (runtime/retention.py does the work).

Each location carries `vacuum_<domain>` (a job of one op) and `vacuum_<domain>_daily` (its
schedule, running by default): every port of the domain's products keeps what its contract's
`retention` SLA promises and loses the files of older versions and of refused publishes. The
vacuum acts as the domain (on an object store, with its own keys: it deletes only under its own
folder). `mesh vacuum --domain X` runs the same by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

VACUUM_CRON = "30 3 * * *"  # daily, at night, UTC: after the nightly publishes, before the working day


def vacuum_job_name(domain: str) -> str:
    return f"vacuum_{domain}"


def vacuum_schedule_name(domain: str) -> str:
    return f"vacuum_{domain}_daily"


@dataclass(frozen=True)
class RetentionVacuum:
    job: dg.JobDefinition
    schedule: dg.ScheduleDefinition


def retention_vacuum(domain: str, root: Path) -> RetentionVacuum:
    """The daily vacuum of `domain`'s ports."""

    @dg.op(name=f"vacuum_{domain}_ports", description=f"Enforce the retention SLA of every port of domain {domain}.")
    def vacuum_ports(context) -> None:  # unannotated: Dagster reads annotations, which are strings here
        from mesh_platform.runtime.retention import vacuum_mesh  # reason: the port store loads when the vacuum runs, not at location load

        for port in vacuum_mesh(root, domain):
            context.log.info(f"{port.uri}: versions {port.oldest_kept}..{port.latest} kept; "
                             f"removed {len(port.files)} files and {len(port.log_entries)} log entries")

    @dg.job(name=vacuum_job_name(domain), description=f"The retention vacuum of domain {domain}'s ports.")
    def vacuum_job() -> None:
        vacuum_ports()

    schedule = dg.ScheduleDefinition(
        name=vacuum_schedule_name(domain), job=vacuum_job, cron_schedule=VACUUM_CRON, execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return RetentionVacuum(vacuum_job, schedule)
