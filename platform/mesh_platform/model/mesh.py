"""The whole mesh as declared on disk: every domain, every product, and how they depend.

Only descriptor files are read here (no domain code is imported), so one domain with broken
Python never hides the others, and a consumer can check its inputs exist at load time.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from mesh_platform.model.descriptor import DOMAIN_FILE, Domain, Product, load_domain
from mesh_platform.model.errors import DescriptorError, MeshError, UnavailableProductError, UnknownProductError
from mesh_platform.model.layout import WORKSPACE_FILE
from mesh_platform.model.names import is_valid_name, parse_product_id
from mesh_platform.model.yamlfile import load_yaml

SHARED_FOLDER = "shared_assets"
SHARED_DOMAIN = "shared"  # the domain that lives in shared_assets/
DOMAINS_FOLDER = "domains"


def domain_folders(root: Path) -> list[Path]:
    folders = [root / SHARED_FOLDER] if (root / SHARED_FOLDER / DOMAIN_FILE).is_file() else []
    folders += sorted(p.parent for p in (root / DOMAINS_FOLDER).glob(f"*/{DOMAIN_FILE}"))
    return folders


@dataclass
class Mesh:
    root: Path
    domains: dict[str, Domain] = field(default_factory=dict)
    broken: dict[Path, MeshError] = field(default_factory=dict)  # folders whose files do not parse
    # Products that passed validation.validate_product against this mesh (it runs at most once each).
    validated: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def load(cls, root: str | Path) -> "Mesh":
        mesh = cls(root=Path(root).resolve())
        for folder in domain_folders(mesh.root):
            try:
                domain = load_domain(folder)
            except MeshError as exc:
                mesh.broken[folder] = exc
                continue
            if folder.resolve() != mesh.folder_of(domain.name):
                mesh.broken[folder] = DescriptorError(
                    folder / DOMAIN_FILE, "name", f"expected {folder.name!r}: a domain's folder is named after it (shared_assets/ holds {SHARED_DOMAIN!r})"
                )
                continue
            if domain.name in mesh.domains:
                mesh.broken[folder] = DescriptorError(
                    folder / DOMAIN_FILE, "name", f"domain {domain.name!r} is already declared in {mesh.domains[domain.name].folder}"
                )
                continue
            mesh.domains[domain.name] = domain
        return mesh

    # -- lookup -----------------------------------------------------------------------------
    def products(self) -> list[Product]:
        return [p for d in self.domains.values() for p in d.products.values()]

    def product_ids(self) -> list[str]:
        return sorted(p.id for p in self.products())

    def find(self, domain: str, product: str) -> Product | None:
        found = self.domains.get(domain)
        return found.products.get(product) if found else None

    def closest(self, wanted: str, n: int = 3) -> list[str]:
        return difflib.get_close_matches(wanted, self.product_ids(), n=n, cutoff=0.5)

    def require(self, wanted: str, consumer: str) -> Product:
        """The product `wanted` (`domain.product`) as an input of `consumer`, or a clear error."""
        try:
            domain, name = parse_product_id(wanted)  # before any path is built from it
        except ValueError as exc:
            raise UnknownProductError(f"{consumer} declares input port {wanted!r}, but {exc}") from None
        reason = self.unavailable(domain, name)
        if reason is not None:
            raise UnavailableProductError(f"{consumer} declares input port {wanted!r}, but {reason}")
        found = self.find(domain, name)
        if found is None:
            hint = self.closest(wanted)
            suggestion = f"; closest existing products: {', '.join(hint)}" if hint else ""
            raise UnknownProductError(
                f"{consumer} declares input port {wanted!r}, but no domain publishes that product{suggestion}"
            )
        return found

    def unavailable(self, domain: str, name: str) -> str | None:
        """Why product `domain.name` cannot be used by another domain although it may exist: its
        domain does not load, or its contract does not. None when it can be used, and when the
        domain loads without declaring it (a typo of the consumer's, which `require` reports)."""
        if domain not in self.domains:
            if not is_valid_name(domain):
                return None  # no path is built from what cannot be a domain's name (require refuses it)
            broken = self.broken.get(self.folder_of(domain))
            return f"domain {domain!r} does not load: {broken}" if broken is not None else None
        found = self.find(domain, name)
        if found is None:
            return None
        try:
            found.contract  # parsed once and cached by the product
        except MeshError as exc:
            return f"the contract of {found.id} does not load: {exc}"
        return None

    def folder_of(self, domain: str) -> Path:
        """Where a domain's folder is by the layout: shared_assets/ or domains/<domain>/."""
        return (self.root / SHARED_FOLDER if domain == SHARED_DOMAIN else self.root / DOMAINS_FOLDER / domain).resolve()

    def domain_at(self, folder: Path) -> Domain:
        folder = folder.resolve()
        if folder in self.broken:
            raise self.broken[folder]
        for domain in self.domains.values():
            if domain.folder == folder:
                return domain
        raise DescriptorError(folder / DOMAIN_FILE, None, "no domain is declared here")

    def consumers_of(self, product: Product) -> list[Product]:
        return [p for p in self.products() if any(i.key == product.key for i in p.inputs)]

    # -- order ------------------------------------------------------------------------------
    def domain_dependencies(self) -> dict[str, set[str]]:
        """Domain -> the other domains whose products it consumes, or whose global identifiers
        its contracts reference (a publish checks them, so they must be published first)."""
        graph: dict[str, set[str]] = {name: set() for name in self.domains}
        for product in self.products():
            needed = {port.domain for port in product.inputs}
            try:
                needed |= {target.split(".")[0] for column in product.contract.columns for target in column.references}
            except MeshError:
                pass  # a broken contract is reported when its domain loads
            graph[product.domain] |= {d for d in needed if d != product.domain and d in self.domains}
        return graph

    def domain_order(self) -> list[str]:
        """Domains in an order where every producer comes before its consumers."""
        graph = self.domain_dependencies()
        try:
            return list(TopologicalSorter({d: sorted(deps) for d, deps in sorted(graph.items())}).static_order())
        except CycleError as exc:
            raise MeshError(f"domains depend on each other in a cycle: {' -> '.join(exc.args[1])}") from None


def workspace_locations(root: Path) -> dict[str, str]:
    """`workspace.yaml`'s locations: location name -> the Python module that defines it."""
    path = root / WORKSPACE_FILE
    data = load_yaml(path.read_text()) or {}
    locations: dict[str, str] = {}
    for index, entry in enumerate(data.get("load_from") or []):
        module = (entry or {}).get("python_module")
        if not isinstance(module, dict) or "module_name" not in module:
            raise DescriptorError(path, f"load_from[{index}]", "expected a python_module with a module_name")
        name = module.get("location_name") or module["module_name"]
        locations[name] = module["module_name"]
    return locations


@functools.lru_cache(maxsize=8)
def _cached_mesh(root: Path, stamp: tuple) -> Mesh:
    return Mesh.load(root)


def current_mesh(root: Path) -> Mesh:
    """The mesh as on disk now; reloaded whenever a descriptor or contract file changes."""
    files = sorted(root.glob(f"{SHARED_FOLDER}/**/*.yaml")) + sorted(root.glob(f"{DOMAINS_FOLDER}/*/**/*.yaml"))
    stamp = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    return _cached_mesh(root.resolve(), stamp)
