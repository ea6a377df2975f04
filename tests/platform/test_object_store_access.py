"""How a port on an object store is reached and how its failures are said, without a server:
the store's options read the same by pyarrow and DuckDB, secrets scoped to one port, and a
library's multi-line refusal turned into one line naming the endpoint, the identity or the port.
(Against a real server: tests/test_objectstore_*.py.)"""

from __future__ import annotations

import duckdb
import pytest

from mesh_platform.runtime import sealed
from mesh_platform.runtime.engines import duckdb_ports
from mesh_platform.runtime.ports import faults
from mesh_platform.runtime.ports.port import PortLocation
from mesh_platform.runtime.ports.s3_options import pyarrow_arguments

OPTIONS = {"AWS_ENDPOINT_URL": "http://127.0.0.1:8333", "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1"}
KEYS = {"AWS_ACCESS_KEY_ID": "MESHLAB", "AWS_SECRET_ACCESS_KEY": "lab-secret"}
# deltalake's own words for a refused read: several lines, ANSI colours, the server's XML.
DELTALAKE_403 = (
    "Kernel error -> The operation lacked the necessary privileges to complete for path p/_delta_log/_last_checkpoint\n"
    "          \x1b[31m↳\x1b[0m Error performing GET http://127.0.0.1:8333/mesh/p in 1ms - Server returned non-2xx status code\n"
    "           \x1b[31m↳\x1b[0m 403 Forbidden\n            \x1b[31m↳\x1b[0m <?xml version=\"1.0\"?>\n<Error><Code>{code}</Code></Error>\n"
)


def test_pyarrow_reaches_the_store_with_the_identitys_keys_endpoint_and_region_only():
    arguments = pyarrow_arguments({**OPTIONS, **KEYS})
    assert arguments | {"allow_bucket_creation": None, "allow_bucket_deletion": None, "connect_timeout": None, "request_timeout": None} == {
        "access_key": "MESHLAB", "secret_key": "lab-secret", "session_token": None, "region": "us-east-1",
        "endpoint_override": "127.0.0.1:8333", "scheme": "http",
        "allow_bucket_creation": None, "allow_bucket_deletion": None, "connect_timeout": None, "request_timeout": None,
    }
    # No keys given: the store's own credential chain (a workload's role), as deltalake does.
    assert "access_key" not in pyarrow_arguments({"AWS_REGION": "eu-west-1"})
    assert pyarrow_arguments({"AWS_ENDPOINT_URL": "minio.internal:9000"})["scheme"] == "https"


def test_a_duckdb_secret_covers_one_port_and_the_sql_carries_no_more_than_the_options():
    location = PortLocation("s3://mesh/ports/lab/readings/v1", 0, 0, False, None, "domain-lab", {**OPTIONS, **KEYS})
    scope = duckdb_ports.scope_of(location)
    assert scope == "s3://mesh/ports/lab/readings/v1/"  # v1/, never v10/
    statement = duckdb_ports.secret_sql("s", scope, location.storage_options)
    assert statement == (
        "CREATE OR REPLACE SECRET s (TYPE s3, KEY_ID 'MESHLAB', SECRET 'lab-secret', REGION 'us-east-1', "
        "ENDPOINT '127.0.0.1:8333', URL_STYLE 'path', USE_SSL false, SCOPE 's3://mesh/ports/lab/readings/v1/')"
    )
    assert "PROVIDER credential_chain" in duckdb_ports.secret_sql("s", scope, OPTIONS)
    assert "lab-secret" not in repr(location)
    # A quote in a value cannot end the literal.
    assert "'it''s'" in duckdb_ports.secret_sql("s", scope, {**KEYS, "AWS_REGION": "it's"})


def test_a_sealed_session_on_s3_keeps_its_secrets_redacted_and_reads_only_its_prefixes():
    location = PortLocation("s3://mesh/ports/lab/readings/v1", 0, 0, False, None, "domain-lab", {**OPTIONS, **KEYS})
    con = duckdb_ports.sealed_session([location])
    listed = con.sql("SELECT name, scope, secret_string FROM duckdb_secrets() ORDER BY name").fetchall()
    assert [scope for _, scope, _ in listed] == [["s3://"], ["s3://mesh/ports/lab/readings/v1/"]]
    assert all("secret=redacted" in text and "lab-secret" not in text for _, _, text in listed)
    with pytest.raises(duckdb.Error, match="unredacted secrets is disabled"):
        con.sql("SELECT * FROM duckdb_secrets(redact => false)").fetchall()
    for path in ("s3://mesh/*", "s3://mesh/ports/lab/readings/v10/x.parquet", "/etc/hostname"):
        with pytest.raises(duckdb.PermissionException):
            con.sql(f"SELECT * FROM read_text('{path}')").fetchall()
    with pytest.raises(duckdb.Error, match="locked"):
        con.execute("SET allowed_directories = ['s3://']")
    assert sealed.refused_statement("COPY (SELECT 1) TO 's3://mesh/ports/lab/readings/v1/x.csv'", "mesh sql", "") is not None


@pytest.mark.parametrize(("code", "says"), [
    ("SignatureDoesNotMatch", "the object store at http://127.0.0.1:8333 does not accept the keys of storage identity 'domain-lab'"),
    ("InvalidAccessKeyId", "the object store at http://127.0.0.1:8333 does not accept the keys of storage identity 'domain-lab'"),
    ("AccessDenied", "storage identity 'domain-lab' is refused by the object store at http://127.0.0.1:8333: access denied to s3://mesh/ports/lab/p/v1"),
])
def test_a_store_refusal_is_one_line_naming_the_identity(code, says):
    line = faults.describe(faults.one_line(DELTALAKE_403.format(code=code)), identity="domain-lab", options=OPTIONS, uri="s3://mesh/ports/lab/p/v1")
    assert line.startswith(says) and "\n" not in line and "<Error>" not in line


def test_an_unreachable_store_is_one_line_naming_the_endpoint_and_the_setting():
    pyarrow_says = ("When listing objects under key 'ports/lab/' in bucket 'mesh': AWS Error NETWORK_CONNECTION during "
                    "ListObjectsV2 operation: curlCode: 7, Could not connect to server")
    line = faults.describe(pyarrow_says, identity="domain-lab", options={"AWS_ENDPOINT_URL": "http://10.0.0.9:9000"}, uri="s3://mesh/ports/lab")
    assert line == ("the object store at http://10.0.0.9:9000 is unreachable (MESH_STORAGE_OPTIONS AWS_ENDPOINT_URL): "
                    "is it running, and is the endpoint right? (reaching s3://mesh/ports/lab)")
    assert faults.describe("Generic delta kernel error: No files in log segment", identity="x", options={}, uri="u") is None


def test_the_local_stores_component_ports_never_take_another_ones_grpc_twin():
    from mesh_platform.runtime.objectstore.seaweedfs import GRPC_OFFSET, component_ports  # reason: only this test picks ports

    for _ in range(50):
        s3_port = 30000
        ports = component_ports(s3_port)
        every = [s3_port, *ports.values()]
        twins = {port + GRPC_OFFSET for port in every}
        assert len(set(every)) == len(every) and not twins & set(every), ports
