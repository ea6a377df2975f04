"""How the mesh's runs execute: their executor and their instance, both taken from settings.

Every run — `mesh build`'s, and the ones schedules, automation and the UI launch — steps through
the executor `MESH_EXECUTOR` names and is recorded in the one instance (`DAGSTER_HOME`, else
`<MESH_HOME>/dagster`); runtime/settings.py decides both, this module only maps the decision
onto Dagster. A new executor (celery, k8s) is a setting value there and an entry here.

dagster-celery and dagster-k8s (with the Kubernetes client) are imported only by the executor
that needs them: every code location load would otherwise pay for them (dagster-k8s added 7.1 s
to a cold `import dagster`, dagster-celery 1.6 s, measured once on the loaded 2-core machine).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.settings import (
    CELERY_BACKEND_ENV,
    CELERY_BROKER_ENV,
    POSTGRES_URL_ENV,
    RunSettings,
    celery_backend_is_set,
    instance_storage,
    k8s_settings,
    postgres_url,
    prepared_dagster_home,
)

# Steps as Celery tasks: one at a time per worker process, and acknowledged once taken, as
# dagster-celery's own defaults; the URLs are named by their variables (below), never written out.
CELERY_QUEUE = "dagster"
BROKER_CHECK_SECONDS = 3.0


def celery_config() -> dict[str, Any]:
    """dagster-celery's executor config for the mesh: broker and result backend read from the
    environment when a run starts (`{"env": ...}`), so that a URL holding a password is never
    part of a definition, run config or log. Without MESH_CELERY_BACKEND, results go through the
    broker."""
    backend_env = CELERY_BACKEND_ENV if celery_backend_is_set() else CELERY_BROKER_ENV
    return {"broker": {"env": CELERY_BROKER_ENV}, "backend": {"env": backend_env}}


def k8s_config() -> dict[str, Any]:
    """dagster-k8s's `k8s_job_executor` config from the MESH_K8S_* settings (runtime/settings.py):
    each step a Kubernetes job in the domain's namespace, from its image, as its service account,
    with its secret's variables (storage identity, MESH_MASKING_KEY) and the set resources."""
    k8s = k8s_settings()
    config: dict[str, Any] = {"job_namespace": k8s.namespace}
    if k8s.image:
        config["job_image"] = k8s.image
    if k8s.service_account:
        config["service_account_name"] = k8s.service_account
    if k8s.secret:
        config["env_secrets"] = [k8s.secret]
    requests = {name: value for name, value in (("cpu", k8s.cpu), ("memory", k8s.memory)) if value}
    if requests:
        # Requests equal to limits: a step gets what it asked for and never more (Guaranteed QoS).
        config["resources"] = {"requests": requests, "limits": requests}
    return config


def _celery_executor() -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor  # reason: celery only where MESH_EXECUTOR=celery

    return celery_executor.configured(celery_config(), name="celery")


def _k8s_executor() -> dg.ExecutorDefinition:
    from dagster_k8s import k8s_job_executor  # reason: the Kubernetes client only where MESH_EXECUTOR=k8s

    return k8s_job_executor.configured(k8s_config(), name="k8s")


EXECUTOR_DEFS: dict[str, Callable[[], dg.ExecutorDefinition]] = {
    "in_process": lambda: dg.in_process_executor,
    "multiprocess": lambda: dg.multiprocess_executor,
    "celery": _celery_executor,
    "k8s": _k8s_executor,
}


def executor_for(settings: RunSettings) -> dg.ExecutorDefinition:
    """The Dagster executor of every job of a code location (its Definitions' default)."""
    return EXECUTOR_DEFS[settings.executor]()


# The default port of each broker scheme the up-front check knows; another scheme (sentinel,
# several hosts, SQS) is left to Celery itself.
BROKER_PORTS = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "pyamqp": 5672}


def broker_address(url: str) -> str | None:
    """`host:port` of a broker URL, never its user or password; None for a scheme or a URL the
    check cannot read (several hosts)."""
    parts = urlsplit(url)
    if parts.scheme not in BROKER_PORTS or ";" in url or "," in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{parts.hostname or 'localhost'}:{port or BROKER_PORTS[parts.scheme]}"


def check_executor(settings: RunSettings) -> None:
    """Refuse in one line, before any run starts, an executor that cannot take steps: a Celery
    broker that does not answer would otherwise leave the run retrying its first step's submission."""
    if settings.executor != "celery" or not settings.celery_broker:
        return
    address = broker_address(settings.celery_broker)
    if address is None:
        return
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=BROKER_CHECK_SECONDS).close()
    except OSError as exc:
        reason = (exc.strerror or "no answer in time").lower()
        raise MeshError(f"the Celery broker {CELERY_BROKER_ENV} names, {address}, does not answer ({reason}): start the broker, or unset MESH_EXECUTOR") from None


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
    import psycopg2  # reason: the Postgres driver only where MESH_INSTANCE_STORAGE=postgres

    url = postgres_url()
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as exc:
        raise MeshError(f"the instance's Postgres at {where} ({POSTGRES_URL_ENV}) cannot be reached: {_reason(exc, parts.password)}") from None


def _reason(exc: BaseException, password: str | None) -> str:
    """libpq's own cause ("Connection refused", "password authentication failed for user ..."),
    on one line, without the password should a message ever quote it."""
    text = " ".join(str(exc).split())
    text = text.split(" failed: ", 1)[-1].removeprefix("FATAL: ").strip()
    return text.replace(password, "***") if password else text
