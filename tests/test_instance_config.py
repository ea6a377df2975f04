"""The Dagster instance's dagster.yaml is written from the mesh's settings: SQLite by default,
Postgres by setting (naming the variable, never the URL), always with a run queue and the pools
that keep one writer per domain warehouse; a config the user wrote stays theirs."""

from __future__ import annotations

import subprocess

import dagster as dg
import pytest
import yaml

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.settings import (
    EARLIER_INSTANCE_CONFIGS,
    INSTANCE_CONFIG_HEADER,
    instance_config,
    prepared_dagster_home,
)
from tests.conftest import BIN, ROOT, free_port, mesh_env

SECRET = "s3cret-Pa55"


def test_the_default_config_is_embedded_sqlite_with_a_run_queue_and_warehouse_pools(tmp_path):
    text = instance_config("sqlite")
    assert text.startswith(INSTANCE_CONFIG_HEADER)
    config = yaml.safe_load(text)
    assert "storage" not in config  # Dagster's own SQLite files under the instance folder
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"] == {"default_limit": 1}
    (tmp_path / "dagster.yaml").write_text(text)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:  # Dagster accepts it as written
        assert instance.global_op_concurrency_default_limit == 1
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.event_log_storage.supports_global_concurrency_limits


def test_the_postgres_config_names_the_variable_never_the_url():
    config = yaml.safe_load(instance_config("postgres"))
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "MESH_POSTGRES_URL"}}}  # runs, events and schedules
    assert {k: v for k, v in config.items() if k != "storage"} == yaml.safe_load(instance_config("sqlite"))
    with pytest.raises(MeshError, match="^MESH_INSTANCE_STORAGE must be one of sqlite, postgres, found 'mysql'$"):
        instance_config("mysql")


def test_the_file_follows_the_settings_and_a_users_own_config_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    config = prepared_dagster_home(ROOT) / "dagster.yaml"
    assert config.read_text() == instance_config("sqlite")
    monkeypatch.setenv("MESH_INSTANCE_STORAGE", "postgres")
    monkeypatch.setenv("MESH_POSTGRES_URL", f"postgresql://mesh:{SECRET}@127.0.0.1:5432/mesh")
    prepared_dagster_home(ROOT)
    assert config.read_text() == instance_config("postgres")  # rewritten when the settings change
    assert SECRET not in config.read_text()
    monkeypatch.delenv("MESH_INSTANCE_STORAGE")
    prepared_dagster_home(ROOT)
    assert config.read_text() == instance_config("sqlite")
    for earlier in EARLIER_INSTANCE_CONFIGS:  # what earlier versions wrote is upgraded in place
        config.write_text(earlier)
        prepared_dagster_home(ROOT)
        assert config.read_text() == instance_config("sqlite")
    own = "telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 2\n"
    config.write_text(own)
    prepared_dagster_home(ROOT)
    assert config.read_text() == own  # no header: the user's
    monkeypatch.setenv("MESH_INSTANCE_STORAGE", "postgres")
    with pytest.raises(MeshError, match="^MESH_INSTANCE_STORAGE=postgres, but .*dagster.yaml is a config of your own .* with no postgres storage"):
        prepared_dagster_home(ROOT)  # it would record the runs elsewhere than the setting says
    assert config.read_text() == own


@pytest.mark.parametrize("command", ["build", "dev"])
def test_an_unreachable_postgres_is_refused_in_one_line_without_the_password(tmp_path, command):
    port = free_port()  # nothing listens there
    home = tmp_path / "home"
    env = mesh_env(home, MESH_INSTANCE_STORAGE="postgres", MESH_POSTGRES_URL=f"postgresql://mesh:{SECRET}@127.0.0.1:{port}/mesh")
    args = ["build", "--domain", "shared"] if command == "build" else ["dev", "--port", str(free_port())]
    result = subprocess.run([str(BIN / "mesh"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"error: the instance's Postgres at 127.0.0.1:{port} (MESH_POSTGRES_URL) cannot be reached: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert SECRET not in result.stdout + result.stderr
    assert not (home / "storage").exists()  # no domain ran
    assert not any(SECRET in path.read_text(errors="replace") for path in home.rglob("*") if path.is_file())
