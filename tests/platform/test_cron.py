"""Schedules are checked without Dagster, and exactly as Dagster's ScheduleDefinition would."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dagster._utils.schedules import has_out_of_range_cron_interval, is_valid_cron_string

from mesh_platform.model.cron import cron_problem

EXPRESSIONS = [
    "@daily", "@hourly", "@monthly", "0 6 * * *", "0 6 * * 1-5", "*/15 * * * *", "0 0 1 jan *", "0 0 * * sun",
    "0 0 * * 7", "0 0 L * *", "0 0 * * 1#2", "0 0 ? * *", "1,2,3 * * * *", "5-1 * * * *", "0 0 1-31/2 * *",
    "0 0 * * mon-fri", "0 0 29 2 *", "0 0 */31 * *", "0 */24 * * *", "0 0 * */12 *", "0 0 * * */7",
    # not schedules
    "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "0 6 * * * *", "0 6 * *", "H * * * *", "*/0 * * * *",
    "0 0 30 2 *", "0 0 31 feb *", "", "every day",
    # valid cron, but a step wider than its field
    "*/90 * * * *", "0 */25 * * *", "0 0 */32 * *", "0 0 * */13 *", "0 0 * * */8", "1-59/61 * * * *",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_schedule_is_accepted_exactly_when_dagster_would_run_it_as_written(expression):
    dagster_runs_it = is_valid_cron_string(expression) and not has_out_of_range_cron_interval(expression)
    assert (cron_problem(expression) is None) == dagster_runs_it


def test_reading_descriptors_does_not_import_dagster():
    """dbt's port plugin reads every descriptor in each dbt process: Dagster would add seconds to each."""
    code = "import sys, mesh_platform.runtime.engines.duckdb_port_source, mesh_platform.model.mesh; print('dagster' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
