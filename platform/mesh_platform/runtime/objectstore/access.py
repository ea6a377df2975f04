"""`mesh access apply`: give the local object store the identities the access policies call for.

Every identity (the platform's, one per domain) gets its keys once (credentials.py: kept across
applies, so running code locations stay signed in), then the server's whole identity
configuration is rewritten from the policies and reloaded when it runs. The policies are the
only source: an identity the mesh no longer has, or a grant no policy asks for, disappears.
What changed is reported by identity name and action, never by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.storage_grants import storage_grants
from mesh_platform.runtime.objectstore import seaweedfs
from mesh_platform.runtime.objectstore.credentials import ensure_identity
from mesh_platform.runtime.objectstore.policy_documents import aws_iam_policies, configured_actions, seaweedfs_config, split_root
from mesh_platform.runtime.settings import STORAGE_OPTIONS_ENV, identity_file, mesh_home, storage_options, storage_root

LOCAL_SERVER_FOLDER = "objectstore"  # under MESH_HOME: the local server's data and s3.json


def local_server_folder(project_root: str | Path) -> Path:
    return mesh_home(project_root) / LOCAL_SERVER_FOLDER


@dataclass(frozen=True)
class AccessChange:
    """What one apply changed on the server, by identity name and action (never a key)."""

    config: Path
    reloaded: bool  # False: no local server runs; it reads the configuration when it starts
    keys_created: tuple[str, ...] = ()
    identities_added: tuple[str, ...] = ()
    identities_removed: tuple[str, ...] = ()
    granted: dict[str, tuple[str, ...]] = field(default_factory=dict)  # identity -> actions it gained
    revoked: dict[str, tuple[str, ...]] = field(default_factory=dict)  # identity -> actions it lost
    warning: str | None = None  # what the grants could not take into account

    @property
    def changed(self) -> bool:
        return bool(self.keys_created or self.identities_added or self.identities_removed or self.granted or self.revoked)


def require_whole_mesh(mesh: Mesh) -> None:
    """Grants come from every product's policy: with a domain that does not load, applying would
    silently revoke what its products grant to others. Refused in one line, naming the folder."""
    for folder, problem in sorted(mesh.broken.items()):
        raise MeshError(
            f"{folder} does not load ({' '.join(str(problem).split())}): the policies of its products are unknown "
            "and applying without them would revoke what they grant; fix it (`mesh validate`) and apply again"
        )


def require_server_endpoint() -> None:
    """The server configuration is for an S3-compatible server the mesh was pointed at. Without an
    endpoint the ports are on AWS S3, whose identities are IAM's: keys made up here would only
    shadow each location's real credentials (settings.py prefers an identity's file)."""
    if not storage_options().get("AWS_ENDPOINT_URL"):
        raise MeshError(
            f"no AWS_ENDPOINT_URL in {STORAGE_OPTIONS_ENV}: the ports are on AWS S3, whose identities are IAM roles, not a "
            "server configuration; print their policies with `mesh access apply --format aws-iam`"
        )


def projected_products(project_root: str | Path, mesh: Mesh) -> frozenset[str] | None:
    """The products that have published a masked projection (read as the platform): their raw
    ports hold personal values, so readers without personal-data rights keep the projection only,
    even once the working tree's contract no longer marks a column personal. None: the store cannot
    be read (a first apply, before the server starts; the server down)."""
    from mesh_platform.runtime.ports.store import port_store  # reason: the port store loads only when grants are applied

    try:
        store = port_store(project_root)  # no platform keys yet (a first apply) is unreadable too
        return frozenset(p.id for p in mesh.products() if store.published_majors(p.domain, p.name, masked=True))
    except MeshError:
        return None


def server_config(project_root: str | Path, mesh: Mesh) -> tuple[dict, tuple[str, ...]]:
    """The local server's identity configuration for the mesh's policies, and the identities
    whose keys were created for it (the others keep theirs)."""
    root = storage_root(project_root)
    split_root(root)  # refused before any key is created
    projected = projected_products(project_root, mesh)
    grants = storage_grants(mesh, projected or frozenset())
    created = tuple(identity for identity in grants if not identity_file(project_root, identity).is_file())
    keys = {identity: ensure_identity(project_root, identity) for identity in grants}
    unread = None if projected is not None else (
        "the store could not be read: grants follow the working tree's contracts only, not the masked "
        "projections already published; apply again once the store answers")
    return seaweedfs_config(grants, root, keys), created, unread


def apply_access(project_root: str | Path, mesh: Mesh) -> AccessChange:
    """Write the local server's identities from the policies and reload it if it runs."""
    require_whole_mesh(mesh)
    split_root(storage_root(project_root))  # a local root is refused first: it needs no endpoint either
    require_server_endpoint()
    config, created, unread = server_config(project_root, mesh)
    folder = local_server_folder(project_root)
    before = configured_actions(seaweedfs.read_config(folder))
    path = seaweedfs.write_config(folder, config)
    reloaded = seaweedfs.reload(folder)
    after = configured_actions(config)
    return AccessChange(
        config=path,
        reloaded=reloaded,
        keys_created=created,
        identities_added=tuple(name for name in after if name not in before),
        identities_removed=tuple(sorted(name for name in before if name not in after)),
        granted=_changed(after, before),
        revoked=_changed(before, after),
        warning=unread,
    )


def iam_policies(project_root: str | Path, mesh: Mesh) -> dict[str, dict]:
    """Identity -> AWS IAM policy document, for an external S3 (`--format aws-iam`): the same
    grants, attached by the operator's own tooling. No key is created, nothing is written."""
    require_whole_mesh(mesh)
    return aws_iam_policies(storage_grants(mesh, projected_products(project_root, mesh) or frozenset()), storage_root(project_root))


def _changed(these: dict[str, set[str]], those: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """Identity -> actions of `these` that `those` lacks (all of them for an identity `those` lacks)."""
    found = {name: tuple(sorted(actions - those.get(name, set()))) for name, actions in these.items()}
    return {name: actions for name, actions in found.items() if actions}
