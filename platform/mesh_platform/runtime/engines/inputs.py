"""What a dbt domain's input ports are, for every engine: dbt sources are per domain."""

from __future__ import annotations

from mesh_platform.model.errors import MeshError
from mesh_platform.model.names import product_id


def pinned_major(mesh, reader: str, key: tuple[str, str]) -> int | None:
    """The major the reading domain's products pin for an input (dbt sources are per domain)."""
    domain = mesh.domains.get(reader)
    pins = {port.major for p in (domain.products.values() if domain else ()) for port in p.inputs if port.key == key}
    if len(pins) > 1:
        raise MeshError(
            f"domain {reader!r} reads {product_id(*key)} at several majors ({', '.join('current' if m is None else f'v{m}' for m in pins)}); "
            "its dbt sources are shared by its products, so they must pin the same major"
        )
    return next(iter(pins), None)
