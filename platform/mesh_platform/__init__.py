"""mesh_platform: the self-serve platform of the data mesh.

Domains use two names from here: `product`, to mark a Python function as a data product, and
`domain_definitions`, to turn their folder into a Dagster code location.
"""

from .definitions import domain_definitions
from .products.python import product

__all__ = ["domain_definitions", "product"]
