"""The published registry, pure part: what a product's entry holds and how a checkout keeps its copy.

A code location may hold only its own domain. What it needs of another domain is that domain's
public declaration of the products it reads: the descriptors (access, readers, partitioning,
inputs) and the contracts (columns, types, personal-data flags, majors). Each owner publishes
that, as the files are, beside its ports (`<domain>/<product>/registry/`, runtime/registry.py);
a checkout copies the entries it consumes into `.mesh/registry/<domain>/`, laid out like a
domain folder, which the mesh reads for a domain the checkout lacks (model/mesh.py). The
checkout stays the source of truth: a domain folder present is never replaced by its entry.

Nothing personal is in an entry: descriptors and contracts declare columns, never values; the
only addresses in them are the owning team's contacts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mesh_platform.model.descriptor import DOMAIN_FILE, Domain, Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.names import is_valid_name, shown
from mesh_platform.model.yamlfile import has_aliases

ENTRY_FORMAT = 1
INDEX_FILE = "index.json"
DOMAIN_ENTRY_FILE = "domain.yaml"
PRODUCT_ENTRY_FILE = "product.yaml"
_CONTRACT_FILE = re.compile(r"contract\.v(\d{1,5})\.odcs\.yaml")
# Where a checkout keeps the entries it read, relative to the mesh root (gitignored with .mesh/).
COPY_FOLDER = Path(".mesh") / "registry"
MISSING_FILE = "missing.json"  # in a domain's copy: product -> where its entry was looked for


class RegistryError(MeshError):
    """A registry entry is missing or not what its owner's publish writes."""


# An entry is a few declarations: kilobytes. Anything far larger, or a YAML alias (whose
# expansion can grow a 1 KB file into billions of nodes at every consumer's load), is refused:
# an entry is written by another domain and read by every consumer.
MAX_ENTRY_FILE_BYTES = 1_000_000


def check_entry_file(name: str, data: bytes, where: str) -> None:
    """Refuse an entry file a consumer should not parse: too large, or a YAML file with aliases."""
    if len(data) > MAX_ENTRY_FILE_BYTES:
        raise RegistryError(f"registry entry at {where}: {name} is {len(data)} bytes, over the {MAX_ENTRY_FILE_BYTES} an entry file may hold")
    if name.endswith(".yaml") and has_aliases(data):
        raise RegistryError(f"registry entry at {where}: {name} uses YAML aliases, which a registry entry may not")


def contract_file(major: int) -> str:
    return f"contract.v{major}.odcs.yaml"


@dataclass(frozen=True)
class EntryIndex:
    """The small JSON index of an entry: whose it is and which contract files it holds."""

    domain: str
    product: str
    current_major: int
    contract_version: str
    contracts: dict[int, str]  # every major served -> its contract file in the entry

    def to_json(self) -> bytes:
        data = {
            "format": ENTRY_FORMAT, "domain": self.domain, "product": self.product,
            "current_major": self.current_major, "contract_version": self.contract_version,
            "files": {"domain": DOMAIN_ENTRY_FILE, "product": PRODUCT_ENTRY_FILE,
                      "contracts": {str(m): f for m, f in sorted(self.contracts.items())}},
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def entry_index(product: Product, served: dict[int, str]) -> EntryIndex:
    """The index of `product`'s entry: its current contract, and the contract files of every
    other major it still serves (`served`, from its previous index)."""
    contract = product.contract
    return EntryIndex(product.domain, product.name, contract.major, contract.version, {**served, contract.major: contract_file(contract.major)})


def entry_files(product: Product, domain_file: Path) -> dict[str, bytes]:
    """The declaration files of `product`'s entry, as they are in the owner's checkout."""
    return {
        DOMAIN_ENTRY_FILE: domain_file.read_bytes(),
        PRODUCT_ENTRY_FILE: product.path.read_bytes(),
        contract_file(product.contract.major): product.contract_path.read_bytes(),
    }


def parse_index(data: bytes, domain: str, product: str, where: str) -> EntryIndex:
    """An entry's index, checked against the product it was read for: an entry naming another
    product, or a file outside the entry, is refused in one line naming `where`."""
    def refuse(why: str) -> RegistryError:
        return RegistryError(f"registry entry of {domain}.{product} at {where}: {why}")

    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise refuse(f"{INDEX_FILE} is not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != ENTRY_FORMAT:
        raise refuse(f"{INDEX_FILE} is not a format-{ENTRY_FORMAT} index")
    if (raw.get("domain"), raw.get("product")) != (domain, product):
        raise refuse(f"{INDEX_FILE} declares {shown(raw.get('domain'))}.{shown(raw.get('product'))}, not this product")
    files = raw.get("files") if isinstance(raw.get("files"), dict) else {}
    contracts = files.get("contracts") if isinstance(files.get("contracts"), dict) else {}
    served: dict[int, str] = {}
    for major, name in contracts.items():
        match = _CONTRACT_FILE.fullmatch(name) if isinstance(name, str) else None
        if match is None or match.group(1) != str(major):
            raise refuse(f"{INDEX_FILE} names contract file {shown(name)} for major {shown(major)}; expected {contract_file(0).replace('0', '<major>')}")
        served[int(major)] = name
    current = raw.get("current_major")
    if not isinstance(current, int) or current not in served:
        raise refuse(f"{INDEX_FILE}: current_major {shown(current)} has no contract file in the entry")
    return EntryIndex(domain, product, current, str(raw.get("contract_version")), served)


def consumed_elsewhere(domains: list[Domain], is_local) -> dict[tuple[str, str], str]:
    """(domain, product) -> the local domain that reads it, for every product `domains` consume
    (input ports, and contract relationships) from a domain `is_local` says the checkout lacks."""
    wanted: dict[tuple[str, str], str] = {}
    for domain in domains:
        for product in domain.products.values():
            keys = [port.key for port in product.inputs]
            try:
                keys += [tuple(target.split(".")[:2]) for column in product.contract.columns for target in column.references]
            except MeshError:
                pass  # a broken contract is reported when its domain loads
            for key in keys:
                if key[0] != domain.name and is_valid_name(key[0]) and is_valid_name(key[1]) and not is_local(key[0]):
                    wanted.setdefault(key, domain.name)
    return wanted


def copy_folder(root: Path, domain: str) -> Path:
    """Where a checkout keeps its copy of `domain`'s entries (laid out like a domain folder)."""
    return Path(root) / COPY_FOLDER / domain


def missing_note(root: Path, domain: str, product: str) -> str | None:
    """Where the entry of `domain.product` was looked for and not found, when the last copy
    found none (None otherwise)."""
    path = copy_folder(root, domain) / MISSING_FILE
    try:
        notes = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    where = notes.get(product) if isinstance(notes, dict) else None
    return where if isinstance(where, str) else None


def copied_domains(root: Path) -> list[Path]:
    """The domain folders of the checkout's registry copy, by name."""
    return sorted(p.parent for p in (Path(root) / COPY_FOLDER).glob(f"*/{DOMAIN_FILE}"))
