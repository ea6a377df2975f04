"""`mesh storage start|stop|status`: the local object store a laptop deployment runs, started
and stopped by the real `mesh` command (its own process group, loopback, data under MESH_HOME)."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from mesh_platform.model.access import PLATFORM_IDENTITY
from mesh_platform.runtime.objectstore import seaweedfs
from mesh_platform.runtime.settings import read_identity
from tests.conftest import BIN, ROOT, group_ends, mesh_env
from tests.helpers.objectstore import s3_client

pytestmark = pytest.mark.objectstore


def storage(args: list[str], home) -> subprocess.CompletedProcess:
    env = mesh_env(home)
    env.pop("MESH_STORAGE_IDENTITIES", None)
    return subprocess.run([str(BIN / "mesh"), "storage", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def exported(output: str) -> dict[str, str]:
    """The settings `start` tells the user to export, parsed as a shell would."""
    found = {}
    for line in output.splitlines():
        words = shlex.split(line.strip())
        if words[:1] == ["export"] and "=" in words[1] and not words[1].endswith(">"):
            name, _, value = words[1].partition("=")
            found[name] = value
    return found


def test_storage_start_prints_the_settings_and_stop_ends_the_server_and_its_group(tmp_path):
    home = tmp_path / "mesh_home"
    port = seaweedfs.free_port_with_grpc()
    started = storage(["start", "--port", str(port)], home)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        settings = exported(started.stdout)
        assert settings["MESH_STORAGE_ROOT"] == "s3://mesh/ports"
        assert json.loads(settings["MESH_STORAGE_OPTIONS"]) == {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1"}
        assert settings["MESH_STORAGE_IDENTITIES"] == str(home / "identities")
        assert "MESH_MASKING_KEY" in started.stdout
        # The platform's keys are in their owner-only file, never printed; the store accepts them.
        keys = read_identity(home / "identities" / f"{PLATFORM_IDENTITY}.json", PLATFORM_IDENTITY)
        assert keys["AWS_SECRET_ACCESS_KEY"] not in started.stdout and keys["AWS_ACCESS_KEY_ID"] not in started.stdout
        server = seaweedfs.status(home / "objectstore")
        s3_client(server, keys).put_object(Bucket="mesh", Key="ports/probe", Body=b"x")
        # Data and configuration under MESH_HOME; a second start shows the running one.
        assert (home / "objectstore" / "s3.json").is_file() and (home / "objectstore" / "data").is_dir()
        again = storage(["start", "--port", str(port)], home)
        assert again.returncode == 0 and again.stdout.startswith("Running") and seaweedfs.status(home / "objectstore").pid == server.pid
        status = storage(["status"], home)
        assert status.returncode == 0 and f"http://127.0.0.1:{port}" in status.stdout
    finally:
        stopped = storage(["stop"], home)
    assert stopped.returncode == 0 and stopped.stdout.startswith("Stopped"), stopped.stdout + stopped.stderr
    assert group_ends(server.pid, 10)
    after = storage(["status"], home)
    assert after.returncode == 3 and "No local object store is running" in after.stdout
    assert storage(["stop"], home).stdout.startswith("No local object store")


def test_storage_start_refuses_a_port_in_use_in_one_line(tmp_path):
    import socket  # reason: only this test holds a port

    port = seaweedfs.free_port_with_grpc()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = storage(["start", "--port", str(port)], tmp_path / "mesh_home")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot start the local object store: port {port} (or its gRPC port {port + 10000}) on 127.0.0.1 is in use"]


def test_a_restart_keeps_the_identities_access_apply_gave_the_store(tmp_path):
    home = tmp_path / "mesh_home"
    port = seaweedfs.free_port_with_grpc()
    started = storage(["start", "--port", str(port)], home)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        settings = exported(started.stdout)
        applied = subprocess.run([str(BIN / "mesh"), "access", "apply"], cwd=ROOT, env={**mesh_env(home), **settings},
                                 capture_output=True, text=True, timeout=300)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        fleet = read_identity(home / "identities" / "domain-fleet.json", "domain-fleet")
        assert storage(["stop"], home).returncode == 0
        restarted = storage(["start", "--port", str(port)], home)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        # The domain's keys still open its own folder: a restart does not sign the code locations out.
        server = seaweedfs.status(home / "objectstore")
        s3_client(server, fleet).put_object(Bucket="mesh", Key="ports/fleet/probe", Body=b"x")
        # The folder of the store's data and keys is the owner's alone.
        assert oct((home / "objectstore").stat().st_mode & 0o777) == "0o700"
    finally:
        storage(["stop"], home)


def test_a_stale_pid_of_another_program_is_never_taken_for_the_server(tmp_path):
    folder = tmp_path / "objectstore"
    folder.mkdir()
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        # As a reboot leaves it: the recorded pid now belongs to another program.
        (folder / "server.json").write_text(json.dumps({"folder": str(folder), "pid": other.pid, "s3_port": 1, "filer_port": 2, "bucket": "mesh"}))
        assert seaweedfs.status(folder) is None
        assert seaweedfs.stop(folder) is False and other.poll() is None
    finally:
        other.kill()
        other.wait()
