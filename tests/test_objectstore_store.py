"""The port store on a real S3 server with least-privilege identities, as `mesh access apply` will
grant them: a domain may write, list and read only under its own prefix; a reader may read one
port and list only its product's folder. Every store operation then works with exactly those
rights — publishing, finding majors, clearing orphans, native DuckDB reads, masked Arrow reads —
and what an identity is not granted is refused by the store, in one line naming it and the port."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from mesh_platform.model.errors import MeshError, PublishError
from mesh_platform.runtime.engines import duckdb_ports
from mesh_platform.runtime.ports.port import PortLocation
from mesh_platform.runtime.ports.store import port_store
from tests.conftest import ROOT
from tests.helpers.objectstore import local_s3, s3_client, s3_settings
from tests.helpers.s3_mesh import grant

pytestmark = pytest.mark.objectstore

SCHEMA = pa.schema([pa.field("id", pa.int64(), False), pa.field("batch", pa.int64(), False)])


def batch(marker: int, rows: int = 1000) -> pa.Table:
    return pa.table({"id": pa.array(range(rows), pa.int64()), "batch": pa.array([marker] * rows, pa.int64())}, schema=SCHEMA)


def test_least_privilege_identities_publish_and_read_and_are_refused_the_rest(tmp_path, monkeypatch):
    home = tmp_path / "mesh_home"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
    with local_s3(home, ROOT) as server:
        for name, value in s3_settings(server, home).items():
            monkeypatch.setenv(name, value)
        ports = f"{server.bucket}/ports"
        keys = grant(server, ROOT, {
            "domain-lab": [f"Read:{ports}/lab/*", f"Write:{ports}/lab/*", f"List:{ports}/lab/*"],
            "domain-desk": [f"Read:{ports}/lab/readings/v1/*", f"List:{ports}/lab/readings/*"],
        })
        lab = port_store(ROOT, acting="lab")
        uri = lab.uri("lab", "readings", 1)
        for marker in (1, 2):
            assert lab.publish(lab.stage(uri, batch(marker), SCHEMA, label="lab.readings"), {"mesh.product": "lab.readings"}).version == marker - 1
        # A killed publish's files, then cleared by the owner: within its own prefix only.
        s3_client(server, keys["domain-lab"]).put_object(Bucket=server.bucket, Key="ports/lab/readings/v1/w-killed/part-0.parquet", Body=b"x")
        assert lab.remove_orphans(uri, dt.timedelta(0)) == ["w-killed"]
        assert lab.describe(uri).rows == 1000

        desk = port_store(ROOT, acting="desk")
        assert desk.published_majors("lab", "readings") == [1]  # lists the product's folder, nothing above
        location = desk.locate(uri, "lab.readings")
        assert (location.local, location.identity, location.version) == (False, "domain-desk", 1)
        native = duckdb_ports.read_arrow(location)  # DuckDB's delta_scan with desk's own keys
        assert native.num_rows == 1000 and set(native.column("batch").to_pylist()) == {2}
        assert desk.scan(uri, "lab.readings", version=0).column("batch").to_pylist() == [1] * 1000  # the masked reads' path
        with pytest.raises(PublishError) as refused:
            desk.stage(uri, batch(9), SCHEMA, label="lab.readings")
        assert str(refused.value) == f"storage identity 'domain-desk' is refused by the object store at {server.endpoint}: access denied to {uri}"
        other = lab.uri("lab", "notes", 1)
        lab.publish(lab.stage(other, batch(3), SCHEMA, label="lab.notes"), {})
        with pytest.raises(MeshError, match=f"storage identity 'domain-desk' is refused .*: access denied to {other}$"):
            desk.locate(other, "lab.notes")
        with pytest.raises(MeshError, match="storage identity 'domain-desk' is refused"):
            duckdb_ports.read_arrow(PortLocation(other, 0, 0, False, None, "domain-desk", location.storage_options))
