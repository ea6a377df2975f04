"""A domain's Python products are found, not listed: every `@product` function in its package.

The domain folder is a Python package (`domains.fleet`, `shared_assets`); each of its modules
except `definitions` (the one calling us) is imported and its `@product` functions collected. So a
new Python product is a new module (plus its descriptor and contract) and no existing file changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.product import PythonProduct

DEFINITIONS_MODULE = "definitions"


def domain_package(root: Path, folder: Path) -> str:
    """The dotted package of a domain folder, as workspace.yaml imports it: `domains.fleet`."""
    return ".".join(folder.resolve().relative_to(root.resolve()).parts)


def _modules(package: str, folder: Path) -> list[str]:
    """Every module of the package and its subpackages, but the location's own definitions."""
    found = []
    for info in pkgutil.walk_packages([str(folder)], prefix=f"{package}."):
        if info.name.rsplit(".", 1)[-1] == DEFINITIONS_MODULE or info.ispkg:
            continue
        found.append(info.name)
    return sorted(found)


def _import(name: str, folder: Path):
    module = importlib.import_module(name)
    where = Path(getattr(module, "__file__", "") or "").resolve()
    if not where.is_relative_to(folder):
        # Another mesh's package of the same name came first on sys.path: its products are not ours.
        raise DescriptorError(folder, None, f"module {name} was imported from {where}, not from this domain folder: "
                                            "run with the mesh root first on sys.path (as workspace.yaml's working_directory does)")
    return module


def discover_products(root: Path, folder: Path) -> dict[str, PythonProduct]:
    """The domain's `@product` functions by product name; two for one product is an error
    naming both. A function imported into another module of the domain is counted once."""
    folder = folder.resolve()
    package = domain_package(root, folder)
    found: dict[str, PythonProduct] = {}
    for name in _modules(package, folder):
        module = _import(name, folder)
        for value in vars(module).values():
            if not isinstance(value, PythonProduct) or not value.fn.__module__.startswith(f"{package}."):
                continue  # a product of another domain, imported for reuse, is that domain's
            other = found.setdefault(value.name, value)
            if other is not value and other.fn is not value.fn:
                raise DescriptorError(folder / "products" / f"{value.name}.yaml", None,
                                      f"two @product functions implement product {value.name!r}: {other.where} and {value.where}; keep one")
    return found
