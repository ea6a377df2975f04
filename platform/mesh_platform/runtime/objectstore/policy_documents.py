"""The storage grants (model/storage_grants.py) written in the language of a store: SeaweedFS's
identity configuration (`s3.json`, the local server `mesh access apply` configures) and AWS IAM
policy documents (one per identity, for an external S3 the operator applies with AWS's own tools).

Grants are relative to the storage root; here they become bucket keys. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from mesh_platform.model.errors import MeshError
from mesh_platform.model.storage_grants import ADMIN, LIST, READ, WRITE, Grant
from mesh_platform.runtime.objectstore.seaweedfs import GENERATION_IDENTITY
from mesh_platform.runtime.settings import STORAGE_ROOT_ENV

# The platform's identity is the operator's: every action on every bucket of the local server.
SEAWEEDFS_ADMIN_ACTIONS = ("Admin", "Read", "Write", "List", "Tagging")
_SEAWEEDFS_ACTION = {READ: "Read", LIST: "List", WRITE: "Write"}
IAM_VERSION = "2012-10-17"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")  # S3's bucket naming rules


def split_root(root: str) -> tuple[str, str]:
    """(bucket, key prefix) of an `s3://bucket[/prefix]` storage root; the prefix is '' or ends in
    '/'. Any other root is refused in one line: only an S3 store checks identities."""
    parts = urlsplit(root)
    if parts.scheme != "s3" or not parts.netloc:
        where = "a folder of this machine, guarded by its file permissions only" if "://" not in root or root.startswith("file://") else "not an S3 store"
        raise MeshError(f"storage identities are enforced by an S3 store, but {STORAGE_ROOT_ENV} is {root!r} ({where}); set it to s3://bucket/prefix")
    if not _BUCKET.fullmatch(parts.netloc):
        raise MeshError(f"{STORAGE_ROOT_ENV} {root!r}: {parts.netloc!r} is not an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)")
    path = parts.path[1:].removesuffix("/")  # the ports' keys start after the bucket's '/'
    for segment in path.split("/") if path else ():
        # A grant is a key prefix: an empty, '.', '..' or wildcard segment would shift or widen it.
        if segment in ("", ".", "..") or any(c in segment for c in "*?"):
            raise MeshError(f"{STORAGE_ROOT_ENV} {root!r}: its key prefix has a segment {segment!r}; expected plain folder names")
    if parts.query or parts.fragment:
        raise MeshError(f"{STORAGE_ROOT_ENV} {root!r}: expected s3://bucket/prefix, without '?' or '#'")
    prefix = path
    return parts.netloc, f"{prefix}/" if prefix else ""


def seaweedfs_config(grants: Mapping[str, frozenset[Grant]], root: str, keys: Mapping[str, Mapping[str, str]]) -> dict:
    """SeaweedFS's identity configuration: each identity with its keys (AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY) and its actions, `Read:<bucket>/<prefix><grant prefix>*`."""
    bucket, prefix = split_root(root)
    identities = []
    for identity, granted in grants.items():
        actions: list[str] = []
        for grant in sorted(granted):
            if grant.action == ADMIN:
                actions += SEAWEEDFS_ADMIN_ACTIONS
            else:
                actions.append(f"{_SEAWEEDFS_ACTION[grant.action]}:{bucket}/{prefix}{grant.prefix}*")
        credentials = keys[identity]
        identities.append({
            "name": identity,
            "credentials": [{"accessKey": credentials["AWS_ACCESS_KEY_ID"], "secretKey": credentials["AWS_SECRET_ACCESS_KEY"]}],
            "actions": actions,
        })
    return {"identities": identities}


def configured_actions(config: object) -> dict[str, set[str]]:
    """Identity -> actions of a SeaweedFS configuration (what a server was last given); anything
    that is not one reads as no identity at all."""
    identities = config.get("identities") if isinstance(config, dict) else None
    found: dict[str, set[str]] = {}
    for entry in identities if isinstance(identities, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] != GENERATION_IDENTITY:
            actions = entry.get("actions")
            found[entry["name"]] = {a for a in actions if isinstance(a, str)} if isinstance(actions, list) else set()
    return found


def aws_iam_policies(grants: Mapping[str, frozenset[Grant]], root: str) -> dict[str, dict]:
    """Identity -> its AWS IAM policy document (attach each to that identity's role or user):
    s3:GetObject on what it reads, s3:ListBucket limited by an `s3:prefix` condition to what it
    lists, s3:PutObject/DeleteObject (and multipart clean-up) under its own domain only."""
    bucket, prefix = split_root(root)
    objects = f"arn:aws:s3:::{bucket}/{prefix}"
    policies = {}
    for identity, granted in grants.items():
        by_action = {action: sorted(g.prefix for g in granted if g.action == action) for action in (READ, LIST, WRITE, ADMIN)}
        if by_action[ADMIN]:
            # The operator's identity: everything under the mesh's root, nothing else in the account.
            by_action = {READ: [""], LIST: [""], WRITE: [""]}
        statements = []
        if by_action[WRITE]:
            statements.append(_statement("WritePorts", ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                                         [f"{objects}{p}*" for p in by_action[WRITE]]))
        if by_action[READ]:
            statements.append(_statement("ReadPorts", ["s3:GetObject"], [f"{objects}{p}*" for p in by_action[READ]]))
        if by_action[LIST]:
            listing = _statement("ListPorts", ["s3:ListBucket"], [f"arn:aws:s3:::{bucket}"])
            listed = [f"{prefix}{p}*" for p in by_action[LIST]]
            if listed != ["*"]:  # a list of the whole bucket needs no condition; anything less does
                listing["Condition"] = {"StringLike": {"s3:prefix": listed}}
            statements.append(listing)
        policies[identity] = {"Version": IAM_VERSION, "Statement": statements}
    return policies


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}

