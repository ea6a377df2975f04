"""Compute engines for dbt domains: the domain.yaml picks one (DuckDB by default), and the DuckDB
engine's profile, port sources, output reads and run lock are what a real dbt run needs."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import json

import duckdb
import pyarrow as pa
import pytest
import yaml

from mesh_platform.model.descriptor import load_domain
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.mesh import current_mesh
from mesh_platform.orchestration.dbt.project import dbt_executable, write_profile
from mesh_platform.runtime.engines import ENGINES, DuckDBEngine, engine_for
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.publishing import commit
from tests.conftest import copy_project, run_mesh
from tests.helpers.mini_mesh import OWNER, base_mesh, write_mesh

DOMAIN = {"name": "lab", "kind": "source-aligned", "description": "A laboratory domain for tests.", "owner": OWNER}


def lab_domain(tmp_path: Path, **fields):
    folder = tmp_path / "lab"
    folder.mkdir(parents=True)
    (folder / "domain.yaml").write_text(yaml.safe_dump({**DOMAIN, **fields}))
    return load_domain(folder)


# -- engine_for: the domain.yaml's `engine:` ----------------------------------------------------------

def test_a_dbt_domain_runs_on_duckdb_unless_its_domain_yaml_names_another_engine(tmp_path):
    assert isinstance(engine_for(lab_domain(tmp_path / "default", dbt_project="lab")), DuckDBEngine)
    assert isinstance(engine_for(lab_domain(tmp_path / "named", dbt_project="lab", engine="duckdb")), DuckDBEngine)


def test_an_unknown_engine_is_refused_naming_domain_yaml_the_field_and_the_engines_available(tmp_path):
    domain = lab_domain(tmp_path, dbt_project="lab", engine="trino")
    with pytest.raises(DescriptorError) as refused:
        engine_for(domain)
    assert (refused.value.path, refused.value.field) == (str(tmp_path / "lab" / "domain.yaml"), "engine")
    assert str(refused.value).endswith("domain.yaml: engine: unknown compute engine 'trino'; expected one of: duckdb, spark")
    assert sorted(ENGINES) == ["duckdb", "spark"]  # the message lists every installed engine


def test_mesh_validate_names_the_unknown_engine_of_a_domain_and_checks_the_others(tmp_path):
    project = copy_project(tmp_path / "project")
    descriptor = project / "domains" / "fleet" / "domain.yaml"
    descriptor.write_text(descriptor.read_text() + "engine: trino\n")
    validated = run_mesh(["validate", "--json"], tmp_path / "home", cwd=project)
    assert validated.returncode == 1, validated.stdout + validated.stderr
    reports = {r["domain"]: r for r in json.loads(validated.stdout)}
    assert reports["fleet"]["error"] == f"{descriptor}: engine: unknown compute engine 'trino'; expected one of: duckdb, spark"
    assert reports["weather"]["ok"] and reports["flight_operations"]["ok"]  # the other dbt and Python domains still load


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"dbt_project": "lab", "engine": "Spark SQL"}, "domain.yaml: engine: compute engine 'Spark SQL' is not a valid name"),
        # Python products are audited and published by the platform: an engine would change nothing.
        ({"engine": "duckdb"}, "domain.yaml: engine 'duckdb' is the compute engine of the domain's dbt project, "
                               "and this domain declares no dbt_project; add dbt_project or remove engine"),
    ],
)
def test_an_engine_field_that_cannot_mean_anything_is_refused_when_the_domain_is_read(tmp_path, fields, expected):
    with pytest.raises(DescriptorError) as refused:
        lab_domain(tmp_path, **fields)
    assert str(refused.value).startswith(str(tmp_path / "lab" / expected))


# -- the DuckDB engine, under a real dbt run ------------------------------------------------------------

AIRPORTS = pa.table({"faa": ["JFK", "LGA", "EWR"], "name": ["John F Kennedy Intl", "La Guardia", "Newark Liberty Intl"]})


@pytest.fixture(scope="module")
def dbt_domain_built(tmp_path_factory):
    """A mini mesh whose `lab` domain is a dbt project reading the published `shared.airports`
    port, built once by a real `dbt build` with the profile and source binding the engine gives."""
    tmp_path = tmp_path_factory.mktemp("engine")
    mesh_home = tmp_path / "mesh_home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MESH_HOME", str(mesh_home))
        yield _built(tmp_path, mesh_home)


def _built(tmp_path: Path, mesh_home: Path) -> tuple[Path, DuckDBEngine, Path]:
    files = base_mesh()
    files["domains/lab"]["domain.yaml"]["dbt_project"] = "lab"
    root = write_mesh(tmp_path / "mesh", files)
    engine = engine_for(current_mesh(root).domains["lab"])
    airports = current_mesh(root).domains["shared"].products["airports"]
    commit(port_store(root), "shared", "airports", airports.contract, AIRPORTS, run_id="test")

    project = root / "dbt_projects" / "lab"
    (project / "models").mkdir(parents=True)
    # Product models are tables, as in every domain: their ports are published after dbt exits.
    (project / "dbt_project.yml").write_text("name: lab\nprofile: mesh\nversion: '1.0'\nmodels: {lab: {+materialized: table}}\n")
    sources = {"version": 2, "sources": [{"name": "shared", "config": engine.source_binding(), "tables": [{"name": "airports"}]}]}
    (project / "models" / "sources.yml").write_text(yaml.safe_dump(sources))
    (project / "models" / "readings.sql").write_text(
        "select faa as station, length(name)::double as reading_value from {{ source('shared', 'airports') }}")
    profiles = write_profile(tmp_path / "profile", engine, project_root=root, domain="lab")
    built = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(project), "--profiles-dir", str(profiles), "--target-path", str(tmp_path / "target")],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MESH_HOME": str(mesh_home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return root, engine, mesh_home


def test_the_duckdb_profile_and_source_binding_let_dbt_build_on_another_domains_port(dbt_domain_built):
    root, engine, mesh_home = dbt_domain_built
    target = engine.profile_target(root, "lab")
    # Built in the domain's own file, under the mesh home; the port plugin reads as the domain.
    assert target["path"] == str(mesh_home.resolve() / "warehouse" / "lab.duckdb")
    assert Path(target["path"]).is_file()
    assert target["plugins"][0]["config"] == {"project_root": str(root), "domain": "lab"}
    assert engine.binds_port({"config": engine.source_binding()})
    assert not engine.binds_port({"meta": {}, "config": {"meta": {}}})  # the domain's own raw data


def test_read_output_streams_the_models_rows_as_arrow_and_closing_the_outputs_releases_the_file(dbt_domain_built):
    root, engine, _ = dbt_domain_built
    with engine.open_outputs(root, "lab") as session:
        relation = engine.relation("main", "readings")
        assert engine.output_schema(session, relation).names == ["station", "reading_value"]
        reader = engine.read_output(session, relation, batch_rows=2)
        assert isinstance(reader, pa.RecordBatchReader)
        batches = list(reader)
    assert max(b.num_rows for b in batches) <= 2
    rows = pa.Table.from_batches(batches).sort_by("station").to_pylist()
    assert rows == [{"station": "EWR", "reading_value": 19.0}, {"station": "JFK", "reading_value": 19.0},
                    {"station": "LGA", "reading_value": 10.0}]
    # Closed: the next dbt run of the domain opens its file for writing (DuckDB refuses a second
    # connection with another configuration while a read-only one is open in this process).
    duckdb.connect(str(engine.profile_target(root, "lab")["path"])).close()


def test_the_outputs_session_is_sealed_for_the_rules_it_audits(dbt_domain_built):
    root, engine, _ = dbt_domain_built
    with engine.open_outputs(root, "lab") as session:
        with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
            session.sql(f"select * from read_text('{root / 'workspace.yaml'}')").fetchall()


def test_runs_of_one_domain_take_turns_on_the_engines_lock(tmp_path, mesh_home):
    engine, said = DuckDBEngine(), []
    log = type("Log", (), {"info": staticmethod(said.append)})()
    holding, release, order = threading.Event(), threading.Event(), []

    def first():
        with engine.one_run_at_a_time(tmp_path, "lab", log):
            holding.set()
            release.wait(10)
            order.append("first done")

    def second():
        with engine.one_run_at_a_time(tmp_path, "lab", log):
            order.append("second ran")

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(10)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    time.sleep(0.5)
    assert order == []  # the second run waits while the first holds the lock
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first done", "second ran"]
    assert said == ["another run of domain 'lab' holds its duckdb lock (lab.lock); waiting for it to finish"]
    assert engine.lock_path(tmp_path, "lab") == mesh_home.resolve() / "warehouse" / "lab.lock"
