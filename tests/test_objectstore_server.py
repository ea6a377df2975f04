"""The local object store the mesh starts itself: a real SeaweedFS on loopback, with identities."""

from __future__ import annotations

import os

import pytest

from mesh_platform.model.access import PLATFORM_IDENTITY
from mesh_platform.runtime.objectstore import seaweedfs
from mesh_platform.runtime.objectstore.credentials import ensure_identity
from mesh_platform.runtime.settings import identity_file
from tests.conftest import ROOT, group_ends
from tests.helpers.objectstore import identity_entry, local_s3, s3_client

pytestmark = pytest.mark.objectstore


def test_the_store_serves_only_known_identities_and_reloads_them_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
    with local_s3(tmp_path, ROOT) as server:
        admin = s3_client(server, ensure_identity(ROOT, PLATFORM_IDENTITY))
        admin.put_object(Bucket=server.bucket, Key="ports/a/p/v1/f", Body=b"rows")
        # Keys files are the owner's alone: they are the identities' secrets.
        assert oct(identity_file(ROOT, PLATFORM_IDENTITY).stat().st_mode & 0o777) == "0o600"
        newcomer = ensure_identity(ROOT, "domain-a")
        with pytest.raises(Exception, match="InvalidAccessKeyId"):
            s3_client(server, newcomer).get_object(Bucket=server.bucket, Key="ports/a/p/v1/f")
        config = {"identities": [
            identity_entry(PLATFORM_IDENTITY, ensure_identity(ROOT, PLATFORM_IDENTITY), ["Admin", "Read", "Write", "List"]),
            identity_entry("domain-a", newcomer, [f"Read:{server.bucket}/ports/a/*"]),
        ]}
        seaweedfs.write_config(tmp_path / "objectstore", config)
        assert seaweedfs.reload(tmp_path / "objectstore")
        # `reload` returns once the server serves the new identities: no wait after it.
        client = s3_client(server, newcomer)
        assert client.get_object(Bucket=server.bucket, Key="ports/a/p/v1/f")["Body"].read() == b"rows"
        with pytest.raises(Exception, match="AccessDenied"):
            client.put_object(Bucket=server.bucket, Key="ports/a/p/v1/g", Body=b"x")
        pid = server.pid
    # Stopped with its whole process group.
    assert group_ends(pid, 10)
    assert seaweedfs.status(tmp_path / "objectstore") is None


def test_a_second_start_in_the_same_folder_reuses_the_running_server(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    with local_s3(tmp_path, ROOT) as server:
        with pytest.raises(Exception, match="without identities"):
            seaweedfs.start(tmp_path / "objectstore", {"identities": []}, s3_port=server.s3_port)
        admin = ensure_identity(ROOT, PLATFORM_IDENTITY)
        config = {"identities": [identity_entry(PLATFORM_IDENTITY, admin, ["Admin", "Read", "Write", "List"])]}
        again = seaweedfs.start(tmp_path / "objectstore", config, s3_port=server.s3_port)
        assert again.pid == server.pid
        assert os.path.exists(tmp_path / "objectstore" / "server.json")
        s3_client(server, admin).put_object(Bucket=server.bucket, Key="still/served", Body=b"x")
