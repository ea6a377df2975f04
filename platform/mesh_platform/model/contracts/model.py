"""ODCS v3 contracts, read with the official `open-data-contract-standard` model.

A port's contract is one ODCS document with one schema object (the port's table). We keep the
parsed ODCS model and derive from it what the platform needs: typed columns and the Arrow schema
every publish is cast to.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import jsonschema
import pyarrow as pa
import pydantic
from open_data_contract_standard.model import OpenDataContractStandard

from mesh_platform.model.contracts.semver import Semver
from mesh_platform.model.contracts.types import arrow_type_for, sql_type_of
from mesh_platform.model.errors import ContractError
from mesh_platform.model.lifecycle import lifecycle_of
from mesh_platform.model.yamlfile import read_mapping

REQUIRED_FIELDS = ("apiVersion", "kind", "id", "version", "status")
API_VERSIONS = ("v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0", "v3.2.0")


# Classifications that mark personal data: such values never appear in check samples, and
# readers outside the product's personal-data allow-list see them masked.
PERSONAL_CLASSIFICATIONS = frozenset({"pii", "personal", "sensitive"})
# How a personal column is masked, declared per column as the ODCS custom property `masking`:
# a keyed hash keeps values joinable without revealing them; redaction removes them.
MASKING_METHODS = ("hash", "redact")
# The ODCS custom property of a monthly partition column naming the date it is the month of: a
# blocking rule (quality.rules) checks every row agrees, so relabelled rows are never published.
DERIVED_FROM = "derivedFrom"
# Column names end up in SQL and file paths: ASCII identifiers only, whatever the policies add.
COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
SLA_UNITS: dict[str, dt.timedelta] = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), dt.timedelta(seconds=1)),
    **dict.fromkeys(("m", "min", "minute", "minutes"), dt.timedelta(minutes=1)),
    **dict.fromkeys(("h", "hr", "hour", "hours"), dt.timedelta(hours=1)),
    **dict.fromkeys(("d", "day", "days"), dt.timedelta(days=1)),
    **dict.fromkeys(("w", "week", "weeks"), dt.timedelta(weeks=1)),
}
SLA_PROPERTIES = ("freshness", "latency", "retention", "frequency", "availability", "timeOfAvailability")


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    logical_type: str | None
    physical_type: str | None
    required: bool
    description: str | None
    classification: str | None
    unique: bool = False
    primary_key: bool = False
    options: dict = field(default_factory=dict, hash=False, compare=False)
    enum: tuple = ()
    references: tuple[str, ...] = ()  # relationship targets: `domain.product.column`
    quality: tuple = ()  # ODCS DataQuality rules of this column
    masking: str | None = None  # "hash" or "redact": how readers outside the allow-list see it
    business_name: str | None = None  # names the global identifier a column carries, if any

    @property
    def is_personal(self) -> bool:
        return (self.classification or "").lower() in PERSONAL_CLASSIFICATIONS

    @property
    def sql_type(self) -> str:
        return sql_type_of(self.arrow_type)


@dataclass(frozen=True)
class ServiceLevel:
    """One SLA of the contract, with its duration resolved (`freshness: 1 d` -> 1 day)."""

    property: str
    window: dt.timedelta | None
    element: str | None
    description: str | None


@dataclass(frozen=True)
class Contract:
    path: Path
    odcs: OpenDataContractStandard
    table: str
    columns: tuple[Column, ...]
    quality: tuple = ()  # table-level ODCS DataQuality rules
    service_levels: tuple[ServiceLevel, ...] = ()

    def service_level(self, name: str) -> ServiceLevel | None:
        return next((s for s in self.service_levels if s.property == name), None)

    @property
    def personal_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_personal]

    @property
    def version(self) -> str:
        return self.odcs.version or ""

    @property
    def major(self) -> int:
        """The major version consumers pin: it moves on every breaking change."""
        return Semver.parse(self.version).major

    @property
    def id(self) -> str:
        return self.odcs.id or ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def arrow_schema(self) -> pa.Schema:
        """The exact schema of the port: publishing casts every batch to it."""
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns],
            metadata={"mesh.contract_id": self.id, "mesh.contract_version": self.version},
        )


def _format_loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text.replace("schema_", "schema")


@functools.cache
def _odcs_validator() -> jsonschema.Validator:
    """The JSON schema published with the ODCS package: it catches misspelt fields anywhere."""
    schema = json.loads((files("open_data_contract_standard") / "schema.json").read_text())
    return jsonschema.Draft201909Validator(schema)


_VAGUE = ("oneOf", "anyOf", "unevaluatedProperties")


def _check_structure(path: Path, data: dict) -> None:
    # The most specific error: the deepest field, and a named constraint over "not valid under
    # any of the given schemas" (a misspelt metric is reported as the metric, not its rule).
    errors = list(_odcs_validator().iter_errors(data))
    if errors:
        error = max(errors, key=lambda e: (len(e.absolute_path), e.validator not in _VAGUE))
        raise ContractError(path, _format_loc(tuple(error.absolute_path)) or None, error.message)


def _column(path: Path, index: int, prop) -> Column:
    field = f"schema[0].properties[{index}]"
    if not prop.name:
        raise ContractError(path, f"{field}.name", "every column needs a name")
    if not isinstance(prop.name, str) or not COLUMN_NAME.fullmatch(prop.name):
        raise ContractError(path, f"{field}.name", f"column name {prop.name!r} is not an identifier: expected ASCII letters, digits and '_', starting with a letter or '_', at most 63 characters")
    try:
        arrow_type = arrow_type_for(prop.logicalType, prop.physicalType)
    except ValueError as exc:
        raise ContractError(path, f"{field} ({prop.name})", str(exc)) from None
    references = []
    for j, relationship in enumerate(prop.relationships or []):
        target = relationship.to if isinstance(relationship.to, str) else None
        parts = target.split(".") if target is not None else []
        if len(parts) != 3 or not all(COLUMN_NAME.fullmatch(p) for p in parts):
            raise ContractError(path, f"{field}.relationships[{j}].to", "expected 'domain.product.column' of a mesh product")
        references.append(target)
    masking = None
    for j, custom in enumerate(prop.customProperties or []):
        if custom.property == "masking":
            if custom.value not in MASKING_METHODS:
                raise ContractError(path, f"{field}.customProperties[{j}].value", f"unknown masking {custom.value!r}; expected one of {', '.join(MASKING_METHODS)}")
            masking = custom.value
    return Column(
        name=prop.name,
        arrow_type=arrow_type,
        logical_type=prop.logicalType,
        physical_type=prop.physicalType,
        required=bool(prop.required or prop.primaryKey),
        description=prop.description,
        classification=prop.classification,
        unique=bool(prop.unique or prop.primaryKey),
        primary_key=bool(prop.primaryKey),
        options=dict(prop.logicalTypeOptions or {}),
        enum=tuple(e.value for e in prop.enum or ()),
        references=tuple(references),
        quality=tuple(prop.quality or ()),
        masking=masking,
        business_name=prop.businessName,
    )


def _service_levels(path: Path, odcs: OpenDataContractStandard, columns: tuple[Column, ...]) -> tuple[ServiceLevel, ...]:
    levels = []
    names = {c.name for c in columns}
    for i, sla in enumerate(odcs.slaProperties or []):
        where = f"slaProperties[{i}]"
        if sla.property not in SLA_PROPERTIES:
            raise ContractError(path, f"{where}.property", f"unknown SLA {sla.property!r}; expected one of {', '.join(SLA_PROPERTIES)}")
        window = None
        if sla.property in ("freshness", "latency", "retention", "frequency"):
            unit = (sla.unit or "").lower()
            if unit not in SLA_UNITS:
                raise ContractError(path, f"{where}.unit", f"unknown unit {sla.unit!r}; expected one of {', '.join(sorted(SLA_UNITS))}")
            if not isinstance(sla.value, (int, float)) or isinstance(sla.value, bool) or sla.value <= 0:
                raise ContractError(path, f"{where}.value", f"expected a positive number of {sla.unit}, found {sla.value!r}")
            window = SLA_UNITS[unit] * sla.value
        element = sla.element or odcs.slaDefaultElement
        if element is not None:
            column = element.split(".")[-1]
            if column not in names:
                raise ContractError(path, f"{where}.element", f"names column {column!r}, which the contract does not declare")
        levels.append(ServiceLevel(sla.property, window, element, sla.description))
    return tuple(levels)


def parse_contract(path: str | Path) -> Contract:
    path = Path(path)
    return contract_from_mapping(read_mapping(path, ContractError, "a YAML mapping (an ODCS v3 document)"), path)


def iso_dates(value):
    """`value` with every YAML date or timestamp as its ISO text. YAML reads an unquoted
    `2027-06-30` as a date; ODCS (a JSON schema) only knows strings, and the docs write dates
    unquoted, so a contract means the date either way."""
    if isinstance(value, dict):
        return {key: iso_dates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [iso_dates(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def contract_from_mapping(data: dict, path: Path) -> Contract:
    """A contract from its parsed YAML; `path` names where it came from in errors (a file, or
    the port whose stored contract this is)."""
    data = iso_dates(data)
    for field in REQUIRED_FIELDS:
        if data.get(field) in (None, ""):
            raise ContractError(path, field, "required ODCS field is missing")
    try:
        Semver.parse(data["version"])
    except ValueError as exc:
        raise ContractError(path, "version", str(exc)) from None
    if data["kind"] != "DataContract":
        raise ContractError(path, "kind", f"expected 'DataContract', found {data['kind']!r}")
    if data["apiVersion"] not in API_VERSIONS:
        raise ContractError(path, "apiVersion", f"expected one of {', '.join(API_VERSIONS)}")
    _check_structure(path, data)
    try:
        odcs = OpenDataContractStandard.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        raise ContractError(path, _format_loc(first["loc"]), first["msg"]) from None
    lifecycle_of(odcs, path)  # an unknown status or a malformed retireOn is refused at load
    if not odcs.schema_ or len(odcs.schema_) != 1:
        raise ContractError(path, "schema", "expected exactly one schema object: the port's table")
    table = odcs.schema_[0]
    if not table.properties:
        raise ContractError(path, "schema[0].properties", "the port's table declares no columns")
    columns = tuple(_column(path, i, p) for i, p in enumerate(table.properties))
    seen: dict[str, str] = {}
    for i, column in enumerate(columns):
        # DuckDB resolves identifiers case-insensitively, even quoted: STATION is station.
        if column.name.lower() in seen:
            other = seen[column.name.lower()]
            also = "" if other == column.name else f" (as {other!r}: names differing only in case are one column in SQL)"
            raise ContractError(path, f"schema[0].properties[{i}].name", f"duplicate column {column.name!r}{also}")
        seen[column.name.lower()] = column.name
    return Contract(
        path=path,
        odcs=odcs,
        table=table.name or path.stem,
        columns=columns,
        quality=tuple(table.quality or ()),
        service_levels=_service_levels(path, odcs, columns),
    )


@functools.lru_cache(maxsize=512)
def _cached(path: Path, mtime_ns: int) -> Contract:
    return parse_contract(path)


def load_contract(path: str | Path) -> Contract:
    """Parse (and cache, per file version) the contract at `path`."""
    path = Path(path).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ContractError(path, None, "contract file not found") from None
    return _cached(path, mtime)
