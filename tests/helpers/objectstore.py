"""A real S3 server for tests marked `objectstore`: the platform's own local SeaweedFS
(runtime/objectstore/seaweedfs.py), started on free loopback ports in the test's folder with the
platform identity, and stopped with every process of its group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mesh_platform.model.access import PLATFORM_IDENTITY
from mesh_platform.runtime.objectstore import seaweedfs
from mesh_platform.runtime.objectstore.credentials import ensure_identity

MASKING_KEY = "objectstore-tests-shared-masking-key"


def identity_entry(name: str, keys: dict[str, str], actions: list[str]) -> dict:
    return {"name": name, "credentials": [{"accessKey": keys["AWS_ACCESS_KEY_ID"], "secretKey": keys["AWS_SECRET_ACCESS_KEY"]}], "actions": actions}


@contextmanager
def local_s3(home: Path, project_root: Path, bucket: str = "mesh") -> Iterator[seaweedfs.LocalServer]:
    """A SeaweedFS serving S3 on a free port, data under `home/objectstore`, with the platform's
    identity (keys under `home/identities`; MESH_HOME must be `home` for `ensure_identity`)."""
    admin = ensure_identity(project_root, PLATFORM_IDENTITY)
    config = {"identities": [identity_entry(PLATFORM_IDENTITY, admin, ["Admin", "Read", "Write", "List", "Tagging"])]}
    server = seaweedfs.start(home / "objectstore", config, s3_port=seaweedfs.free_port_with_grpc(), bucket=bucket)
    try:
        yield server
    finally:
        seaweedfs.stop(home / "objectstore")


def s3_settings(server: seaweedfs.LocalServer, home: Path, prefix: str = "ports") -> dict[str, str]:
    """The environment that points mesh commands at `server` (identities under `home`)."""
    return {
        **server.storage_settings(prefix),
        "MESH_HOME": str(home),
        "MESH_STORAGE_IDENTITIES": str(home / "identities"),
        "MESH_MASKING_KEY": MASKING_KEY,
    }


def s3_client(server: seaweedfs.LocalServer, keys: dict[str, str]):
    """A raw S3 client with one identity's keys: reads and writes that bypass the platform."""
    import boto3  # reason: test-only dependency, loaded by the tests that talk S3 themselves
    from botocore.config import Config  # reason: comes with boto3

    return boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], region_name=seaweedfs.REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def options_json(server: seaweedfs.LocalServer) -> str:
    return json.dumps({"AWS_ENDPOINT_URL": server.endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": seaweedfs.REGION})
