"""A port's contract majors, and until when an old one stays readable.

Each major of a product's contract is its own port (`.../<product>/v<major>`): a breaking change
publishes beside the old one, which consumers pinned to it keep reading until the date the new
contract declares. Every publish keeps its contract beside it in the store (runtime/publishing.py),
so what consumers see now is known from the port store, not from anyone's working tree.
"""

from __future__ import annotations

import datetime as dt

from mesh_platform.model.contracts.model import Contract
from mesh_platform.model.contracts.versions import retirement_of
from mesh_platform.runtime.ports.store import PortStore


def retirement_date(
    store: PortStore, domain: str, product: str, major: int, current: Contract, masked: bool = False,
) -> dt.date | None:
    """Until when `major` stays readable: declared by the next major's contract — the one stored
    with its port (`masked`: with its masked projection, the only port a masked reader opens), or
    the working tree's when that major is the current one."""
    successor = store.stored_contract(store.uri(domain, product, major + 1, masked))
    if successor is None and current.major == major + 1:
        successor = current
    return retirement_of(successor) if successor is not None else None
