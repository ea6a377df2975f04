"""The executor every job of a code location gets from settings, configured from them: Celery's
broker and backend by the variables' names (a URL holding a password is never part of a
definition), Kubernetes jobs from the MESH_K8S_* settings. Kubernetes is not run here (no
cluster): what is checked is the config dagster-k8s's executor receives, through the real
Definitions of a domain's code location."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import dagster as dg
import pytest
from dagster._config import process_config

from mesh_platform.model.errors import MeshError
from mesh_platform.orchestration.runs import broker_address, executor_for
from mesh_platform.runtime.settings import k8s_settings, run_settings
from tests.conftest import BIN, ROOT, mesh_env

K8S_SETTINGS = {
    "MESH_K8S_NAMESPACE": "mesh-fleet",
    "MESH_K8S_IMAGE": "registry.example/mesh-fleet:2026.12.1",
    "MESH_K8S_SERVICE_ACCOUNT": "domain-fleet",
    "MESH_K8S_SECRET": "mesh-fleet-storage",
    "MESH_K8S_CPU": "500m",
    "MESH_K8S_MEMORY": "2Gi",
}

LOAD_LOCATION = """
import json, sys
from pathlib import Path
from mesh_platform.orchestration.build import load_location
defs = load_location(Path.cwd(), "domains.fleet.definitions")
configs = {}
for job in defs.resolve_all_job_defs():
    configured = job.executor_def.config_schema
    resolved = configured.resolve_config({}).value["config"] if hasattr(configured, "resolve_config") else None  # unconfigured: in_process
    configs[job.name] = [job.executor_def.name, resolved]
print(json.dumps({"jobs": configs, "imported": sorted(m for m in ("dagster_celery", "dagster_k8s", "kubernetes") if m in sys.modules)}))
"""


def fleet_location(tmp_path, **settings: str) -> dict[str, Any]:
    """The fleet domain's code location loaded in a fresh process with `settings`: each job's
    executor and its resolved config, and which executor packages the load imported."""
    result = subprocess.run([str(BIN / "python"), "-c", LOAD_LOCATION], cwd=ROOT, env=mesh_env(tmp_path / "home", **settings),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def given(executor_def: dg.ExecutorDefinition, resolved: dict[str, Any]) -> dict[str, Any]:
    """What the mesh set in an executor's config: the resolved config minus the executor's own defaults."""
    defaults = process_config(executor_def.config_schema.as_field().config_type, {}).value or {}
    return {name: value for name, value in resolved.items() if defaults.get(name, object()) != value}


def test_with_kubernetes_settings_every_job_of_a_location_runs_its_steps_as_kubernetes_jobs_with_them(tmp_path):
    from dagster_k8s import k8s_job_executor  # reason: imported only where the test needs it, as the platform does

    location = fleet_location(tmp_path, MESH_EXECUTOR="k8s", **K8S_SETTINGS)
    assert location["jobs"], "the location has no job"
    for job, (name, resolved) in location["jobs"].items():
        assert name == "k8s", job
        assert given(k8s_job_executor, resolved) == {
            "job_namespace": "mesh-fleet",
            "job_image": "registry.example/mesh-fleet:2026.12.1",
            "service_account_name": "domain-fleet",
            "env_secrets": ["mesh-fleet-storage"],
            "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": "500m", "memory": "2Gi"}},
        }, job


def test_unset_kubernetes_settings_leave_dagster_k8s_its_own_defaults(tmp_path):
    from dagster_k8s import k8s_job_executor  # reason: imported only where the test needs it, as the platform does

    location = fleet_location(tmp_path, MESH_EXECUTOR="k8s")
    for job, (name, resolved) in location["jobs"].items():
        assert (name, given(k8s_job_executor, resolved)) == ("k8s", {"job_namespace": "default"}), job


def test_celery_jobs_name_the_broker_variables_never_their_urls(tmp_path):
    """The resolved config carries the URL (read from the environment when a run starts); the
    definition the location holds names the variables only."""
    broker, backend = "redis://mesh:s3cret@10.0.0.5:6379/0", "redis://mesh:s3cret@10.0.0.6:6379/1"
    location = fleet_location(tmp_path, MESH_EXECUTOR="celery", MESH_CELERY_BROKER=broker)
    for job, (name, resolved) in location["jobs"].items():
        assert (name, resolved["broker"], resolved["backend"]) == ("celery", broker, broker), job  # results through the broker
    location = fleet_location(tmp_path, MESH_EXECUTOR="celery", MESH_CELERY_BROKER=broker, MESH_CELERY_BACKEND=backend)
    for job, (name, resolved) in location["jobs"].items():
        assert (name, resolved["broker"], resolved["backend"]) == ("celery", broker, backend), job


def test_the_celery_definition_holds_variable_names_only(monkeypatch):
    monkeypatch.setenv("MESH_EXECUTOR", "celery")
    monkeypatch.setenv("MESH_CELERY_BROKER", "redis://mesh:s3cret@10.0.0.5:6379/0")
    executor = executor_for(run_settings(ROOT))
    held = executor.config_schema._config_fn({})  # the configured value, before the environment is read
    assert held == {"broker": {"env": "MESH_CELERY_BROKER"}, "backend": {"env": "MESH_CELERY_BROKER"}}
    assert "s3cret" not in repr(vars(executor))


def test_a_location_imports_dagster_celery_and_dagster_k8s_only_for_their_executor(tmp_path):
    assert fleet_location(tmp_path)["imported"] == []
    assert fleet_location(tmp_path, MESH_EXECUTOR="celery", MESH_CELERY_BROKER="redis://127.0.0.1:6379/0")["imported"] == ["dagster_celery"]


@pytest.mark.parametrize("setting, value", [("MESH_K8S_CPU", "1 core"), ("MESH_K8S_IMAGE", "mesh fleet")])
def test_a_kubernetes_setting_with_spaces_is_refused_in_one_line(monkeypatch, setting, value):
    monkeypatch.setenv(setting, value)
    with pytest.raises(MeshError, match=f"^{setting} must be one Kubernetes name or quantity without spaces, found '{value}'$"):
        k8s_settings()


def test_a_broker_is_shown_by_host_and_port_never_its_password():
    assert broker_address("redis://mesh:s3cret@10.0.0.5:6380/0") == "10.0.0.5:6380"
    assert broker_address("redis://10.0.0.5/0") == "10.0.0.5:6379"

    assert broker_address("amqp://mesh:s3cret@rabbit//") == "rabbit:5672"  # RabbitMQ's own port, not Redis'
    assert broker_address("sentinel://a:26379;sentinel://b:26379") is None  # left to Celery: not probed as one host
