"""Lineage across domains, from the descriptors: what a product reads, and who reads it.

Input ports are the only edges; they are declared, so the graph is known before anything runs.
"""

from __future__ import annotations

from mesh_platform.model.descriptor import Product
from mesh_platform.model.mesh import Mesh


def node(mesh: Mesh, product_id: str) -> dict:
    """A product as a lineage node: id, domain, kind and access (None for an unknown input)."""
    domain, _, name = product_id.partition(".")
    found = mesh.find(domain, name)
    return {
        "product": product_id,
        "domain": domain,
        "kind": found.kind if found else None,
        "access": found.descriptor.access if found else None,
    }


def inputs_of(mesh: Mesh, product_id: str) -> list[str]:
    domain, _, name = product_id.partition(".")
    found = mesh.find(domain, name)
    return sorted({port.id for port in found.inputs}) if found else []


def consumers_of(mesh: Mesh, product_id: str) -> list[str]:
    domain, _, name = product_id.partition(".")
    found = mesh.find(domain, name)
    return sorted(c.id for c in mesh.consumers_of(found)) if found else []


def _pins(mesh: Mesh, product_id: str) -> dict[str, int]:
    """The inputs `product_id` pins to a contract major (`fleet.aircraft@v1`)."""
    domain, _, name = product_id.partition(".")
    found = mesh.find(domain, name)
    return {port.id: port.major for port in found.inputs if port.major is not None} if found else {}


def tree(mesh: Mesh, product: Product, direction: str) -> dict:
    """The nested lineage of `product`: upstream (children under "inputs") or downstream
    (under "consumers"). An input pinned to a contract major carries `pinned_major`; a product
    already on the path is shown once more, marked `cycle`."""
    if direction not in ("upstream", "downstream"):
        raise ValueError(f"direction is upstream or downstream, not {direction!r}")
    children_key = "inputs" if direction == "upstream" else "consumers"
    step = inputs_of if direction == "upstream" else consumers_of

    def grow(product_id: str, path: tuple[str, ...], pin: int | None = None) -> dict:
        found = {**node(mesh, product_id), **({"pinned_major": pin} if pin is not None else {})}
        if product_id in path:
            return {**found, "cycle": True, children_key: []}
        pins = _pins(mesh, product_id) if direction == "upstream" else {}
        return {**found, children_key: [grow(child, path + (product_id,), pins.get(child)) for child in step(mesh, product_id)]}

    return grow(product.id, ())


def levels(mesh: Mesh, product: Product) -> dict[str, int]:
    """Every product in the lineage of `product`, with its column in a picture: inputs at
    negative levels (-1: read directly), the product at 0, consumers at positive levels. A
    product reachable by paths of several lengths sits at its farthest level, so every edge
    points rightwards."""
    placed: dict[str, int] = {product.id: 0}
    for sign, step in ((-1, inputs_of), (1, consumers_of)):
        depth: dict[str, int] = {}
        frontier, distance, limit = [product.id], 0, len(mesh.product_ids())
        while frontier and distance < limit:  # the limit ends a cycle's walk
            distance += 1
            frontier = sorted({child for current in frontier for child in step(mesh, current)} - {product.id})
            for child in frontier:
                depth[child] = distance
        for product_id, d in depth.items():
            if product_id not in placed:
                placed[product_id] = sign * d
    return placed


def edges(mesh: Mesh, product_ids: set[str]) -> list[tuple[str, str]]:
    """Input edges (producer, consumer) among `product_ids`."""
    return sorted((source, target) for target in product_ids for source in inputs_of(mesh, target) if source in product_ids)
