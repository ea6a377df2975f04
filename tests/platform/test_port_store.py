"""The PortStore seam, through its interface only: what a backend must do for the mesh to trust it.

Each test runs the store the mesh configures (`port_store`, Delta on local disk in a tmp dir): a
publish becomes readable in full or not at all, a scan prunes to one partition, history and majors
come from the store, and the catalog's description of a port is the store's.
"""

from __future__ import annotations

import ast
import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.errors import MeshError, PublishError
from mesh_platform.runtime.ports.conform import PartitionSlice
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.publishing import commit, commit_metadata

PACKAGE = Path(__file__).resolve().parents[2] / "platform" / "mesh_platform"

CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:test:lab:readings
version: {version}
status: active
schema:
  - name: readings
    properties:
      - {{name: month, logicalType: date, physicalType: DATE, required: true}}
      - {{name: sensor, logicalType: string, physicalType: VARCHAR, required: true}}
      - {{name: value, logicalType: number, physicalType: DOUBLE}}
"""


def contract_file(tmp_path: Path, version: str = "1.0.0"):
    path = tmp_path / f"readings-{version}.odcs.yaml"
    path.write_text(CONTRACT.format(version=version))
    return parse_contract(path)


def rows(month: int, sensors: list[str | None]) -> pa.Table:
    n = len(sensors)
    return pa.table({
        "month": pa.array([dt.date(2024, month, 1)] * n), "sensor": pa.array(sensors, pa.string()),
        "value": pa.array([float(i) for i in range(n)]),
    })


@pytest.fixture
def store(tmp_path, mesh_home):
    return port_store(tmp_path / "project")


def test_the_store_lives_under_the_configured_root_and_publishes_one_version_per_publish(store, tmp_path, mesh_home):
    contract = contract_file(tmp_path)
    uri = store.uri("lab", "readings", contract.major)
    assert uri == f"{mesh_home.resolve()}/storage/lab/readings/v1"

    first = commit(store, "lab", "readings", contract, rows(1, ["a", "b"]), run_id="run-1")
    second = commit(store, "lab", "readings", contract, rows(2, ["c"]), run_id="run-2")
    assert (first.version, first.rows, second.version, second.rows) == (0, 2, 1, 1)
    assert store.scan(uri, "lab.readings").column("sensor").to_pylist() == ["c"]  # a full publish replaces

    history = store.history(uri)
    assert [c["version"] for c in history] == [1, 0]  # newest first
    assert history[0]["mesh.run_id"] == "run-2" and history[1]["mesh.run_id"] == "run-1"
    assert {k: history[0][k] for k in commit_metadata(contract, "lab.readings", "run-2")} == commit_metadata(contract, "lab.readings", "run-2")


def test_a_failed_publish_leaves_the_previous_version_readable(store, tmp_path):
    contract = contract_file(tmp_path)
    uri = store.uri("lab", "readings", 1)
    commit(store, "lab", "readings", contract, rows(1, ["a", "b"]), run_id="good")
    # The refused row is in the second batch: the first has already streamed into the writer.
    broken = pa.RecordBatchReader.from_batches(
        rows(1, ["c"]).schema, [*rows(1, ["c"]).to_batches(), *rows(1, [None]).to_batches()],
    )
    with pytest.raises(PublishError, match="column 'sensor' is required by the contract but 1 rows are null"):
        commit(store, "lab", "readings", contract, broken, run_id="bad")
    assert store.scan(uri, "lab.readings").column("sensor").to_pylist() == ["a", "b"]
    assert store.describe(uri).version == 0 and store.history(uri)[0]["mesh.run_id"] == "good"


def test_schema_drift_is_refused_when_staged_before_anything_is_written(store, tmp_path):
    contract = contract_file(tmp_path)
    uri = store.uri("lab", "readings", 1)
    drifted = rows(1, ["a"]).rename_columns(["month", "station", "value"])
    with pytest.raises(PublishError, match=r"schema drift(.|\n)*\+ station(.|\n)*- sensor"):
        store.stage(uri, drifted, contract.arrow_schema(), label="lab.readings")
    assert store.history(uri) == [] and not store.describe(uri).published


def test_a_partitioned_scan_returns_only_that_partition_and_the_asked_columns(store, tmp_path):
    contract = contract_file(tmp_path)
    uri = store.uri("lab", "readings", 1)
    for month, sensors in ((1, ["a", "b"]), (2, ["c"]), (3, ["d", "e", "f"])):
        piece = PartitionSlice("month", dt.date(2024, month, 1), dt.date(2024, month + 1, 1))
        commit(store, "lab", "readings", contract, rows(month, sensors), run_id=f"m{month}", partition_by="month", partition=piece)
    february = PartitionSlice("month", dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert store.scan(uri, "lab.readings", partition=february, columns=["sensor"]).to_pylist() == [{"sensor": "c"}]
    assert store.dataset(uri, "lab.readings").count_rows() == 6
    # A publish of one partition replaces that slice only, and refuses rows outside it.
    commit(store, "lab", "readings", contract, rows(2, ["x", "y"]), run_id="again", partition_by="month", partition=february)
    assert sorted(store.scan(uri, "lab.readings", columns=["sensor"]).column("sensor").to_pylist()) == ["a", "b", "d", "e", "f", "x", "y"]
    with pytest.raises(PublishError, match="rows fall outside the partition being published"):
        commit(store, "lab", "readings", contract, rows(3, ["z"]), run_id="stray", partition_by="month", partition=february)
    assert store.describe(uri).rows == 7


def test_majors_stored_contracts_and_what_consumers_see_now_come_from_the_store(store, tmp_path):
    assert store.published_majors("lab", "readings") == [] and store.latest_published("lab", "readings") is None
    one, two = contract_file(tmp_path, "1.4.0"), contract_file(tmp_path, "2.0.0")
    commit(store, "lab", "readings", one, rows(1, ["a"]), run_id="r1")
    commit(store, "lab", "readings", two, rows(1, ["b"]), run_id="r2")
    assert store.published_majors("lab", "readings") == [1, 2]
    assert store.stored_contract(store.uri("lab", "readings", 1)).version == "1.4.0"
    major, contract = store.latest_published("lab", "readings")
    assert (major, contract.version) == (2, "2.0.0")
    assert store.stored_contract(store.uri("lab", "readings", 3)) is None


def test_describe_is_what_the_catalog_shows(store, tmp_path):
    contract = contract_file(tmp_path)
    uri = store.uri("lab", "readings", 1)
    never = store.describe(uri)
    assert (never.published, never.rows, never.version, never.error) == (False, None, None, None)
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    commit(store, "lab", "readings", contract, rows(1, ["a", "b", "c"]), run_id="run-7")
    port = store.describe(uri)
    assert (port.published, port.rows, port.version, port.run_id, port.published_contract_version) == (True, 3, 0, "run-7", "1.0.0")
    assert before <= port.last_publish <= dt.datetime.now(dt.timezone.utc)


def test_the_server_entry_tells_consumers_where_and_how_to_read(store, tmp_path):
    uri = store.uri("lab", "readings", 1)
    assert store.server_entry(uri) == {"server": "mesh_port", "type": "local", "path": uri, "format": "delta"}
    assert store.server_entry("s3://lake/mesh/lab/readings/v1", "lab.readings")["location"] == "s3://lake/mesh/lab/readings/v1"


def test_storage_options_come_from_settings_and_stay_out_of_sight(tmp_path, mesh_home, monkeypatch):
    monkeypatch.setenv("MESH_STORAGE_ROOT", "s3://lake/mesh/")
    monkeypatch.setenv("MESH_STORAGE_OPTIONS", '{"AWS_SECRET_ACCESS_KEY": "hunter2", "AWS_REGION": "eu-west-1"}')
    store = port_store(tmp_path)
    assert store.root == "s3://lake/mesh" and store.uri("lab", "readings", 2) == "s3://lake/mesh/lab/readings/v2"
    assert dict(store.storage_options) == {"AWS_SECRET_ACCESS_KEY": "hunter2", "AWS_REGION": "eu-west-1"}
    assert "hunter2" not in repr(store) and "hunter2" not in str(store)


@pytest.mark.parametrize(("raw", "message"), [
    ('{"AWS_SECRET_ACCESS_KEY": "hunter2"', r"MESH_STORAGE_OPTIONS is not valid JSON \(.+ at character \d+\); expected an object"),
    ('["hunter2"]', "MESH_STORAGE_OPTIONS must be a JSON object of option names to strings, found a JSON list"),
    ('{"AWS_ALLOW_HTTP": true, "AWS_SECRET_ACCESS_KEY": "hunter2"}', "MESH_STORAGE_OPTIONS: option 'AWS_ALLOW_HTTP' must be a string, found a JSON bool"),
])
def test_bad_storage_options_are_refused_in_one_line_that_never_shows_a_value(tmp_path, mesh_home, monkeypatch, raw, message):
    monkeypatch.setenv("MESH_STORAGE_OPTIONS", raw)
    with pytest.raises(MeshError, match=message) as refused:
        port_store(tmp_path)
    assert "hunter2" not in str(refused.value) and "\n" not in str(refused.value)


def test_only_the_delta_store_imports_deltalake_or_pyarrow_fs():
    # import-linter sees pyarrow whole, so pyarrow.fs is checked here; deltalake is checked by both.
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):  # `from pyarrow import fs` too
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            if any(n == "deltalake" or n.startswith(("deltalake.", "pyarrow.fs")) for n in names):
                importers.add(path.relative_to(PACKAGE).as_posix())
    # delta_history.py: the Delta store's sibling for a port's past (its vacuum lists the table's files);
    # objects.py: the store's small plain objects (usage records), through delta.py's filesystem seam.
    assert importers == {"runtime/ports/delta.py", "runtime/ports/delta_history.py", "runtime/ports/objects.py"}


def test_each_domain_acts_on_remote_ports_with_its_own_identity_keys(tmp_path, mesh_home, monkeypatch):
    monkeypatch.setenv("MESH_STORAGE_ROOT", "s3://lake/mesh")
    monkeypatch.setenv("MESH_STORAGE_OPTIONS", '{"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "eu-west-1"}')
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    folder = mesh_home / "identities"
    folder.mkdir(parents=True)
    (folder / "domain-lab.json").write_text('{"access_key_id": "LABKEY", "secret_access_key": "lab-secret"}')
    store = port_store(tmp_path, acting="lab")
    assert store.identity == "domain-lab"
    assert store.storage_options["AWS_ACCESS_KEY_ID"] == "LABKEY" and store.storage_options["AWS_REGION"] == "eu-west-1"
    assert "lab-secret" not in repr(store)
    # Another domain with no keys of its own is refused in one line naming its identity and file.
    with pytest.raises(MeshError, match=r"no storage credentials for identity 'domain-ops': .*identities/domain-ops.json") as refused:
        port_store(tmp_path, acting="ops")
    assert "\n" not in str(refused.value) and "lab-secret" not in str(refused.value)
    (folder / "domain-ops.json").write_text('{"access_key_id": "OPSKEY"}')
    with pytest.raises(MeshError, match=r"storage identity 'domain-ops': .*domain-ops.json has no secret_access_key"):
        port_store(tmp_path, acting="ops")


def test_local_ports_need_no_identity_and_remote_ports_need_a_shared_masking_key(tmp_path, mesh_home, monkeypatch):
    from mesh_platform.runtime.settings import masking_key  # reason: only this test reads the key

    monkeypatch.delenv("MESH_MASKING_KEY", raising=False)
    assert port_store(tmp_path, acting="lab").storage_options == {}
    assert len(masking_key(tmp_path)) == 64  # created once under MESH_HOME on local storage
    monkeypatch.setenv("MESH_STORAGE_ROOT", "s3://lake/mesh")
    with pytest.raises(MeshError, match="MESH_MASKING_KEY is not set: with ports on an object store"):
        masking_key(tmp_path)
    monkeypatch.setenv("MESH_MASKING_KEY", "shared")
    assert masking_key(tmp_path) == b"shared"


def test_a_missing_identity_never_falls_back_to_other_keys_in_a_mesh_with_identities(tmp_path, mesh_home, monkeypatch):
    monkeypatch.setenv("MESH_STORAGE_ROOT", "s3://lake/mesh")
    # Keys any process of the machine holds: the platform's, say. A domain must never act with them.
    monkeypatch.setenv("MESH_STORAGE_OPTIONS", '{"AWS_ACCESS_KEY_ID": "PLATFORMKEY", "AWS_SECRET_ACCESS_KEY": "platform-secret"}')
    folder = mesh_home / "identities"
    folder.mkdir(parents=True)
    (folder / "domain-lab.json").write_text('{"access_key_id": "LABKEY", "secretKey": "x", "secret_access_key": "lab-secret"}')
    assert port_store(tmp_path, acting="lab").storage_options["AWS_ACCESS_KEY_ID"] == "LABKEY"
    with pytest.raises(MeshError, match=r"no storage credentials for identity 'domain-ops': .*domain-ops.json is missing beside the other identities"):
        port_store(tmp_path, acting="ops")
    # A setting that points nowhere is a mistake too, not a reason to use the options' keys.
    monkeypatch.setenv("MESH_STORAGE_IDENTITIES", str(tmp_path / "no-such-folder"))
    with pytest.raises(MeshError, match="MESH_STORAGE_IDENTITIES names .*no-such-folder, which is not a folder"):
        port_store(tmp_path, acting="lab")
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES")
    shutil.rmtree(folder)  # no identities at all: one identity for everything, the options' keys
    assert port_store(tmp_path, acting="ops").storage_options["AWS_ACCESS_KEY_ID"] == "PLATFORMKEY"
