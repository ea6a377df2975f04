"""A port's contract majors, and the contract each one was last published with.

Each major of a product's contract is its own Delta table (`.../<product>/v<major>`): a breaking
change publishes beside the old table, which consumers pinned to it keep reading until the date
the new contract declares. Every publish writes the contract into its Delta commit, so what
consumers see now is known from the port itself, not from anyone's working tree.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.fs as pafs
import yaml
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from mesh_platform.model.contracts.model import Contract, contract_from_mapping
from mesh_platform.model.contracts.versions import retirement_of
from mesh_platform.runtime.ports.delta import port_uri

CONTRACT_METADATA_KEY = "mesh.contract"


def published_majors(storage_root: str, domain: str, product: str) -> list[int]:
    """The majors of the product that have a Delta table, lowest first."""
    base = port_uri(storage_root, domain, product, 0).rsplit("/", 1)[0]
    filesystem, path = pafs.FileSystem.from_uri(base if "://" in base else str(Path(base).resolve()))
    majors = []
    for info in filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True)):
        name = info.base_name
        if info.type == pafs.FileType.Directory and name.startswith("v") and name[1:].isdigit():
            if filesystem.get_file_info(f"{info.path}/_delta_log").type == pafs.FileType.Directory:
                majors.append(int(name[1:]))
    return sorted(majors)


def stored_contract(uri: str) -> Contract | None:
    """The contract the port's latest version was published with (None: never published)."""
    try:
        history = DeltaTable(uri).history(1)
    except TableNotFoundError:
        return None
    text = history[0].get(CONTRACT_METADATA_KEY) if history else None
    if not text:
        return None
    return contract_from_mapping(yaml.safe_load(text), Path(f"{uri} (published contract)"))


def latest_published(storage_root: str, domain: str, product: str) -> tuple[int, Contract] | None:
    """The highest published major and its contract: what consumers see now."""
    for major in reversed(published_majors(storage_root, domain, product)):
        contract = stored_contract(port_uri(storage_root, domain, product, major))
        if contract is not None:
            return major, contract
    return None


def retirement_date(storage_root: str, domain: str, product: str, major: int, current: Contract) -> dt.date | None:
    """Until when `major` stays readable: declared by the next major's contract — the one stored
    with its port, or the working tree's when that major is the current one."""
    successor = stored_contract(port_uri(storage_root, domain, product, major + 1))
    if successor is None and current.major == major + 1:
        successor = current
    return retirement_of(successor) if successor is not None else None


def commit_metadata(contract: Contract, label: str, run_id: str) -> dict[str, str]:
    """What every publish writes into its Delta commit: who, which run, and the whole contract."""
    return {
        "mesh.product": label,
        "mesh.contract_version": contract.version,
        "mesh.run_id": run_id,
        CONTRACT_METADATA_KEY: contract.path.read_text(),
    }


def current_port_uri(storage_root: str, domain: str, product: str, contract: Contract) -> str:
    """Where a product publishes now: the table of its working-tree contract's major."""
    return port_uri(storage_root, domain, product, contract.major)
