"""How the mesh's runs execute: their executor and their instance, both taken from settings.

Every run — `mesh build`'s, and the ones schedules, automation and the UI launch — steps through
the executor `MESH_EXECUTOR` names and is recorded in the one instance (`DAGSTER_HOME`, else
`<MESH_HOME>/dagster`); runtime/settings.py decides both, this module only maps the decision
onto Dagster. A new executor (celery, k8s) is a setting value there and an entry here.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_celery import celery_executor
from dagster_k8s import k8s_job_executor

from mesh_platform.runtime.settings import RunSettings, prepared_dagster_home

EXECUTOR_DEFS: dict[str, dg.ExecutorDefinition] = {
    "in_process": dg.in_process_executor,
    "multiprocess": dg.multiprocess_executor,
    "celery": celery_executor,
    "k8s": k8s_job_executor,
}


def executor_for(settings: RunSettings) -> dg.ExecutorDefinition:
    """The Dagster executor of every job of a code location (its Definitions' default)."""
    return EXECUTOR_DEFS[settings.executor]


def instance_for(root: Path) -> dg.DagsterInstance:
    """The mesh's Dagster instance, its folder and config prepared on first use."""
    return dg.DagsterInstance.from_config(str(prepared_dagster_home(root)))
