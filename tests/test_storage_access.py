"""The object store, not the platform, refuses what the access policies refuse: after `mesh access
apply`, each domain's own keys read, list and write exactly what the policies allow — checked with
raw S3 requests and deltalake straight against a real SeaweedFS, never through the platform's read
path. `mesh access show` and the refusals need no server and run in the default suite."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from mesh_platform.model.access import masks_for, may_read, storage_identity
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.objectstore.access import apply_access
from mesh_platform.runtime.objectstore.seaweedfs import GENERATION_IDENTITY
from mesh_platform.runtime.objectstore.credentials import ensure_identity
from mesh_platform.runtime.ports.port import port_uri
from mesh_platform.runtime.settings import identities_dir, storage_options_for
from tests.conftest import BIN, ROOT, copy_project, mesh_env
from tests.helpers.mini_mesh import edited, write_mesh
from tests.helpers.objectstore import local_s3, s3_client, s3_settings

MESH = Mesh.load(ROOT)
DOMAINS = list(MESH.domains)
PAIRS = [(p, d) for p in MESH.products() for d in DOMAINS]
ROWS = pa.table({"row_id": pa.array([1, 2, 3], pa.int64()), "label": pa.array(["a", "b", "c"])})


def mesh(args: list[str], home: Path, project: Path = ROOT, **env: str):
    import subprocess  # reason: only the CLI tests start the real `mesh` command

    return subprocess.run([str(BIN / "mesh"), *args], cwd=project, env=mesh_env(home, **env), capture_output=True, text=True, timeout=300)


@pytest.fixture
def s3(tmp_path, monkeypatch):
    """A real SeaweedFS on loopback, the mesh's settings pointing at it (root s3://mesh/ports)."""
    home = tmp_path / "home"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
    with local_s3(home, ROOT) as server:
        settings = s3_settings(server, home)
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        yield server, home, settings


def apply(home: Path, settings: dict, project: Path = ROOT) -> str:
    result = mesh(["access", "apply"], home, project, **settings)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def raw_uri(product, root: str) -> str:
    return port_uri(root, product.domain, product.name, product.contract.major)


def projection_uri(product, root: str) -> str:
    return port_uri(root, product.domain, product.name, product.contract.major, masked=True)


def publish(uri: str) -> None:
    """A small real Delta table at `uri`, written with the platform's keys."""
    write_deltalake(uri, ROWS, storage_options=storage_options_for(ROOT, None))


def key_of(uri: str, bucket: str) -> str:
    return uri.removeprefix(f"s3://{bucket}/")


def a_data_file(admin, bucket: str, uri: str) -> str:
    listed = admin.list_objects_v2(Bucket=bucket, Prefix=key_of(uri, bucket) + "/")["Contents"]
    return next(o["Key"] for o in listed if o["Key"].endswith(".parquet"))


def refused(call) -> bool:
    """True when the store answers 403 AccessDenied; any other failure is the test's bug."""
    from botocore.exceptions import ClientError  # reason: comes with boto3, a test-only dependency

    try:
        call()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied", exc.response["Error"]
        return True
    return False


def reads(client, bucket: str, admin, uri: str, options: dict) -> dict[str, bool]:
    """Whether one identity can GET a data file, LIST the `_delta_log/` and open the table with
    deltalake, of the Delta table at `uri`."""
    key = a_data_file(admin, bucket, uri)
    log = key_of(uri, bucket) + "/_delta_log/"
    try:
        opened = DeltaTable(uri, storage_options=options).to_pyarrow_table().num_rows == ROWS.num_rows
    except OSError as exc:  # deltalake's refusal
        assert "403" in str(exc) or "Forbidden" in str(exc) or "AccessDenied" in str(exc), exc
        opened = False
    return {
        "get": not refused(lambda: client.get_object(Bucket=bucket, Key=key)["Body"].read()),
        "list": not refused(lambda: client.list_objects_v2(Bucket=bucket, Prefix=log)),
        "deltalake": opened,
    }


def domain_keys(domain: str) -> dict[str, str]:
    return ensure_identity(ROOT, storage_identity(domain))


@pytest.mark.objectstore
def test_each_domain_reads_straight_from_the_store_exactly_what_the_policies_allow(s3):
    server, home, settings = s3
    root = settings["MESH_STORAGE_ROOT"]
    out = apply(home, settings)
    assert "+ identity domain-customer_insights with" in out and "reloaded" in out
    personal = [p for p in MESH.products() if p.contract.personal_columns]
    assert {p.id for p in personal} == {"loyalty.bookings", "loyalty.members"}
    for product in MESH.products():  # every raw port, and the masked projection of personal ones
        publish(raw_uri(product, root))
    for product in personal:
        publish(projection_uri(product, root))
    admin = s3_client(server, domain_keys(None))
    seen = {}
    for product, domain in PAIRS:
        keys = domain_keys(domain)
        client, options = s3_client(server, keys), {**json.loads(settings["MESH_STORAGE_OPTIONS"]), **keys}
        allowed = may_read(product, domain)
        unmasked = allowed and not masks_for(product, domain)
        raw = reads(client, server.bucket, admin, raw_uri(product, root), options)
        # Listing the product folder (names, no data) is every reader's, masked ones included:
        # finding majors lists it. Reading the raw files is for those who see them unmasked.
        assert raw == {"get": unmasked, "list": allowed, "deltalake": unmasked}, (product.id, domain, raw)
        if product in personal:
            projection = reads(client, server.bucket, admin, projection_uri(product, root), options)
            assert projection == dict.fromkeys(projection, allowed), (product.id, domain, projection)
        seen[product.id, domain] = raw["get"]
    # The demo's policies, spelled out: restricted members are loyalty's alone, bookings' raw
    # e-mails too, while customer_insights (a reader that sees them masked) reads the projection.
    assert [d for d in DOMAINS if seen["loyalty.members", d]] == ["loyalty"]
    assert [d for d in DOMAINS if seen["loyalty.bookings", d]] == ["loyalty"]
    assert all(seen["flight_operations.flights", d] for d in DOMAINS)
    # No identity but the platform lists the root or another domain's folder.
    client = s3_client(server, domain_keys("customer_insights"))
    for prefix in ("", "ports/", "ports/loyalty/", "ports/flight_operations/"):
        assert refused(lambda: client.list_objects_v2(Bucket=server.bucket, Prefix=prefix)), prefix


@pytest.mark.objectstore
def test_a_domain_cannot_write_overwrite_or_delete_another_domains_port_but_can_its_own(s3):
    server, home, settings = s3
    root = settings["MESH_STORAGE_ROOT"]
    apply(home, settings)
    flights, members, route = MESH.find("flight_operations", "flights"), MESH.find("loyalty", "members"), MESH.find("punctuality", "route_performance")
    for product in (flights, members, route):
        publish(raw_uri(product, root))
    admin = s3_client(server, domain_keys(None))
    intruder = s3_client(server, domain_keys("punctuality"))
    bucket, port = server.bucket, key_of(raw_uri(flights, root), server.bucket)
    data, entry = a_data_file(admin, bucket, raw_uri(flights, root)), f"{port}/_delta_log/00000000000000000000.json"
    before = {key: admin.get_object(Bucket=bucket, Key=key)["Body"].read() for key in (data, entry)}
    attempts = {
        "new data file": lambda: intruder.put_object(Bucket=bucket, Key=f"{port}/part-00001-forged.parquet", Body=b"forged"),
        "overwrite data file": lambda: intruder.put_object(Bucket=bucket, Key=data, Body=b"forged"),
        "delete data file": lambda: intruder.delete_object(Bucket=bucket, Key=data),
        "next log entry": lambda: intruder.put_object(Bucket=bucket, Key=f"{port}/_delta_log/00000000000000000001.json", Body=b"{}"),
        "overwrite log entry": lambda: intruder.put_object(Bucket=bucket, Key=entry, Body=b"{}"),
        "delete log entry": lambda: intruder.delete_object(Bucket=bucket, Key=entry),
        # A server-side copy of restricted data into its own folder is a read: refused too.
        "copy restricted data home": lambda: intruder.copy_object(
            Bucket=bucket, Key="ports/punctuality/stolen.parquet",
            CopySource={"Bucket": bucket, "Key": a_data_file(admin, bucket, raw_uri(members, root))}),
    }
    assert [name for name, attempt in attempts.items() if not refused(attempt)] == []
    assert {key: admin.get_object(Bucket=bucket, Key=key)["Body"].read() for key in before} == before
    assert DeltaTable(raw_uri(flights, root), storage_options=storage_options_for(ROOT, None)).version() == 0
    # deltalake with the intruder's keys cannot append a version to another domain's port...
    options = {**json.loads(settings["MESH_STORAGE_OPTIONS"]), **domain_keys("punctuality")}
    with pytest.raises(DeltaError, match="403 Forbidden"):
        write_deltalake(raw_uri(flights, root), ROWS, mode="append", storage_options=options)
    assert DeltaTable(raw_uri(flights, root), storage_options=storage_options_for(ROOT, None)).version() == 0
    # ...and writes, overwrites and deletes in its own domain.
    write_deltalake(raw_uri(route, root), ROWS, mode="overwrite", storage_options=options)
    assert DeltaTable(raw_uri(route, root), storage_options=options).version() == 1
    own = key_of(raw_uri(route, root), bucket) + "/scratch"
    intruder.put_object(Bucket=bucket, Key=own, Body=b"mine")
    intruder.delete_object(Bucket=bucket, Key=own)


@pytest.mark.objectstore
def test_changing_a_policy_and_applying_again_changes_what_the_store_allows(s3, tmp_path):
    server, home, settings = s3
    project = copy_project(tmp_path / "project")
    root = settings["MESH_STORAGE_ROOT"]
    apply(home, settings, project)
    bookings = Mesh.load(project).find("loyalty", "bookings")
    publish(raw_uri(bookings, root))
    publish(projection_uri(bookings, root))
    keys = {domain: domain_keys(domain) for domain in DOMAINS}
    admin = s3_client(server, domain_keys(None))
    projection = a_data_file(admin, server.bucket, projection_uri(bookings, root))
    insights, punctuality = s3_client(server, keys["customer_insights"]), s3_client(server, keys["punctuality"])
    assert not refused(lambda: insights.get_object(Bucket=server.bucket, Key=projection))
    assert refused(lambda: punctuality.get_object(Bucket=server.bucket, Key=projection))
    # The owner moves bookings from customer_insights to punctuality.
    descriptor = project / "domains/loyalty/products/bookings.yaml"
    descriptor.write_text(descriptor.read_text().replace("readers: [customer_insights]", "readers: [punctuality]"))
    out = apply(home, settings, project)
    assert "- domain-customer_insights: Read:mesh/ports/loyalty/bookings/masked/*" in out
    assert "+ domain-punctuality: Read:mesh/ports/loyalty/bookings/masked/*" in out
    assert "+ identity" not in out and "keys created" not in out
    assert _eventually(lambda: refused(lambda: insights.get_object(Bucket=server.bucket, Key=projection)))
    assert not refused(lambda: punctuality.get_object(Bucket=server.bucket, Key=projection))
    assert refused(lambda: punctuality.get_object(Bucket=server.bucket, Key=a_data_file(admin, server.bucket, raw_uri(bookings, root))))
    # What an identity may do changed; its keys did not (running locations stay signed in).
    assert {domain: domain_keys(domain) for domain in DOMAINS} == keys
    assert "no change" in apply(home, settings, project)


@pytest.mark.objectstore
def test_a_product_that_published_a_projection_stays_masked_after_its_contract_unflags_a_column(s3, tmp_path):
    server, home, settings = s3
    project = copy_project(tmp_path / "project")
    root = settings["MESH_STORAGE_ROOT"]
    apply(home, settings, project)
    bookings = Mesh.load(project).find("loyalty", "bookings")
    publish(raw_uri(bookings, root))
    publish(projection_uri(bookings, root))
    # The owner drops the personal classification without a new major: the raw port it published
    # still holds the values in clear, so a reader without personal-data rights must not get it.
    contract = project / "domains/loyalty/contracts/bookings.odcs.yaml"
    contract.write_text(contract.read_text().replace("classification: pii", "classification: public"))
    unflagged = Mesh.load(project).find("loyalty", "bookings")
    assert not unflagged.contract.personal_columns and may_read(unflagged, "customer_insights")
    out = apply(home, settings, project)
    assert "- domain-customer_insights" not in out, out  # nothing revoked, nothing widened
    admin = s3_client(server, domain_keys(None))
    insights = s3_client(server, domain_keys("customer_insights"))
    assert refused(lambda: insights.get_object(Bucket=server.bucket, Key=a_data_file(admin, server.bucket, raw_uri(bookings, root))))
    assert not refused(lambda: insights.get_object(Bucket=server.bucket, Key=a_data_file(admin, server.bucket, projection_uri(bookings, root))))
    shown = mesh(["access", "show", "--json"], home, project, **settings)
    assert json.loads(shown.stdout)["loyalty.bookings"]["customer_insights"] == "masked", shown.stdout


def _eventually(condition, timeout: float = 5) -> bool:
    """The server re-reads its identities when signalled, a moment after `apply` returns."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_access_show_prints_the_matrix_of_the_policies(tmp_path):
    shown = mesh(["access", "show", "--json"], tmp_path / "home")
    assert shown.returncode == 0, shown.stderr
    matrix = json.loads(shown.stdout)
    for product, domain in PAIRS:
        expected = "write" if domain == product.domain else "-" if not may_read(product, domain) else "masked" if masks_for(product, domain) else "read"
        assert matrix[product.id][domain] == expected, (product.id, domain)
    assert matrix["loyalty.bookings"]["customer_insights"] == "masked"
    assert [d for d, level in matrix["loyalty.members"].items() if level != "-"] == ["loyalty"]
    table = mesh(["access", "show"], tmp_path / "home")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "loyalty.bookings" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["loyalty.bookings", "-", "masked", "-", "-", "write", "-", "-"]  # shared, customer_insights, ..., weather


def test_apply_refuses_in_one_line_where_no_server_configuration_applies_and_creates_no_keys(tmp_path):
    home = tmp_path / "home"
    result = mesh(["access", "apply"], home)
    assert result.returncode == 1
    assert result.stderr.startswith("error: storage identities are enforced by an S3 store, but MESH_STORAGE_ROOT is ")
    assert result.stderr.count("\n") == 1 and "set it to s3://bucket/prefix" in result.stderr
    assert not home.exists()
    # On AWS S3 itself (no endpoint) identities are IAM's: no keys are made up to shadow them.
    on_aws = mesh(["access", "apply"], home, MESH_STORAGE_ROOT="s3://lake/mesh")
    assert on_aws.returncode == 1 and on_aws.stderr.count("\n") == 1
    assert "no AWS_ENDPOINT_URL in MESH_STORAGE_OPTIONS: the ports are on AWS S3" in on_aws.stderr and "--format aws-iam" in on_aws.stderr
    assert not home.exists()


def test_apply_without_a_running_server_writes_its_configuration_owner_only_and_prints_no_key(tmp_path):
    home = tmp_path / "home"
    settings = {"MESH_STORAGE_ROOT": "s3://mesh/ports", "MESH_STORAGE_OPTIONS": json.dumps({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})}
    result = mesh(["access", "apply"], home, **settings)
    assert result.returncode == 0, result.stderr
    assert "no local object store runs: it reads them when it starts" in result.stdout
    config = home / "objectstore" / "s3.json"
    entries = {entry["name"]: entry for entry in json.loads(config.read_text())["identities"]}
    # The server's own marker of which configuration it serves (seaweedfs.reload) grants nothing.
    assert entries.pop(GENERATION_IDENTITY)["actions"] == []
    identities = entries
    assert list(identities) == ["platform", *(storage_identity(d) for d in DOMAINS)]
    files = sorted((home / "identities").iterdir())
    assert [f.name for f in files] == sorted(f"{name}.json" for name in identities)
    assert {oct(path.stat().st_mode & 0o777) for path in [config, *files]} == {"0o600"}
    assert oct((home / "identities").stat().st_mode & 0o777) == "0o700"
    secrets = [c["secretKey"] for entry in identities.values() for c in entry["credentials"]]
    assert not any(secret in result.stdout + result.stderr for secret in secrets)


def test_apply_prints_aws_iam_policies_for_an_external_store_and_changes_nothing(tmp_path):
    home = tmp_path / "home"
    result = mesh(["access", "apply", "--format", "aws-iam"], home, MESH_STORAGE_ROOT="s3://lake/mesh")
    assert result.returncode == 0, result.stderr
    policies = json.loads(result.stdout)
    assert list(policies) == ["platform", *(storage_identity(d) for d in DOMAINS)]
    insights = {s["Sid"]: s for s in policies["domain-customer_insights"]["Statement"]}
    assert "arn:aws:s3:::lake/mesh/loyalty/bookings/masked/*" in insights["ReadPorts"]["Resource"]
    assert not any("loyalty/members" in r for s in policies["domain-customer_insights"]["Statement"] for r in s["Resource"])
    assert not home.exists()  # no key created, no server configuration written


def test_apply_refuses_a_mesh_with_a_domain_that_does_not_load(tmp_path, monkeypatch):
    """Its products' policies are unknown: applying would revoke what they grant to others."""
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MESH_STORAGE_ROOT", "s3://mesh/ports")
    project = write_mesh(tmp_path / "project", edited(lambda files: files["domains/lab"]["domain.yaml"].pop("owner")))
    with pytest.raises(MeshError, match=r"domains/lab does not load \(.*owner.*\): the policies of its products are unknown") as refusal:
        apply_access(project, Mesh.load(project))
    assert "\n" not in str(refusal.value)
    assert not identities_dir(project).exists()
