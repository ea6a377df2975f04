"""What the store's options (deltalake's `AWS_*` names: `MESH_STORAGE_OPTIONS` plus an identity's
keys, runtime/settings.py `storage_options_for`) mean to the other S3 clients of a port: pyarrow's
S3FileSystem (runtime/ports/delta.py) and DuckDB's S3 secrets (runtime/engines/duckdb_ports.py).
One reading of the options for all three, so a port is reached with the same identity, endpoint
and region whichever library touches it. Pure: no client is built here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class S3Access:
    key_id: str | None  # None: no keys given, the store's own credential chain applies
    secret: str | None
    session_token: str | None
    region: str | None
    host: str | None  # a custom endpoint's host[:port] (SeaweedFS, MinIO, R2); None: AWS's own
    use_ssl: bool

    @property
    def has_keys(self) -> bool:
        return bool(self.key_id and self.secret)


def s3_access(options: Mapping[str, str]) -> S3Access:
    key, secret = options.get("AWS_ACCESS_KEY_ID") or None, options.get("AWS_SECRET_ACCESS_KEY") or None
    endpoint = options.get("AWS_ENDPOINT_URL")
    host, use_ssl = None, True
    if endpoint:
        scheme, sep, rest = endpoint.partition("://")
        host = rest.rstrip("/") if sep else endpoint.rstrip("/")
        use_ssl = scheme != "http" if sep else str(options.get("AWS_ALLOW_HTTP", "")).lower() != "true"
    region = options.get("AWS_REGION") or options.get("AWS_DEFAULT_REGION") or None
    return S3Access(key, secret, options.get("AWS_SESSION_TOKEN") or None, region, host, use_ssl)


def pyarrow_arguments(options: Mapping[str, str]) -> dict:
    """pyarrow's S3FileSystem arguments. With keys in the options, only those (never pyarrow's
    ambient chain, which would act as whatever identity the environment holds); without, the
    store's own credential chain, as deltalake does (a deployment giving each workload its role)."""
    access = s3_access(options)
    arguments: dict = {"allow_bucket_creation": False, "allow_bucket_deletion": False, "connect_timeout": 2, "request_timeout": 30}
    if access.has_keys:
        arguments.update(access_key=access.key_id, secret_key=access.secret, session_token=access.session_token)
    if access.region:
        arguments["region"] = access.region  # named: pyarrow would otherwise ask AWS where the bucket is
    if access.host:
        arguments.update(endpoint_override=access.host, scheme="https" if access.use_ssl else "http")
    return arguments
