"""mesh_platform: the self-serve platform of the data mesh.

Domains use three names from here: `product`, to mark a Python function as a data product,
`domain_definitions`, to turn their folder into a Dagster code location, and `policy`, to add a
governance policy of their own.
"""

from .definitions import domain_definitions
from .governance.policies import policy
from .products.python import product

__all__ = ["domain_definitions", "policy", "product"]
