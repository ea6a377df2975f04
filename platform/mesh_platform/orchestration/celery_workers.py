"""The Celery app the mesh's workers run, for `MESH_EXECUTOR=celery`:

    celery -A mesh_platform.orchestration.celery_workers worker -n worker1@%h --concurrency 2 --prefetch-multiplier 1

from the project root, with the settings of the code locations whose steps it takes (MESH_HOME or
the storage settings, DAGSTER_HOME, MESH_CELERY_BROKER). It is dagster-celery's own worker app
(`dagster_celery.app`, whose step task it registers), bound to the mesh's broker and result
backend read from the environment here, so that a broker URL holding a password is written
nowhere: `dagster-celery worker start -y` would write it into a module under the instance folder.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.settings import CELERY_BROKER_ENV, celery_backend, celery_broker


def worker_app():
    """dagster-celery's app with the mesh's broker; refused in one line without one (Celery
    would otherwise wait for a RabbitMQ on localhost)."""
    broker = celery_broker()
    if not broker:
        raise MeshError(f"a mesh Celery worker needs {CELERY_BROKER_ENV} (the broker's URL, e.g. redis://127.0.0.1:6379/0), the one the code locations send steps to")
    celery = make_app(CeleryExecutor.for_cli(broker=broker, backend=celery_backend()).app_args())
    create_task(celery)  # the task the executor sends each step as ("execute_plan")
    return celery


app = worker_app()  # `celery -A` imports this module and takes `app`
