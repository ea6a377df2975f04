"""DuckDB's Delta reader comes from the installed wheel, offline, in a fresh connection."""

import duckdb
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.duckdb_extensions import EXTENSIONS, extension_file, load_statement


def test_every_shipped_extension_is_installed_for_the_running_duckdb():
    for name in EXTENSIONS:
        path = extension_file(name)
        assert path.is_file() and f"v{duckdb.__version__}" in path.parts


def test_delta_loads_from_its_file_with_downloads_off_and_reads_a_port_as_of_a_version(tmp_path):
    port = tmp_path / "port"
    write_deltalake(port, pa.table({"month": ["2013-01"] * 3, "n": [1, 2, 3]}), partition_by=["month"])
    write_deltalake(port, pa.table({"month": ["2013-02"] * 2, "n": [4, 5]}), partition_by=["month"], mode="append")
    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(load_statement("delta"))
    assert con.sql(f"select sum(n) from delta_scan('{port}')").fetchone() == (15,)
    assert con.sql(f"select sum(n) from delta_scan('{port}', version => 0)").fetchone() == (6,)


def test_an_extension_the_platform_does_not_ship_is_named_in_the_refusal():
    with pytest.raises(MeshError, match=r"'spatial' is not one the platform ships; it ships delta, httpfs, aws"):
        extension_file("spatial")
