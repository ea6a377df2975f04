"""The demo mesh on a real S3 server: every domain an identity of its own, and what a port holds
read straight from the store (deltalake with one identity's keys, not the platform's read path).

Until `mesh access apply` writes identities from the policies, these tests give each domain's
identity (`domain-<name>`, keys under the test's identities folder) full access in the server's
configuration: what is tested here is that every workload acts with its own keys and that the
mesh runs on S3, not what each identity may do."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from mesh_platform.model.access import PLATFORM_IDENTITY, storage_identity
from mesh_platform.model.mesh import Mesh
from mesh_platform.runtime.objectstore import seaweedfs
from mesh_platform.runtime.objectstore.credentials import ensure_identity
from tests.helpers.objectstore import identity_entry, s3_client

FULL_ACCESS = ["Admin", "Read", "Write", "List", "Tagging"]


def grant(server: seaweedfs.LocalServer, project_root: Path, grants: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """Make the server know exactly the platform (full access) and the identities of `grants`
    (name -> actions), keys created as needed; returns every identity's keys once the server
    accepts the last of them."""
    keys = {name: ensure_identity(project_root, name) for name in [PLATFORM_IDENTITY, *grants]}
    entries = [identity_entry(PLATFORM_IDENTITY, keys[PLATFORM_IDENTITY], FULL_ACCESS)]
    entries += [identity_entry(name, keys[name], actions) for name, actions in grants.items()]
    folder = Path(server.folder)
    seaweedfs.write_config(folder, {"identities": entries})
    assert seaweedfs.reload(folder)
    probe = s3_client(server, keys[list(keys)[-1]])
    deadline = time.monotonic() + 15
    while True:  # the server re-reads its configuration when signalled, not synchronously
        try:
            probe.list_objects_v2(Bucket=server.bucket, MaxKeys=1)
            return keys
        except Exception as exc:
            if "InvalidAccessKeyId" not in str(exc):
                return keys  # known to the server; refused listing, as its actions may say
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def every_domain_full_access(server: seaweedfs.LocalServer, project_root: Path) -> dict[str, dict[str, str]]:
    """Each domain of the mesh at `project_root` its own identity, with full access."""
    domains = sorted(Mesh.load(project_root).domains)
    return grant(server, project_root, {storage_identity(d): FULL_ACCESS for d in domains})


def options_with(server: seaweedfs.LocalServer, keys: dict[str, str]) -> dict[str, str]:
    """deltalake's storage options for reading `server` with one identity's keys."""
    return {"AWS_ENDPOINT_URL": server.endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": seaweedfs.REGION, **keys}


def fingerprint(table: pa.Table) -> tuple[int, int]:
    """Rows and an order-independent content hash (a sum of row hashes: duplicates count)."""
    with duckdb.connect() as con:
        con.register("port", table)
        rows, total = con.sql("SELECT count(*), coalesce(sum(hash(port)::HUGEINT), 0) FROM port").fetchone()
    return rows, int(total)


def port_fingerprints(root: str, products: list[tuple[str, str, int]], options: dict[str, str] | None = None) -> dict[str, tuple[int, int]]:
    """Each product's port (domain, name, major under `root`) read straight with deltalake."""
    found = {}
    for domain, name, major in products:
        table = DeltaTable(f"{root.rstrip('/')}/{domain}/{name}/v{major}", storage_options=options).to_pyarrow_table()
        found[f"{domain}.{name}"] = fingerprint(table)
    return found


def s3_environment(settings: dict[str, str]) -> dict[str, str]:
    """A child process's environment: the test's S3 settings, no ambient AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MESH_"))}
    return {**env, **settings}


def _publish_rounds(project_root: str, contract: str, writer: int, rounds: int) -> None:
    """A separate process publishing `rounds` whole batches to domain lab's counter port through
    the port store, as domain lab (the S3 settings come from its environment)."""
    from mesh_platform.model.contracts import parse_contract  # reason: the child process's own imports
    from mesh_platform.model.errors import PublishError  # reason: the child process's own imports
    from mesh_platform.runtime.ports.store import port_store  # reason: the child process's own imports
    from tests.helpers.publisher import batch  # reason: the child process's own imports

    store = port_store(project_root, acting="lab")
    schema = parse_contract(contract).arrow_schema()
    uri = store.uri("lab", "counter", 1)
    print("started", flush=True)
    for round_ in range(rounds):
        try:
            staged = store.stage(uri, batch(writer, round_), schema, label="lab.counter")
            print(f"published {store.publish(staged, {'mesh.product': 'lab.counter'}).version}", flush=True)
        except PublishError as exc:
            print(f"refused {exc}", flush=True)


if __name__ == "__main__":
    _publish_rounds(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
