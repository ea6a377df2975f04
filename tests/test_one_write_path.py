"""One write path for every product: a Python product (flight_operations.flights, committed by the
IO manager) and a dbt product (fleet.aircraft, committed after dbt exits) both publish through
runtime/publishing.py, so their ports and their Dagster records carry the same facts."""

from __future__ import annotations

import dagster as dg
import pytest

from domains.fleet.definitions import defs as fleet
from domains.flight_operations.definitions import defs as flight_operations
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.publishing import commit_metadata
from shared_assets.definitions import defs as shared
from tests.conftest import ROOT

PYTHON_PRODUCT, DBT_PRODUCT = ("flight_operations", "flights"), ("fleet", "aircraft")
# What every publish records in Dagster, whichever way the product was built.
PUBLISH_METADATA = {"dagster/uri", "dagster/row_count", "delta_version", "contract_version", "dagster/column_schema", "published_at"}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Shared, fleet (dbt) and March's flights (Python) built in process into a private mesh home."""
    home = tmp_path_factory.mktemp("write_path") / "mesh_home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MESH_HOME", str(home))
        env.delenv("MESH_STORAGE_ROOT", raising=False)
        instance = dg.DagsterInstance.ephemeral()
        for defs, job, partition in ((shared, "build_shared", None), (fleet, "build_fleet", None),
                                     (flight_operations, "build_flight_operations", "2013-03-01")):
            assert defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition).success
        yield instance, port_store(ROOT)


@pytest.mark.parametrize("key", [PYTHON_PRODUCT, DBT_PRODUCT], ids=["python", "dbt"])
def test_the_commit_carries_exactly_the_write_paths_metadata(published, key):
    _, store = published
    product = Mesh.load(ROOT).find(*key)
    last = store.history(store.uri(*key, product.contract.major), 1)[0]
    expected = commit_metadata(product.contract, product.id, last["mesh.run_id"])
    assert {k: v for k, v in last.items() if k.startswith("mesh.")} == expected


def test_python_and_dbt_publishes_are_recorded_alike_and_match_the_store(published):
    instance, store = published
    recorded = {}
    for key in (PYTHON_PRODUCT, DBT_PRODUCT):
        uri = store.uri(*key, 1)
        event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
        metadata = event.asset_materialization.metadata
        recorded[key] = PUBLISH_METADATA & set(metadata)
        port = store.describe(uri)
        assert metadata["delta_version"].value == port.version and metadata["dagster/uri"].value == uri
        assert metadata["contract_version"].value == port.published_contract_version
        assert store.history(uri, 1)[0]["mesh.run_id"] == event.run_id  # the commit names the run Dagster recorded
    assert recorded[PYTHON_PRODUCT] == recorded[DBT_PRODUCT] == PUBLISH_METADATA
