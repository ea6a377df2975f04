"""How the mesh's runs execute: their executor and their instance, both taken from settings.

Every run — `mesh build`'s, and the ones schedules, automation and the UI launch — steps through
the executor `MESH_EXECUTOR` names and is recorded in the one instance (`DAGSTER_HOME`, else
`<MESH_HOME>/dagster`); runtime/settings.py decides both, this module only maps the decision
onto Dagster. A new executor (celery, k8s) is a setting value there and an entry here.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
from dagster_celery import celery_executor
from dagster_k8s import k8s_job_executor

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.settings import POSTGRES_URL_ENV, RunSettings, instance_storage, postgres_url, prepared_dagster_home

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
    """The mesh's Dagster instance, its folder and config prepared from settings; with Postgres
    storage, refused in one line when the server does not answer."""
    check_instance_storage()
    return dg.DagsterInstance.from_config(str(prepared_dagster_home(root)))


def check_instance_storage() -> None:
    """Refuse an instance whose Postgres cannot be reached, before anything runs: one line naming
    the variable and the server, never the URL (it holds a password). Nothing to check for SQLite."""
    if instance_storage() != "postgres":
        return
    url = postgres_url()
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as exc:
        raise MeshError(f"the instance's Postgres at {where} ({POSTGRES_URL_ENV}) cannot be reached: {_reason(exc, parts.password)}") from None


def _reason(exc: Exception, password: str | None) -> str:
    """libpq's own cause ("Connection refused", "password authentication failed for user ..."),
    on one line, without the password should a message ever quote it."""
    text = " ".join(str(exc).split())
    text = text.split(" failed: ", 1)[-1].removeprefix("FATAL: ").strip()
    return text.replace(password, "***") if password else text
