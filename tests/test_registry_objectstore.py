"""On an object store the store itself guards the registry: the owner alone writes its entries,
every domain that may read a product (a masked reader too) reads its entry, no other domain does.
A real SeaweedFS with the identities `mesh access apply` configures from the demo's policies."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.registry import INDEX_FILE
from mesh_platform.runtime.ports.store import port_store
from mesh_platform.runtime.registry import publish_entries
from test_storage_access import apply, s3  # noqa: F401  (the fixture: a real server, the mesh's settings)

pytestmark = pytest.mark.objectstore


def test_the_owner_alone_writes_its_entries_and_the_products_readers_alone_read_them(s3):  # noqa: F811
    server, home, settings = s3
    apply(home, settings)
    loyalty = Mesh.load(ROOT).domains["loyalty"]
    publish_entries(ROOT, loyalty)  # as domain-loyalty, with its own keys

    insights = port_store(ROOT, acting="customer_insights")  # reads bookings masked only
    index = json.loads(insights.read_entry_file("loyalty", "bookings", INDEX_FILE))
    assert (index["domain"], index["product"]) == ("loyalty", "bookings")
    # members is restricted, bookings internal to customer_insights: nobody else reads their entries.
    with pytest.raises(MeshError, match="domain-customer_insights"):
        insights.read_entry_file("loyalty", "members", INDEX_FILE)
    with pytest.raises(MeshError, match="domain-punctuality"):
        port_store(ROOT, acting="punctuality").read_entry_file("loyalty", "bookings", INDEX_FILE)
    # A reader cannot rewrite the owner's declaration (it would change what consumers load).
    with pytest.raises(MeshError, match="domain-customer_insights"):
        insights.write_entry_file("loyalty", "bookings", INDEX_FILE, b"{}")
    assert json.loads(insights.read_entry_file("loyalty", "bookings", INDEX_FILE)) == index
