"""Product and domain descriptors: what a domain declares about itself and each data product.

A domain folder holds `domain.yaml`, one `products/<product>.yaml` per product and its ODCS
contract in `contracts/<product>.odcs.yaml`. These files are the single declaration of a product;
the Dagster assets, checks and ports are derived from them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from mesh_platform.model.contracts import Contract, load_contract
from mesh_platform.model.contracts.model import COLUMN_NAME
from mesh_platform.model.cron import cron_problem
from mesh_platform.model.errors import DescriptorError
from mesh_platform.model.names import check_name, parse_product_id, product_id, shown
from mesh_platform.model.yamlfile import read_mapping

ProductKind = Literal["source-aligned", "aggregate", "consumer-aligned"]
AccessLevel = Literal["public", "internal", "restricted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Strict):
    team: str
    contact: str

    @field_validator("team")
    @classmethod
    def _team_is_a_name(cls, value: str) -> str:
        return check_name(value, "owner team")

    @field_validator("contact")
    @classmethod
    def _contact_is_an_email(cls, value: str) -> str:
        local, _, host = value.partition("@")
        if not local or "." not in host:
            raise ValueError(f"expected an e-mail address, found {value!r}")
        return value


class Partitioning(_Strict):
    """Monthly partitions of a port: each month's rows are published (and replaced) on their own."""

    column: str
    granularity: Literal["month"] = "month"

    @field_validator("column")
    @classmethod
    def _column_name(cls, value: str) -> str:
        # It reaches the Delta overwrite predicate: a name, never an expression.
        return check_name(value, "partition column")
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _months(self) -> "Partitioning":
        if self.start.day != 1 or self.end.day != 1:
            raise ValueError("start and end must be the first day of a month")
        if self.end <= self.start:
            raise ValueError("end must come after start")
        return self


class Schedule(_Strict):
    """When a source-aligned product is published: a cron expression read in a named time zone.

        schedule: {cron: "0 6 * * *", timezone: America/New_York}

    The time zone is required: "6 o'clock" means nothing without one. A monthly product's schedule
    publishes the latest complete month at each tick."""

    cron: str
    timezone: str

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, value):
        if not isinstance(value, dict):
            raise ValueError(
                f"expected a mapping {{cron: ..., timezone: ...}}, e.g. {{cron: '0 6 * * *', timezone: America/New_York}}; found {value!r}"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(f"{value!r} {problem}; expected five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * *'")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, e.g. "America"
            raise ValueError(f"unknown time zone {value!r}; expected an IANA name such as 'America/New_York' or 'UTC'") from None
        return value


class DomainDescriptor(_Strict):
    name: str
    kind: ProductKind
    description: str
    owner: Owner
    dbt_project: str | None = None
    # The compute engine the dbt project runs on (mesh_platform.runtime.engines); None is the
    # default engine. The name is checked against the installed engines when the domain loads:
    # the model layer does not know them.
    engine: str | None = None

    @field_validator("name", "dbt_project")
    @classmethod
    def _snake(cls, value: str | None) -> str | None:
        return value if value is None else check_name(value, "name")

    @field_validator("engine")
    @classmethod
    def _engine_name(cls, value: str | None) -> str | None:
        return value if value is None else check_name(value, "compute engine")

    @model_validator(mode="after")
    def _engine_runs_dbt(self) -> "DomainDescriptor":
        # Python products are audited and published by the platform itself: an engine named
        # without a dbt project would be silently ignored, so it is refused.
        if self.engine is not None and self.dbt_project is None:
            raise ValueError(f"engine {self.engine!r} is the compute engine of the domain's dbt project, and this domain "
                             "declares no dbt_project; add dbt_project or remove engine")
        return self


class ProductDescriptor(_Strict):
    name: str
    description: str
    kind: ProductKind | None = None  # defaults to the domain's kind
    owner: Owner | None = None  # defaults to the domain's owner
    access: AccessLevel = "public"
    readers: tuple[str, ...] = ()  # domains allowed to read an `internal` product
    personal_data_readers: tuple[str, ...] = ()  # domains that see personal columns unmasked
    tags: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()  # input ports: `domain.product`, or `domain.product@v2` to pin a major
    contract: str | None = None  # path relative to the domain folder
    partitioning: Partitioning | None = None
    schedule: Schedule | None = None  # source-aligned products only; consumers react to their inputs
    # What a Python product reads of each input port, `domain.product: [column, ...]`: the columns a
    # change of that input may break (consumer impact). An input left out: every column, to be safe.
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A Python product's column lineage, `output column: [domain.product.column, ...]`, shown in the
    # Dagster UI; none is shown without it (a dbt product's comes from its SQL).
    lineage: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @field_validator("columns", "lineage", mode="before")
    @classmethod
    def _mapping_of_lists(cls, value):
        # A mapping in YAML, kept as pairs: a descriptor is frozen and hashable.
        if not isinstance(value, dict) or not all(isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()):
            raise ValueError(f"expected a mapping of names to lists of column names, found {shown(value)}")
        return tuple((str(key), tuple(items)) for key, items in value.items())

    @field_validator("name")
    @classmethod
    def _snake(cls, value: str) -> str:
        return check_name(value, "product name")

    @field_validator("readers", "personal_data_readers")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            check_name(item, "reader domain")
        return value

    @field_validator("inputs")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        ports = [parse_input_port(item) for item in value]
        if len({p.key for p in ports}) != len(ports):
            raise ValueError("an input port is listed twice")
        return value

    @model_validator(mode="after")
    def _declared_columns_of_inputs(self) -> "ProductDescriptor":
        inputs = {parse_input_port(i).id for i in self.inputs}
        for address, columns in self.columns:
            if address not in inputs:
                raise ValueError(f"columns: {shown(address)} is not one of the product's inputs ({', '.join(sorted(inputs)) or 'none'})")
            for column in columns:
                _column_name(column, f"columns.{address}")
        for output, origins in self.lineage:
            _column_name(output, "lineage")
            for origin in origins:
                address, _, column = origin.rpartition(".")
                if address not in inputs:
                    raise ValueError(f"lineage.{output}: {shown(origin)} is not domain.product.column of one of the product's inputs")
                _column_name(column, f"lineage.{output}")
        return self

    @model_validator(mode="after")
    def _readers_fit_access(self) -> "ProductDescriptor":
        if self.readers and self.access != "internal":
            raise ValueError(f"readers are the allow-list of an internal product; this product is {self.access}")
        if self.access == "internal" and not self.readers:
            raise ValueError("an internal product lists the domains that may read it in readers")
        return self


def _column_name(name: str, where: str) -> None:
    if not COLUMN_NAME.fullmatch(name):
        raise ValueError(f"{where}: {shown(name)} is not a column name")


def parse_input_port(text: str) -> InputPort:
    """`"fleet.aircraft"` or, pinned to a contract major, `"fleet.aircraft@v1"`."""
    address, at, pin = text.partition("@") if isinstance(text, str) else (text, "", "")
    major = None
    if at:
        if not (pin.startswith("v") and pin[1:].isdigit() and pin[1:].isascii() and len(pin) <= 6):
            raise ValueError(f"{shown(text)}: a pinned input port ends in @v<major>, e.g. 'fleet.aircraft@v1'")
        major = int(pin[1:])
    return InputPort(*parse_product_id(address), major)


def _parse(model: type[BaseModel], path: Path) -> BaseModel:
    try:
        return model.model_validate(read_mapping(path))
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(part) for part in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = f"unknown field; expected one of {', '.join(model.model_fields)}"
        raise DescriptorError(path, loc, message) from None


@dataclass(frozen=True)
class InputPort:
    domain: str
    product: str
    major: int | None = None  # the contract major the consumer pinned; None follows the current one

    @property
    def id(self) -> str:
        return product_id(self.domain, self.product)

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, self.product)


@dataclass(frozen=True)
class Product:
    """A declared data product of one domain (its descriptor, with the domain's defaults applied)."""

    domain: str
    descriptor: ProductDescriptor
    path: Path
    contract_path: Path
    kind: ProductKind
    owner: Owner

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def id(self) -> str:
        return product_id(self.domain, self.name)

    @property
    def key(self) -> tuple[str, str]:
        return (self.domain, self.name)

    @property
    def inputs(self) -> tuple[InputPort, ...]:
        return tuple(parse_input_port(i) for i in self.descriptor.inputs)

    @cached_property
    def contract(self) -> Contract:
        return load_contract(self.contract_path)


@dataclass(frozen=True)
class Domain:
    descriptor: DomainDescriptor
    folder: Path
    products: dict[str, Product] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.descriptor.name

    def product(self, name: str) -> Product:
        return self.products[name]


DOMAIN_FILE = "domain.yaml"


def load_domain(folder: Path) -> Domain:
    """Read a domain folder; DescriptorError names the first bad file and field."""
    folder = folder.resolve()
    domain_file = folder / DOMAIN_FILE
    if not domain_file.is_file():
        raise DescriptorError(domain_file, None, "every domain folder needs a domain.yaml")
    descriptor: DomainDescriptor = _parse(DomainDescriptor, domain_file)  # type: ignore[assignment]
    products: dict[str, Product] = {}
    for path in sorted((folder / "products").glob("*.yaml")):
        spec: ProductDescriptor = _parse(ProductDescriptor, path)  # type: ignore[assignment]
        if spec.name != path.stem:
            raise DescriptorError(path, "name", f"expected {path.stem!r}, the file's name")
        for i, text in enumerate(spec.inputs):
            if parse_input_port(text).key == (descriptor.name, spec.name):
                # Said here: a Python product was told its function lacked a parameter for it.
                raise DescriptorError(path, f"inputs[{i}]", f"{text} is this product itself: a product cannot read its own "
                                      "output port (its build would wait for itself); list the products it is built from")
        contract = (folder / (spec.contract or f"contracts/{spec.name}.odcs.yaml")).resolve()
        if not contract.is_relative_to(folder / "contracts"):
            raise DescriptorError(path, "contract", f"expected a file in the domain's contracts/ folder, found {spec.contract!r}")
        if not contract.is_file():
            raise DescriptorError(path, "contract", f"no contract file at {contract}")
        kind = spec.kind or descriptor.kind
        if spec.schedule is not None and kind != "source-aligned":
            raise DescriptorError(
                path, "schedule",
                f"only source-aligned products declare a schedule; {descriptor.name}.{spec.name} is {kind}: "
                "it is rebuilt automatically when one of its input ports publishes a new version",
            )
        products[spec.name] = Product(
            domain=descriptor.name,
            descriptor=spec,
            path=path,
            contract_path=contract.resolve(),
            kind=kind,
            owner=spec.owner or descriptor.owner,
        )
    claimed: dict[Path, str] = {}
    for product in products.values():
        if product.contract_path in claimed:
            raise DescriptorError(product.path, "contract", f"the port contract {product.contract_path.name} is already claimed by product {claimed[product.contract_path]!r}")
        claimed[product.contract_path] = product.name
    for contract in sorted((folder / "contracts").glob("*.yaml")):
        if contract.resolve() not in claimed:
            raise DescriptorError(contract, None, f"no product claims this contract: expected products/{contract.name.split('.')[0]}.yaml")
    return Domain(descriptor=descriptor, folder=folder, products=products)
