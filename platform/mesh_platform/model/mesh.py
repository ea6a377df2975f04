"""The whole mesh as declared on disk: every domain, every product, and how they depend.

Only descriptor files are read here (no domain code is imported), so one domain with broken
Python never hides the others, and a consumer can check its inputs exist at load time. A domain
the checkout lacks (a location's image holds only its own domain) is read from the checkout's
copy of the published registry (model/registry.py): the products of it that this checkout reads.
"""

from __future__ import annotations

import difflib
import functools
import threading
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from mesh_platform.model.descriptor import DOMAIN_FILE, Domain, Product, load_domain
from mesh_platform.model.errors import DescriptorError, MeshError, UnavailableProductError, UnknownProductError
from mesh_platform.model.layout import WORKSPACE_FILE
from mesh_platform.model.names import is_valid_name, parse_product_id
from mesh_platform.model.registry import COPY_FOLDER, MISSING_FILE, copied_domains, copy_folder, missing_note
from mesh_platform.model.yamlfile import load_yaml

SHARED_FOLDER = "shared_assets"
SHARED_DOMAIN = "shared"  # the domain that lives in shared_assets/
DOMAINS_FOLDER = "domains"


def domain_folders(root: Path) -> list[Path]:
    folders = [root / SHARED_FOLDER] if (root / SHARED_FOLDER / DOMAIN_FILE).is_file() else []
    folders += sorted(p.parent for p in (root / DOMAINS_FOLDER).glob(f"*/{DOMAIN_FILE}"))
    return folders


class _ReadOnDemand(dict):
    """The mesh's domains by name (or its broken folders by path), read from disk on demand: a
    lookup reads the one domain it names, iterating reads every domain. A code location so reads
    only its own domain and the producers its graph needs (issue 12), while whole-mesh code
    (`mesh validate`, the catalog, build order) sees every domain as before."""

    def __init__(self, read_one, read_all) -> None:
        super().__init__()
        self._read_one, self._read_all = read_one, read_all

    def __getitem__(self, key):
        self._read_one(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._read_one(key)
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        self._read_one(key)
        return super().__contains__(key)

    def __iter__(self):
        self._read_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._read_all()
        return super().__len__()

    def keys(self):
        self._read_all()
        return super().keys()

    def values(self):
        self._read_all()
        return super().values()

    def items(self):
        self._read_all()
        return super().items()


@dataclass
class Mesh:
    root: Path
    domains: dict[str, Domain] = field(default=None)  # type: ignore[assignment]  # read on demand
    broken: dict[Path, MeshError] = field(default=None)  # type: ignore[assignment]  # folders whose files do not parse
    # Products that passed validation.validate_product against this mesh (it runs at most once each).
    validated: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.domains = _ReadOnDemand(self._read_named, self._read_all)
        self.broken = _ReadOnDemand(self._read_folder, self._read_all)
        self._read: set[Path] = set()  # folders already looked at
        self._complete = False
        # One cached mesh serves a code server's threads: a folder is read by one of them, and
        # another looking it up meanwhile waits for that read rather than seeing no domain.
        self._lock = threading.RLock()

    @classmethod
    def load(cls, root: str | Path) -> "Mesh":
        """Every domain of the mesh, read now."""
        mesh = cls(root=Path(root))
        mesh._read_all()
        return mesh

    @classmethod
    def on_demand(cls, root: str | Path) -> "Mesh":
        """The mesh whose domains are read as they are looked up (see _ReadOnDemand)."""
        return cls(root=Path(root))

    def _read_all(self) -> None:
        with self._lock:
            self._read_every_folder()

    def _read_every_folder(self) -> None:
        if self._complete:
            return
        self._complete = True
        folders = domain_folders(self.root)
        for folder in folders:
            self._read_folder(folder)
        copies = [c for c in copied_domains(self.root) if not self._is_local(c.name)]
        for copy in copies:
            self._read_copy(copy.name)
        # The order of Mesh.load whatever was looked up first: shared, then domains by folder,
        # then the registry's.
        rank = {folder.resolve(): i for i, folder in enumerate(folders + copies)}
        for table, place in ((self.domains, lambda item: rank.get(Path(item[1].folder).resolve(), -1)), (self.broken, lambda item: rank.get(item[0].resolve(), -1))):
            ordered = sorted(dict.items(table), key=place)
            dict.clear(table)
            dict.update(table, ordered)

    def _read_named(self, name) -> None:
        if isinstance(name, str) and is_valid_name(name):  # no path is built from what cannot be a name
            if self._is_local(name):
                self._read_folder(self.folder_of(name))
            else:
                self._read_copy(name)

    def _is_local(self, name: str) -> bool:
        """Whether the checkout holds domain `name`'s folder: then it is the source of truth, and
        its registry entry is never read."""
        return (self.folder_of(name) / DOMAIN_FILE).is_file()

    def _read_copy(self, name: str) -> None:
        """Read domain `name` from the checkout's copy of its registry entries, if there is one."""
        with self._lock:
            folder = copy_folder(self.root, name).resolve()
            if folder in self._read:
                return
            self._read.add(folder)
            if not (folder / DOMAIN_FILE).is_file():
                return
            try:
                domain = load_domain(folder)
            except MeshError as exc:
                dict.__setitem__(self.broken, folder, exc)
                return
            if domain.name != name:
                dict.__setitem__(self.broken, folder, DescriptorError(folder / DOMAIN_FILE, "name", f"expected {name!r}: the registry entry is {name!r}'s"))
                return
            dict.__setitem__(self.domains, name, domain)

    def from_registry(self, domain: str) -> bool:
        """Whether `domain` was read from the registry rather than from the checkout."""
        found = self.domains.get(domain)
        return found is not None and found.folder.is_relative_to((self.root / COPY_FOLDER).resolve())

    def _read_folder(self, folder) -> None:
        with self._lock:
            self._read_one_folder(folder)

    def _read_one_folder(self, folder) -> None:
        """Read the domain in `folder` if the layout puts one there (shared_assets/ or domains/<name>/)."""
        folder, resolved = Path(folder), Path(folder).resolve()
        if resolved in self._read:
            return
        self._read.add(resolved)
        at_layout = resolved.parent == (self.root / DOMAINS_FOLDER).resolve() or resolved == (self.root / SHARED_FOLDER).resolve()
        if not at_layout or not (folder / DOMAIN_FILE).is_file():
            return
        try:
            domain = load_domain(folder)
        except MeshError as exc:
            dict.__setitem__(self.broken, folder, exc)
            return
        if folder.resolve() != self.folder_of(domain.name):
            dict.__setitem__(self.broken, folder, DescriptorError(
                folder / DOMAIN_FILE, "name", f"expected {folder.name!r}: a domain's folder is named after it (shared_assets/ holds {SHARED_DOMAIN!r})"
            ))
            return
        if dict.__contains__(self.domains, domain.name):
            dict.__setitem__(self.broken, folder, DescriptorError(
                folder / DOMAIN_FILE, "name", f"domain {domain.name!r} is already declared in {dict.__getitem__(self.domains, domain.name).folder}"
            ))
            return
        dict.__setitem__(self.domains, domain.name, domain)

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
            looked = self.registry_miss(domain, name)
            raise UnknownProductError(
                f"{consumer} declares input port {wanted!r}, but no domain publishes that product"
                + (f": {looked}" if looked else "") + suggestion
            )
        return found

    def registry_miss(self, domain: str, name: str) -> str | None:
        """Where product `domain.name` was looked for in the registry and not found, when the
        checkout lacks its domain (None: the checkout holds it, or no look-up missed it)."""
        if not is_valid_name(domain) or self._is_local(domain):
            return None
        where = missing_note(self.root, domain, name)
        return f"domain {domain!r} is not in this checkout and the registry has no entry for {domain}.{name} at {where}" if where else None

    def unavailable(self, domain: str, name: str) -> str | None:
        """Why product `domain.name` cannot be used by another domain although it may exist: its
        domain does not load, or its contract does not. None when it can be used, and when the
        domain loads without declaring it (a typo of the consumer's, which `require` reports)."""
        if domain not in self.domains:
            if not is_valid_name(domain):
                return None  # no path is built from what cannot be a domain's name (require refuses it)
            broken = self.broken.get(self.folder_of(domain)) or dict.get(self.broken, copy_folder(self.root, domain).resolve())  # read by the lookup above
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
        if folder in self.broken:  # reads that folder's domain, and no other
            raise self.broken[folder]
        for domain in dict.values(self.domains):
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
    return Mesh.on_demand(root)


def current_mesh(root: Path) -> Mesh:
    """The mesh as on disk now; reloaded whenever a descriptor or contract file changes. Its
    domains are read as they are looked up: a code location reads only what its graph needs."""
    files = sorted(root.glob(f"{SHARED_FOLDER}/**/*.yaml")) + sorted(root.glob(f"{DOMAINS_FOLDER}/*/**/*.yaml"))
    files += sorted(root.glob(f"{COPY_FOLDER}/*/**/*.yaml")) + sorted(root.glob(f"{COPY_FOLDER}/*/{MISSING_FILE}"))
    stamp = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    return _cached_mesh(root.resolve(), stamp)
