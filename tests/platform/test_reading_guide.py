"""The catalog's "how to read it" for a deployment on an object store: the port store's real s3://
addresses, the endpoint and region a reader's client needs, the credentials variables named and
never a key's value (the local-disk case runs for real in tests/test_cli_polish.py)."""

from __future__ import annotations

from mesh_platform.cli.catalog.reading_guide import Address, reading_guide
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.ports.delta import DeltaPortStore
from tests.conftest import ROOT

SECRET = "wJalrXUtnFEMI-not-a-real-secret"
STORE = DeltaPortStore("s3://mesh/ports", {"AWS_ENDPOINT_URL": "http://127.0.0.1:8333", "AWS_REGION": "us-east-1",
                                           "AWS_ACCESS_KEY_ID": "AKIDPLATFORM", "AWS_SECRET_ACCESS_KEY": SECRET})


def test_an_s3_port_is_read_at_its_uri_with_the_endpoint_and_region_and_no_key():
    bookings = Mesh.load(ROOT).find("loyalty", "bookings")
    guide = reading_guide(bookings, STORE)
    (raw_for, raw, raw_snippets), (masked_for, masked, masked_snippets) = guide.sections()
    assert raw.location == STORE.uri("loyalty", "bookings", 1) == "s3://mesh/ports/loyalty/bookings/v1"
    assert masked.location == STORE.uri("loyalty", "bookings", 1, masked=True)
    assert "raw port" in raw_for and "masked projection" in masked_for
    assert raw.settings() == ["endpoint: http://127.0.0.1:8333", "region: us-east-1",
                              "credentials: your domain's storage identity, as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"]
    code = {s.tool: s.code for s in raw_snippets}
    assert "CREATE SECRET mesh_port (TYPE s3, PROVIDER credential_chain, ENDPOINT '127.0.0.1:8333', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1');" in code["DuckDB"]
    assert "delta_scan('s3://mesh/ports/loyalty/bookings/v1')" in code["DuckDB"]
    assert '"AWS_ENDPOINT_URL": "http://127.0.0.1:8333"' in code["Polars"] and '"AWS_ALLOW_HTTP": "true"' in code["pandas"]
    assert 'load("s3a://mesh/ports/loyalty/bookings/v1")' in code["Spark"]
    every = " ".join(s.code for s in raw_snippets + masked_snippets) + " ".join(raw.settings())
    assert SECRET not in every and "AKIDPLATFORM" not in every


def test_a_product_without_personal_data_has_one_address_and_aws_s3_no_endpoint():
    carriers = Mesh.load(ROOT).find("shared", "carriers")
    aws = DeltaPortStore("s3://my-bucket/mesh", {"AWS_REGION": "eu-west-1"})
    [(who, address, snippets)] = reading_guide(carriers, aws).sections()
    assert who == "every reader allowed to read it" and address.location == "s3://my-bucket/mesh/shared/carriers/v1"
    assert address.settings()[0] == "endpoint: AWS S3 (no custom endpoint)"
    assert "ENDPOINT" not in snippets[0].code and "REGION 'eu-west-1'" in snippets[0].code


def test_a_local_port_needs_no_settings():
    local = Address.of({"server": "mesh_port", "type": "local", "path": "/srv/mesh/storage/shared/carriers/v1", "format": "delta"})
    assert not local.remote and local.settings() == [] and local.storage_options() == {}
