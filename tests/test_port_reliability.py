"""A port is always readable and whole: after random batches, a killed publisher, or two
publishers racing, readers see one complete, valid version."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pandera.errors
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mesh_platform.model.contracts import parse_contract
from mesh_platform.model.descriptor import load_domain
from mesh_platform.model.product import PythonProduct
from mesh_platform.orchestration.io_manager import PortIOManager
from mesh_platform.orchestration.products.assets import python_product_asset
from mesh_platform.runtime.ports.delta import remove_orphans
from mesh_platform.runtime.quality import audit, rules_for
from mesh_platform.runtime.quality.pandera_schema import pandera_schema
from tests.conftest import ROOT, mesh_env
from tests.helpers.publisher import ROWS

SCORES_CONTRACT = """\
apiVersion: v3.2.0
kind: DataContract
id: urn:test:lab:scores
version: 1.0.0
status: active
schema:
  - name: scores
    properties:
      - {name: id, logicalType: integer, physicalType: BIGINT, primaryKey: true}
      - {name: score, logicalType: number, physicalType: DOUBLE, logicalTypeOptions: {minimum: 0, maximum: 100}}
      - {name: label, logicalType: string, physicalType: VARCHAR, required: true, enum: [{value: a}, {value: b}, {value: c}]}
      - {name: note, logicalType: string, physicalType: VARCHAR}
"""
COUNTER_CONTRACT = """\
apiVersion: v3.2.0
kind: DataContract
id: urn:test:lab:counter
version: 1.0.0
status: active
schema:
  - name: counter
    properties:
      - {name: id, logicalType: integer, physicalType: BIGINT, primaryKey: true}
      - {name: batch, logicalType: integer, physicalType: BIGINT, required: true}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A one-product domain in a scratch project, built by the real platform code."""
    root = tmp_path_factory.mktemp("lab")
    (root / "workspace.yaml").write_text("load_from: []\n")
    folder = root / "domains" / "lab"
    (folder / "products").mkdir(parents=True)
    (folder / "contracts").mkdir()
    (folder / "domain.yaml").write_text("name: lab\nkind: source-aligned\ndescription: Tests.\nowner: {team: lab, contact: lab@mesh.example}\n")
    (folder / "products" / "scores.yaml").write_text("name: scores\ndescription: Scores.\n")
    (folder / "contracts" / "scores.odcs.yaml").write_text(SCORES_CONTRACT)
    return root, load_domain(folder).product("scores")


def violated(frame: pd.DataFrame) -> set[str]:
    """The rules a frame breaks, computed without the platform."""
    broken = set()
    if frame["id"].isna().any():
        broken.add("id_not_null")
    if frame["id"].dropna().duplicated().any():
        broken.add("id_unique")
    scores = frame["score"].dropna()
    if ((scores < 0) | (scores > 100)).any():
        broken.add("score_in_range")
    if frame["label"].isna().any():
        broken.add("label_not_null")
    if (~frame["label"].dropna().isin(["a", "b", "c"])).any():
        broken.add("label_accepted_values")
    return broken


rows = st.lists(
    st.fixed_dictionaries({
        "id": st.one_of(st.none(), st.integers(0, 30)),
        "score": st.one_of(st.none(), st.floats(-10, 110, allow_nan=False)),
        "label": st.sampled_from(["a", "b", "c", "d", None]),
        "note": st.one_of(st.none(), st.text(max_size=5)),
    }),
    min_size=1, max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows)
@example(rows=[{"id": 0, "score": None, "label": "a", "note": None}])  # a rule's predicate NULL on every row
def test_random_batches_publish_and_read_back_equal_or_fail_naming_a_rule(lab, rows, tmp_path_factory, monkeypatch):
    root, product = lab
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MESH_HOME", str(home))
    frame = pd.DataFrame(rows, columns=["id", "score", "label", "note"]).astype({"id": "Int64", "score": "Float64"})
    asset = python_product_asset(product, PythonProduct("scores", lambda: frame), root)
    port = home / "storage" / "lab" / "scores" / "v1"
    good = pd.DataFrame({"id": [1], "score": [5.0], "label": ["a"], "note": [None]})
    first = python_product_asset(product, PythonProduct("scores", lambda: good), root)
    manager = PortIOManager(project_root=str(root), domain="lab")
    assert dg.materialize([first], resources={"mesh_port": manager}).success

    result = dg.materialize([asset], resources={"mesh_port": manager}, raise_on_error=False)
    expected = violated(frame)
    try:  # the pandera schema derived from the same contract agrees
        pandera_schema(product.contract).validate(frame, lazy=True)
        pandera_ok = True
    except pandera.errors.SchemaErrors:
        pandera_ok = False
    assert pandera_ok == (not expected)
    if not expected:
        assert result.success
        back = DeltaTable(str(port)).to_pyarrow_table()
        sent = pa.Table.from_pandas(frame, preserve_index=False).cast(back.schema)
        assert back.equals(sent)
        assert DeltaTable(str(port)).version() == 1
    else:
        assert not result.success
        message = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE).step_failure_data.error.cause.message
        assert any(rule in message for rule in expected), (expected, message)
        assert DeltaTable(str(port)).version() == 0
        assert DeltaTable(str(port)).to_pandas()["id"].tolist() == [1]


def publisher(uri: str, contract: Path, writer: int, rounds: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.publisher", uri, str(contract), str(writer), str(rounds)],
        cwd=ROOT, env=mesh_env(Path(uri).parent), stdout=subprocess.PIPE, text=True,
    )


def assert_whole_and_valid(uri: str, contract: Path) -> pa.Table:
    table = DeltaTable(uri).to_pyarrow_table()
    assert table.num_rows == ROWS
    assert len(set(table.column("batch").to_pylist())) == 1  # one batch, never a mix
    with duckdb.connect() as con:
        con.register("port", table)
        results = audit(con, "port", rules_for(parse_contract(contract)))
    assert all(r.passed for r in results), [r.summary() for r in results if not r.passed]
    return table


def test_a_publisher_killed_at_random_moments_leaves_the_last_good_version(tmp_path):
    contract = tmp_path / "counter.odcs.yaml"
    contract.write_text(COUNTER_CONTRACT)
    uri = str(tmp_path / "counter")
    seed = subprocess.run([sys.executable, "-m", "tests.helpers.publisher", uri, str(contract), "0", "1"],
                          cwd=ROOT, env=mesh_env(tmp_path), capture_output=True, text=True)
    assert seed.returncode == 0, seed.stderr
    rng = random.Random(20261122)
    versions = set()
    for trial in range(20):
        process = publisher(uri, contract, writer=trial + 1, rounds=1000)
        assert process.stdout.readline().strip() == "started"
        # Let it commit a few versions first (counted, not timed: a loaded machine publishes more
        # slowly), then kill it at a random moment of the next publish.
        for _ in range(rng.randint(0, 3)):
            assert process.stdout.readline().startswith("published")
        time.sleep(rng.uniform(0.0, 0.4))
        process.kill()
        process.wait()
        assert_whole_and_valid(uri, contract)
        versions.add(DeltaTable(uri).version())
    assert len(versions) > 5  # the kills really landed between different commits
    # Killed publishes left orphan files; clearing them never touches a version.
    orphans = remove_orphans(uri, dt.timedelta(0))
    assert orphans and all(name.startswith("w-") for name in orphans)
    assert_whole_and_valid(uri, contract)


def test_two_publishers_racing_end_in_a_valid_table(tmp_path):
    contract = tmp_path / "counter.odcs.yaml"
    contract.write_text(COUNTER_CONTRACT)
    uri = str(tmp_path / "counter")
    racers = [publisher(uri, contract, writer=w, rounds=6) for w in (1, 2)]
    outputs = [racer.communicate(timeout=300)[0] for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    for output in outputs:
        for line in output.splitlines()[1:]:
            assert line.startswith("published") or ("another publish to" in line and "committed first" in line), line
    assert sum(line.startswith("published") for out in outputs for line in out.splitlines()) >= 6
    table = assert_whole_and_valid(uri, contract)
    assert table.column("batch")[0].as_py() // 1000 in (1, 2)
