"""The whole demo mesh on a real S3 server, with settings only: it builds, audits, publishes and
serves every read (Python inputs, dbt sources, `mesh sql`, the catalog, contract export) from the
store, and its products hold exactly what the same build holds on local disk.

Every domain acts with its own identity's keys, with exactly the grants `mesh access apply` derives
from the policies: the build succeeding proves least privilege is enough, and the access matrix
below is checked over the ports the build itself published. The platform identity reads for the
catalog and export. Both builds mask with the same MESH_MASKING_KEY, so masked columns compare too."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mesh_platform.model.mesh import Mesh
from tests.conftest import BIN, ROOT, mesh_env
from tests.helpers.objectstore import MASKING_KEY, local_s3, s3_settings
from mesh_platform.model.access import PLATFORM_IDENTITY, masks_for, may_read, storage_identity
from mesh_platform.runtime.objectstore.credentials import ensure_identity
from tests.helpers.s3_mesh import options_with, port_fingerprints, s3_environment

pytestmark = pytest.mark.objectstore


def mesh(args: list[str], env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "mesh"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def s3_build(tmp_path_factory):
    """The demo mesh built on a fresh S3 server (and the server, its settings and the keys)."""
    home = tmp_path_factory.mktemp("s3") / "mesh_home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MESH_HOME", str(home))  # where the test's identities' keys are kept
        patch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
        with local_s3(home, ROOT) as server:
            env = s3_environment(mesh_env(home, **s3_settings(server, home)))
            applied = mesh(["access", "apply"], env)
            assert applied.returncode == 0, applied.stdout + applied.stderr
            identities = [PLATFORM_IDENTITY, *(storage_identity(d) for d in Mesh.load(ROOT).domains)]
            keys = {name: ensure_identity(ROOT, name) for name in identities}
            result = mesh(["build"], env)
            assert result.returncode == 0, result.stdout + result.stderr
            yield server, env, keys, result


def products() -> list[tuple[str, str, int]]:
    return [(p.domain, p.name, p.contract.major) for p in sorted(Mesh.load(ROOT).products(), key=lambda p: p.id)]


def test_the_demo_mesh_on_s3_holds_what_the_same_build_holds_on_local_disk(s3_build, tmp_path):
    server, env, keys, _ = s3_build
    local_home = tmp_path / "local_home"
    local = mesh(["build"], mesh_env(local_home, MESH_MASKING_KEY=MASKING_KEY))
    assert local.returncode == 0, local.stdout + local.stderr
    expected = port_fingerprints(str(local_home / "storage"), products())
    on_s3 = port_fingerprints(f"s3://{server.bucket}/ports", products(), options_with(server, keys["platform"]))
    assert on_s3 == expected
    assert on_s3["flight_operations.flights"][0] == 336_776 and all(rows for rows, _ in on_s3.values())
    # Settings only: nothing of the S3 build landed on this machine's disk as a port.
    assert not (Path(env["MESH_HOME"]) / "storage").exists()


def can_read(uri: str, options: dict[str, str]) -> bool:
    """Whether one identity opens a port's Delta log and reads rows of its data files, straight
    from the store with deltalake (not the platform's read path)."""
    from deltalake import DeltaTable  # reason: only this check reads ports without the platform

    try:
        return DeltaTable(uri, storage_options=options).to_pyarrow_dataset().head(1).num_rows == 1
    except OSError as exc:
        assert "403" in str(exc) or "Forbidden" in str(exc) or "AccessDenied" in str(exc), exc
        return False


def test_each_domain_reads_straight_from_the_built_store_exactly_what_the_policies_allow(s3_build):
    server, _, keys, _ = s3_build
    built = Mesh.load(ROOT)
    seen = {}
    for product in built.products():
        raw = f"s3://{server.bucket}/ports/{product.domain}/{product.name}/v{product.contract.major}"
        projection = f"s3://{server.bucket}/ports/{product.domain}/{product.name}/masked/v{product.contract.major}"
        for domain in built.domains:
            options = options_with(server, keys[storage_identity(domain)])
            allowed, masked = may_read(product, domain), bool(masks_for(product, domain))
            seen[product.id, domain] = can_read(raw, options)
            assert seen[product.id, domain] == (allowed and not masked), (product.id, domain)
            if product.contract.personal_columns:
                assert can_read(projection, options) == allowed, (product.id, domain, "projection")
    # The demo's policies spelled out: members and bookings raw are loyalty's alone; every domain
    # reads flights; a masked reader of bookings (customer_insights) reads its projection only.
    assert [d for d in built.domains if seen["loyalty.members", d]] == ["loyalty"]
    assert [d for d in built.domains if seen["loyalty.bookings", d]] == ["loyalty"]
    assert all(seen["flight_operations.flights", d] for d in built.domains)
    assert may_read(built.require("loyalty.bookings", consumer="this test"), "customer_insights")


def test_no_key_lands_in_logs_run_history_or_dbt_files(s3_build):
    _, env, keys, built = s3_build
    home = Path(env["MESH_HOME"])
    secrets = [k["AWS_SECRET_ACCESS_KEY"].encode() for k in keys.values()]
    kept = {home / "identities", home / "objectstore"}  # the keys' own files, and the server's configuration
    written = [p for p in home.rglob("*") if p.is_file() and not any(folder in p.parents for folder in kept)]
    assert any(p.name == "build.log" for p in written) and any(p.suffix == ".duckdb" for p in written)
    leaked = [str(p) for p in written if any(secret in p.read_bytes() for secret in secrets)]
    assert leaked == []
    assert not any(secret.decode() in built.stdout + built.stderr for secret in secrets)


def test_mesh_sql_reads_s3_ports_natively_as_the_acting_domain_and_nothing_else(s3_build):
    server, env, keys, _ = s3_build
    count = mesh(["sql", "--as", "punctuality", "--json", "-c", "SELECT count(*) AS n FROM flight_operations.flights"], env)
    assert count.returncode == 0, count.stderr
    assert json.loads(count.stdout) == [{"n": 336_776}]
    # A view over the port's own files on the store (delta_scan), not a copy registered from Arrow.
    plan = mesh(["sql", "--as", "punctuality", "-c", "EXPLAIN SELECT * FROM flight_operations.flights"], env)
    assert plan.returncode == 0 and "DELTA_SCAN" in plan.stdout, plan.stdout + plan.stderr
    public = mesh(["sql", "--as", "fleet", "--json", "-c", "SELECT count(*) AS n FROM shared.airports"], env)
    assert json.loads(public.stdout) == [{"n": 1_462}], public.stderr
    # Without a domain a session would hold the platform's keys, which read every port: refused.
    anonymous = mesh(["sql", "-c", "SELECT count(*) FROM shared.airports"], env)
    assert anonymous.returncode == 1 and "reads as a domain: add --as DOMAIN" in anonymous.stderr, anonymous.stderr
    # DuckDB's delta reader resolves `..` itself, past the secret's textual scope: with the
    # session's own (domain) keys, the store still refuses what the domain may not read.
    escape = mesh(["sql", "--as", "customer_insights", "-c",
                   f"SELECT count(*) FROM delta_scan('s3://{server.bucket}/ports/loyalty/bookings/masked/v1/../../v1')"], env)
    assert escape.returncode == 1 and "@" not in escape.stdout, escape.stdout + escape.stderr
    # The session's secrets are redacted: no secret key of any identity is ever printed.
    listed = mesh(["sql", "--as", "punctuality", "--json", "-c", "SELECT * FROM duckdb_secrets()"], env)
    assert listed.returncode == 0, listed.stderr
    assert "secret=redacted" in listed.stdout
    secrets = [k["AWS_SECRET_ACCESS_KEY"] for k in keys.values()]
    assert not any(secret in listed.stdout + listed.stderr for secret in secrets)
    unredacted = mesh(["sql", "--as", "punctuality", "-c", "SELECT * FROM duckdb_secrets(redact => false)"], env)
    assert unredacted.returncode == 1 and not any(secret in unredacted.stdout + unredacted.stderr for secret in secrets)
    # Only its ports' prefixes: the bucket, another port's files, a prefix twin and `..` are refused.
    for query in (
        f"SELECT count(*) FROM glob('s3://{server.bucket}/*')",
        f"SELECT count(*) FROM read_parquet('s3://{server.bucket}/ports/loyalty/members/v1/*.parquet')",
        f"SELECT count(*) FROM delta_scan('s3://{server.bucket}/ports/flight_operations/flights/v10')",
        f"SELECT * FROM read_text('s3://{server.bucket}/ports/shared/airports/v1/../../../loyalty/members/v1/_delta_log/00000000000000000000.json')",
    ):
        refused = mesh(["sql", "--as", "punctuality", "-c", query], env)
        assert refused.returncode == 1, (query, refused.stdout)
        errors = [line for line in refused.stderr.splitlines() if not line.startswith("impersonating")]
        assert len(errors) == 1 and errors[0].startswith("error:"), refused.stderr  # one line, no store reply
        assert "member" not in refused.stdout and "<Error>" not in refused.stderr
    # Writes are refused by statement type, an allowed prefix included.
    copy = mesh(["sql", "--as", "punctuality", "-c",
                 f"COPY (SELECT 1) TO 's3://{server.bucket}/ports/flight_operations/flights/v1/evil.csv'"], env)
    assert copy.returncode == 1 and "COPY statements are refused" in copy.stderr


def test_the_catalog_describes_every_s3_port(s3_build):
    _, env, _, built = s3_build
    result = mesh(["catalog", "--json"], env)
    assert result.returncode == 0, result.stderr
    entries = {e["product"]: e for e in json.loads(result.stdout)}
    assert set(entries) == set(Mesh.load(ROOT).product_ids())
    assert entries["flight_operations.flights"]["rows"] == 336_776
    assert all(e["delta_version"] == 0 and e["last_publish"] and not e["problem"] for e in entries.values()), entries
    assert all(e["port"].startswith("s3://mesh/ports/") for e in entries.values())


def test_contract_export_points_consumers_at_the_s3_port_without_keys(s3_build, tmp_path):
    server, env, keys, _ = s3_build
    target = tmp_path / "aircraft.odcs.yaml"
    result = mesh(["contract", "export", "fleet.aircraft", "-o", str(target)], env)
    assert result.returncode == 0, result.stderr
    server_entry = yaml.safe_load(target.read_text())["servers"][0]
    assert server_entry | {"description": None} == {
        "server": "mesh_port", "type": "s3", "location": "s3://mesh/ports/fleet/aircraft/v1", "format": "delta",
        "endpointUrl": server.endpoint, "region": "us-east-1", "description": None,
    }
    text = target.read_text()
    assert not any(k["AWS_ACCESS_KEY_ID"] in text or k["AWS_SECRET_ACCESS_KEY"] in text for k in keys.values())
