"""The published registry through the port store: owners publish their products' entries,
a checkout copies the entries of the products it consumes from domains it lacks.

What an entry holds and how the copy is laid out is model/registry.py's; this module moves the
files, each domain with its own identity: on an object store the owner alone may write its
entries and every reader of a product (masked readers too) may read its entry
(model/storage_grants.py), so the store itself refuses what the policies refuse.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from mesh_platform.model.descriptor import DOMAIN_FILE, Domain, Product, ProductDescriptor, load_domain
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import DOMAINS_FOLDER, SHARED_DOMAIN, SHARED_FOLDER, domain_folders
from mesh_platform.model.registry import (
    DOMAIN_ENTRY_FILE, INDEX_FILE, MISSING_FILE, PRODUCT_ENTRY_FILE, RegistryError, check_entry_file, consumed_elsewhere, contract_file,
    copy_folder, entry_files, entry_index, parse_index,
)
from mesh_platform.model.yamlfile import load_yaml
from mesh_platform.runtime.ports.port import CONTRACT_METADATA_KEY
from mesh_platform.runtime.ports.store import PortStore, port_store


def publish_entries(root: Path, domain: Domain, products: list[str] | None = None) -> None:
    """Publish the registry entry of each of `domain`'s products (all, or `products`), as the
    domain's own identity. The index goes last: a reader never finds an index naming a file
    that is not there yet."""
    names = sorted(domain.products if products is None else products)
    if not names:
        return
    store = port_store(root, acting=domain.name)
    for name in names:
        product = domain.products[name]
        served = _served(store, product)
        files = entry_files(product, domain.folder / DOMAIN_FILE)
        for major, text in _stored_contracts(store, product, served).items():
            files[contract_file(major)] = text
            served[major] = contract_file(major)
        for file, data in files.items():
            store.write_entry_file(product.domain, product.name, file, data)
        store.write_entry_file(product.domain, product.name, INDEX_FILE, entry_index(product, served).to_json())


def _served(store: PortStore, product: Product) -> dict[int, str]:
    """The contract files the product's previous entry holds (a major's stays while it is served)."""
    data = store.read_entry_file(product.domain, product.name, INDEX_FILE)
    if data is None:
        return {}
    try:
        return dict(parse_index(data, product.domain, product.name, store.registry_uri(product.domain, product.name)).contracts)
    except RegistryError:
        return {}  # a damaged index is rewritten whole by this publish


def _stored_contracts(store: PortStore, product: Product, served: dict[int, str]) -> dict[int, bytes]:
    """The contracts of older majors that still have a port and no file in the entry yet (published
    before the registry was): each as its port's last publish kept it."""
    found = {}
    for major in store.published_majors(product.domain, product.name):
        if major in served or major == product.contract.major:
            continue
        history = store.history(store.uri(product.domain, product.name, major), 1)
        text = history[0].get(CONTRACT_METADATA_KEY) if history else None
        if text:
            found[major] = str(text).encode()
    return found


def _is_local(root: Path, domain: str) -> bool:
    folder = root / SHARED_FOLDER if domain == SHARED_DOMAIN else root / DOMAINS_FOLDER / domain
    return (folder / DOMAIN_FILE).is_file()


def sync_registry(root: Path, domains: list[Domain] | None = None) -> None:
    """Copy into the checkout (model/registry.py COPY_FOLDER) the registry entry of every product
    that `domains` (default: every domain of the checkout that loads) consume from a domain the
    checkout lacks, read as the consuming domain. An entry that is not there is noted with where
    it was looked for (the mesh then refuses the input in one line naming both); nothing is read
    for a domain the checkout holds."""
    root = Path(root).resolve()
    if domains is None:
        domains = []
        for folder in domain_folders(root):
            try:
                domains.append(load_domain(folder))
            except MeshError:
                continue  # the mesh reports a broken domain when it loads
    wanted = consumed_elsewhere(domains, lambda name: _is_local(root, name))
    missing: dict[str, dict[str, str]] = {}
    for (domain, product), consumer in sorted(wanted.items()):
        store = port_store(root, acting=consumer)
        files = _read_entry(store, domain, product)
        if files is None:
            missing.setdefault(domain, {})[product] = store.registry_uri(domain, product)
            _remove_copy(root, domain, product)
        else:
            _write_copy(root, domain, product, files, store.registry_uri(domain, product))
    for domain in {d for d, _ in wanted}:
        _write(copy_folder(root, domain) / MISSING_FILE, (json.dumps(missing.get(domain, {}), indent=2, sort_keys=True) + "\n").encode())


def _read_entry(store: PortStore, domain: str, product: str) -> dict[str, bytes] | None:
    index_data = store.read_entry_file(domain, product, INDEX_FILE)
    if index_data is None:
        return None
    where = store.registry_uri(domain, product)
    check_entry_file(INDEX_FILE, index_data, where)
    index = parse_index(index_data, domain, product, where)
    files = {}
    for name in (DOMAIN_ENTRY_FILE, PRODUCT_ENTRY_FILE, index.contracts[index.current_major]):
        data = store.read_entry_file(domain, product, name)
        if data is None:
            raise RegistryError(f"registry entry of {domain}.{product} at {where}: {INDEX_FILE} names {name}, which is not there")
        check_entry_file(name, data, where)
        files[name] = data
    files["contract"] = files.pop(index.contracts[index.current_major])
    return files


def _contract_path(folder: Path, product: str, descriptor: bytes, where: str) -> Path:
    """Where the copy keeps the contract: where the entry's descriptor says it is, which must be a
    file of the copy's contracts/ folder (an entry never writes outside its copy)."""
    try:
        spec = ProductDescriptor.model_validate(load_yaml(descriptor.decode()) or {})
    except Exception as exc:  # pydantic's or YAML's: the entry is not a product descriptor
        raise RegistryError(f"registry entry of {folder.name}.{product} at {where}: {PRODUCT_ENTRY_FILE} is not a product descriptor: "
                            + " ".join(str(exc).split())[:300]) from None
    if spec.name != product:
        raise RegistryError(f"registry entry of {folder.name}.{product} at {where}: {PRODUCT_ENTRY_FILE} declares product {spec.name!r}")
    path = (folder / (spec.contract or f"contracts/{product}.odcs.yaml")).resolve()
    if not path.is_relative_to((folder / "contracts").resolve()) or path.suffix != ".yaml":
        raise RegistryError(f"registry entry of {folder.name}.{product} at {where}: {PRODUCT_ENTRY_FILE}: contract {spec.contract!r} "
                            "is not a .yaml file of the domain's contracts/ folder")
    return path


def _write_copy(root: Path, domain: str, product: str, files: dict[str, bytes], where: str) -> None:
    folder = copy_folder(root, domain)
    contract = _contract_path(folder, product, files[PRODUCT_ENTRY_FILE], where)
    _write(folder / DOMAIN_FILE, files[DOMAIN_ENTRY_FILE])
    _write(contract, files["contract"])
    _write(folder / "products" / f"{product}.yaml", files[PRODUCT_ENTRY_FILE])


def _remove_copy(root: Path, domain: str, product: str) -> None:
    """An entry gone from the registry is gone from the copy: the checkout must not go on
    reading what its owner no longer declares."""
    path = copy_folder(root, domain) / "products" / f"{product}.yaml"
    if not path.is_file():
        return
    try:
        contract = _contract_path(path.parent.parent, product, path.read_bytes(), "the checkout's copy")
        contract.unlink(missing_ok=True)
    except RegistryError:
        pass
    path.unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: several processes of one checkout (a build's runs) copy at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_bytes() == data:
        return  # unchanged: the mesh's cache, keyed by files' mtimes, stays valid
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    partial.write_bytes(data)
    partial.replace(path)


def publish_domains(root: Path, names: list[str]) -> dict[str, str]:
    """Publish the entries of every product of the checkout's domains `names` (`mesh validate`:
    declarations that load); domain -> why its entries could not be published."""
    failed = {}
    for name in names:
        if not _is_local(Path(root), name):
            continue  # only an owner's own checkout publishes its declaration
        try:
            folder = Path(root) / SHARED_FOLDER if name == SHARED_DOMAIN else Path(root) / DOMAINS_FOLDER / name
            publish_entries(Path(root), load_domain(folder))
        except (MeshError, ValueError) as exc:
            failed[name] = " ".join(str(exc).split())
    return failed
