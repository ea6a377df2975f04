"""Faults of a real S3 server, as a user of the mesh meets them: the server killed during a
publish (the port keeps its last good version; after a restart the next build completes), the
server unreachable, and a domain's keys wrong, missing or refused — each said in one line that
names the endpoint, the domain's identity or the port.

Domains act with identities of their own (tests/helpers/s3_mesh.py gives each full access, then
the tests take some away)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.objectstore import seaweedfs
from mesh_platform.runtime.ports.store import port_store
from tests.conftest import BIN, ROOT, mesh_env
from tests.helpers.objectstore import local_s3, s3_client, s3_settings
from tests.helpers.s3_mesh import every_domain_full_access, fingerprint, grant, options_with, s3_environment

pytestmark = pytest.mark.objectstore

FLIGHTS = "ports/flight_operations/flights/v1"
BUILT = ["-d", "shared", "-d", "flight_operations"]


def mesh(args: list[str], env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "mesh"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def failure_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(("error:", "failed:"))]


@pytest.fixture
def s3(tmp_path, monkeypatch):
    home = tmp_path / "mesh_home"
    monkeypatch.setenv("MESH_HOME", str(home))
    monkeypatch.delenv("MESH_STORAGE_IDENTITIES", raising=False)
    with local_s3(home, ROOT) as server:
        keys = every_domain_full_access(server, ROOT)
        yield server, home, keys, s3_environment(mesh_env(home, **s3_settings(server, home)))


def staged_folders(client, bucket: str) -> set[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{FLIGHTS}/w-", Delimiter="/")
    return {p["Prefix"] for p in listed.get("CommonPrefixes", [])}


def test_a_server_killed_during_a_publish_leaves_the_last_good_version_and_the_next_build_completes(s3):
    server, home, keys, env = s3
    first = mesh(["build", *BUILT], env)
    assert first.returncode == 0, first.stdout + first.stderr
    options = options_with(server, keys["platform"])
    good = fingerprint(DeltaTable(f"s3://{server.bucket}/{FLIGHTS}", storage_options=options).to_pyarrow_table())
    client = s3_client(server, keys["platform"])
    before = staged_folders(client, server.bucket)

    rebuild = subprocess.Popen([str(BIN / "mesh"), "build", "-d", "flight_operations"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not staged_folders(client, server.bucket) - before:  # the publish has begun writing its files
        assert rebuild.poll() is None and time.monotonic() < deadline, "the rebuild never staged a batch"
        time.sleep(0.05)
    os.killpg(server.pid, signal.SIGKILL)  # the whole server, mid-publish
    out, err = rebuild.communicate(timeout=600)
    assert rebuild.returncode == 1, out + err
    # Said in one line each, naming the endpoint; never deltalake's multi-line reply.
    lines = failure_lines(subprocess.CompletedProcess(rebuild.args, 1, out, err))
    assert lines and any(server.endpoint in line for line in lines), err
    assert "\x1b[" not in err and "↳" not in err

    seaweedfs.stop(Path(server.folder))  # collects what the kill left (its state, the zombie)
    restarted = seaweedfs.start(Path(server.folder), json.loads((Path(server.folder) / "s3.json").read_text()),
                                s3_port=server.s3_port, bucket=server.bucket)
    table = DeltaTable(f"s3://{server.bucket}/{FLIGHTS}", storage_options=options)
    assert table.version() == 0 and fingerprint(table.to_pyarrow_table()) == good  # the last good version, whole
    again = mesh(["build", "-d", "flight_operations"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    table = DeltaTable(f"s3://{server.bucket}/{FLIGHTS}", storage_options=options)
    assert table.version() == 1 and fingerprint(table.to_pyarrow_table()) == good
    assert restarted.pid != server.pid


def test_an_unreachable_store_stops_the_build_in_one_line_naming_the_endpoint(s3):
    server, home, keys, env = s3
    closed = seaweedfs.free_port_with_grpc()
    elsewhere = {**env, "MESH_STORAGE_OPTIONS": json.dumps({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed}", "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1"})}
    result = mesh(["build", "-d", "fleet"], elsewhere, timeout=120)
    assert result.returncode == 1
    assert failure_lines(result) == [
        f"error: the object store at http://127.0.0.1:{closed} is unreachable (MESH_STORAGE_OPTIONS AWS_ENDPOINT_URL): "
        "is it running, and is the endpoint right? (reaching s3://mesh/ports/fleet)"
    ], result.stderr


def test_wrong_or_missing_keys_stop_the_build_in_one_line_naming_the_domains_identity(s3, tmp_path):
    server, home, keys, env = s3
    # Each domain's keys are its own file: break fleet's only, in a copy of the identities folder.
    copied = tmp_path / "identities"
    copied.mkdir(mode=0o700)
    for path in (home / "identities").glob("*.json"):
        (copied / path.name).write_text(path.read_text())
    fleet = copied / "domain-fleet.json"
    env = {**env, "MESH_STORAGE_IDENTITIES": str(copied)}
    for broken, says in (
        ({**keys["domain-fleet"], "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "does not accept the keys of storage identity 'domain-fleet'"),
        ({"AWS_ACCESS_KEY_ID": "MESHUNKNOWN0000", "AWS_SECRET_ACCESS_KEY": "x"}, "does not accept the keys of storage identity 'domain-fleet'"),
    ):
        fleet.write_text(json.dumps({"access_key_id": broken["AWS_ACCESS_KEY_ID"], "secret_access_key": broken["AWS_SECRET_ACCESS_KEY"]}))
        result = mesh(["build", "-d", "fleet"], env, timeout=120)
        assert result.returncode == 1
        lines = failure_lines(result)
        assert len(lines) == 1 and says in lines[0] and server.endpoint in lines[0], result.stderr
        assert "not-the-secret" not in result.stderr + result.stdout
    fleet.unlink()
    result = mesh(["build", "-d", "fleet"], env, timeout=120)
    assert result.returncode == 1
    assert failure_lines(result) == [
        # Beside the other identities' keys, a missing one is a mistake: never any other keys instead.
        f"error: no storage credentials for identity 'domain-fleet': {fleet} is missing beside the other identities' keys "
        "(`mesh access apply` writes it)"
    ], result.stderr


def test_a_refused_identity_is_named_with_the_port_it_was_refused(s3, monkeypatch):
    server, home, keys, env = s3
    first = mesh(["build", "-d", "shared"], env)
    assert first.returncode == 0, first.stdout + first.stderr
    # domain-fleet may now read nothing but its own folder.
    grant(server, ROOT, {"domain-fleet": [f"Read:{server.bucket}/ports/fleet/*", f"List:{server.bucket}/ports/fleet/*"]})
    for name, value in s3_settings(server, home).items():
        monkeypatch.setenv(name, value)
    store = port_store(ROOT, acting="fleet")
    uri = store.uri("shared", "airports", 1)
    with pytest.raises(MeshError) as refused:
        store.locate(uri, "shared.airports")
    assert str(refused.value) == f"storage identity 'domain-fleet' is refused by the object store at {server.endpoint}: access denied to {uri}"
    # The platform's own identity still reads it; the refusal was the store's, for that identity.
    assert port_store(ROOT).locate(uri, "shared.airports").version == 0
