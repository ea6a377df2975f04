"""`mesh storage start|stop|status`: a local S3-compatible object store for a laptop deployment.

The server (SeaweedFS, runtime/objectstore/seaweedfs.py) runs in its own process group on
loopback, its data and identity configuration under `<MESH_HOME>/objectstore`, and starts with the
platform's identity only (its keys created once under the identities folder). `start` prints the
settings that point the mesh at it; `mesh access apply` (another command) gives each domain its own
identity there. The commands are thin: the library does the work, and tests call it directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mesh_platform.cli.common import ProjectOption, console, fail
from mesh_platform.cli.common import project_root as _root
from mesh_platform.model.access import PLATFORM_IDENTITY
from mesh_platform.model.errors import MeshError
from mesh_platform.runtime.settings import (
    IDENTITIES_ENV, MASKING_KEY_ENV, STORAGE_OPTIONS_ENV, STORAGE_ROOT_ENV, identities_dir,
)

storage_app = typer.Typer(help="Run a local S3-compatible object store for the mesh's ports.", no_args_is_help=True)

# What the platform identity may do on its own server: everything (it creates the bucket's
# folders, writes the identities of `mesh access apply`, reads every port for the catalog).
PLATFORM_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]


def server_folder(root: Path) -> Path:
    # The one place that names the folder: `mesh access apply` writes its identities there too.
    from mesh_platform.runtime.objectstore.access import local_server_folder  # reason: the objectstore modules load for `mesh storage` only

    return local_server_folder(root)


def platform_config(root: Path) -> dict:
    """The server's identity configuration at start: the platform's identity, and the domains'
    identities a previous `mesh access apply` gave it (a restart must not sign every domain out)."""
    from mesh_platform.runtime.objectstore import seaweedfs  # reason: the server module loads for `mesh storage` only
    from mesh_platform.runtime.objectstore.credentials import ensure_identity  # reason: only `start` creates keys

    keys = ensure_identity(root, PLATFORM_IDENTITY)
    entry = {"accessKey": keys["AWS_ACCESS_KEY_ID"], "secretKey": keys["AWS_SECRET_ACCESS_KEY"]}
    kept = [i for i in seaweedfs.read_config(server_folder(root)).get("identities") or []
            if isinstance(i, dict) and i.get("name") not in (PLATFORM_IDENTITY, seaweedfs.GENERATION_IDENTITY)]
    return {"identities": [{"name": PLATFORM_IDENTITY, "credentials": [entry], "actions": PLATFORM_ACTIONS}, *kept]}


def settings_lines(server, root: Path) -> list[str]:
    """The shell lines that point mesh commands at `server` (no key: each identity has its file)."""
    import shlex  # reason: only `start` and `status` quote settings

    settings = server.storage_settings()
    lines = [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]
    lines.append(f"export {IDENTITIES_ENV}={shlex.quote(str(identities_dir(root)))}")
    return lines


def _show(server, root: Path, verb: str) -> None:
    console.print(f"{verb} the local object store on {server.endpoint} (bucket {server.bucket!r}, data in {server.folder})")
    console.print("Point the mesh at it (every shell and code location that builds or reads ports):")
    for line in settings_lines(server, root):
        console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"  export {MASKING_KEY_ENV}=<one secret shared by every code location; required with ports on an object store>",
        soft_wrap=True, markup=False, highlight=False,
    )
    console.print(f"Keys: one file per storage identity in {identities_dir(root)} (owner-only); "
                  f"`mesh access apply` gives each domain its own identity.", soft_wrap=True)


@storage_app.command()
def start(
    port: Annotated[int, typer.Option("--port", help="The S3 port on 127.0.0.1 (its gRPC twin, port + 10000, must be free too).")] = 8333,
    project: ProjectOption = None,
) -> None:
    """Start the local object store (or show the running one) and print the settings to export."""
    from mesh_platform.runtime.objectstore import seaweedfs  # reason: the server module loads for `mesh storage` only

    root = _root(project)
    if not 1 <= port <= 55535:
        fail(f"--port {port}: expected a TCP port from 1 to 55535 (its gRPC twin is port + 10000)")
    running = seaweedfs.status(server_folder(root))
    try:
        server = running or seaweedfs.start(server_folder(root), platform_config(root), s3_port=port)
    except MeshError as exc:
        fail(str(exc))
    _show(server, root, "Running" if running else "Started")


@storage_app.command()
def stop(project: ProjectOption = None) -> None:
    """Stop the local object store and every process it started (its data stays)."""
    from mesh_platform.runtime.objectstore import seaweedfs  # reason: the server module loads for `mesh storage` only

    root = _root(project)
    if seaweedfs.stop(server_folder(root)):
        console.print(f"Stopped the local object store (data kept in {server_folder(root)}).")
    else:
        console.print(f"No local object store is running for this mesh ({server_folder(root)}).")


@storage_app.command()
def status(project: ProjectOption = None) -> None:
    """Say whether the local object store runs, where, and the settings that point at it."""
    from mesh_platform.runtime.objectstore import seaweedfs  # reason: the server module loads for `mesh storage` only

    root = _root(project)
    server = seaweedfs.status(server_folder(root))
    if server is None:
        console.print(f"No local object store is running for this mesh; `mesh storage start` starts one in {server_folder(root)}.")
        raise typer.Exit(code=3)  # scripts tell "not running" from an error (1)
    _show(server, root, "Running")
    roots = (STORAGE_ROOT_ENV, STORAGE_OPTIONS_ENV)
    console.print(f"(This shell's {' and '.join(roots)} decide whether mesh commands use it.)")
