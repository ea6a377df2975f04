"""What a scaffolded product holds: its columns and rules, from which contract.py, dbt_files.py and
examples.py write its files.

Two designs: `records` (a few deterministic rows, for a product with no inputs) and `summary`
(rows of the first input counted per one of its columns, with the other inputs' rows beside them),
whose columns and types are read from the input products' contracts, so the new contract is right.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from mesh_platform.cli.scaffold.text import one_line
from mesh_platform.model.contracts.types import logical_type_of, parse_physical_type
from mesh_platform.model.descriptor import Product
from mesh_platform.model.mesh import SHARED_DOMAIN, Mesh
from mesh_platform.model.names import is_valid_name
from mesh_platform.model.policies import PolicyContext
from mesh_platform.runtime.global_policies import global_identifiers

# Types a summary may group by: they pass through pandas and DuckDB unchanged.
GROUPABLE = ("VARCHAR", "BOOLEAN", "DATE", "SMALLINT", "INTEGER", "BIGINT")


@dataclass(frozen=True)
class Col:
    """One column of a scaffolded product's contract."""

    name: str
    sql_type: str  # DuckDB's name, as the contract's physicalType: VARCHAR, BIGINT, DATE...
    description: str
    required: bool = False
    primary_key: bool = False
    business_name: str | None = None
    relationships: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    enum: tuple = ()
    quality: tuple[dict, ...] = ()

    @property
    def logical_type(self) -> str:

        return logical_type_of(parse_physical_type(self.sql_type))


@dataclass(frozen=True)
class Design:
    """A product's columns and rules, and how its example implementation computes them."""

    kind: str  # "records" or "summary"
    columns: tuple[Col, ...]
    table_description: str
    table_quality: tuple[dict, ...]
    purpose: str
    usage: str
    limitations: str
    description: str  # the descriptor's: what the product holds
    freshness: str | None  # the date column the freshness SLA is measured on, if there is one
    # summary only
    first: Product | None = None
    key: Col | None = None
    others: tuple[tuple[Product, str, bool], ...] = ()  # (input, count column, counted per key)
    first_count: str | None = None

# -- the records design: a product with no inputs ------------------------------------------------


def records_design(product: str, title: str, key: str = "record_id") -> Design:
    """`key` names the identifier column (a shared product's key is a global identifier: it gets
    a name of its own, so that no other product's `record_id` is taken for it)."""
    columns = (
        Col(key, "INTEGER", "Identifier of the record in the source system.", primary_key=True, options={"minimum": 1}),
        Col("recorded_on", "DATE", "Day the source system recorded it.", required=True, options={"minimum": "2024-01-01"}),
        Col("category", "VARCHAR", "Kind of record: standard, priority or bulk.", required=True,
            enum=("standard", "priority", "bulk")),
        Col("quantity", "INTEGER", "Units the record covers.", required=True, options={"minimum": 0, "maximum": 1000}),
        Col("amount", "DOUBLE", "Amount of the record, in euros; empty until it is priced.", options={"minimum": 0},
            quality=({"name": "amount_mostly_priced", "metric": "nullValues", "mustBeLessThan": 50, "unit": "percent",
                      "severity": "warning", "description": "Most records are priced when they are published."},)),
    )
    return Design(
        kind="records",
        columns=columns,
        table_description="One row per record, as the source system produced it.",
        table_quality=(
            {"name": f"{product}_published", "metric": "rowCount", "mustBeGreaterThan": 0,
             "description": "An empty batch is a broken extract."},
            {"name": "bulk_records_carry_ten_units", "type": "sql",
             "query": "SELECT count(*) FROM ${table} WHERE category = 'bulk' AND quantity < 10", "mustBe": 0,
             "description": "A bulk record covers at least ten units."},
        ),
        purpose="Example records that show the shape of a product; replace them with the source system's.",
        usage=f"One row per {key}. Made by `mesh new`: edit the code and this contract together.",
        limitations="Six generated example rows, the same on every build.",
        description=(f"One row per record of {title}'s source system: its id, day, category, quantity and amount "
                     "(example rows made by `mesh new`; replace them with the real source)."),
        freshness="recorded_on",
    )

# -- the summary design: a product reading input ports ----------------------------------------------


def _rank(column, identifiers: dict[str, str]) -> int | None:
    """How good a column of the first input is to count rows by (lower is better), None if unusable."""
    if not column.required or column.is_personal or column.sql_type not in GROUPABLE:
        return None
    carries_identifier = bool(_identifier_target(column, identifiers) or any(t.startswith(f"{SHARED_DOMAIN}.") for t in column.references))
    if carries_identifier and column.enum:
        rank = 0
    elif column.enum:
        rank = 1
    elif carries_identifier:
        rank = 2
    else:
        rank = {"BOOLEAN": 3, "DATE": 4, "VARCHAR": 5}.get(column.sql_type, 6)
    return rank + (10 if column.unique else 0)  # one row per value counts nothing


def _identifier_target(column, identifiers: dict[str, str]) -> str | None:
    return identifiers.get(column.business_name or "") or identifiers.get(column.name)


def _count_column(product: Product, taken: set[str], index: int) -> str:
    name = f"{product.name}_rows"
    if not is_valid_name(name) or name in taken:
        name = f"input_{index + 1}_rows"
    return name


def summary_design(product: str, inputs: list[Product], mesh: Mesh) -> Design:
    """Rows of the first input counted per its best grouping column; the other inputs' rows with
    the same value of that column when they have it (same name and type), else their total."""
    identifiers = global_identifiers(PolicyContext(mesh))
    first = inputs[0]
    ranked = [(r, i, c) for i, c in enumerate(first.contract.columns) if (r := _rank(c, identifiers)) is not None]
    source_key = min(ranked, key=lambda item: item[:2])[2] if ranked else None
    columns: list[Col] = []
    key = None
    if source_key is not None:
        # Global identifiers keep their relationship to the shared reference (policy
        # global-identifiers); other relationships are the producer's business, not this product's.
        references = [t for t in source_key.references if t.split(".")[0] == SHARED_DOMAIN]
        target = _identifier_target(source_key, identifiers)
        if target and target not in references:
            references.append(target)
        key = Col(
            source_key.name, source_key.sql_type,
            f"{one_line(source_key.description).rstrip('.') or source_key.name}; the group (as in {first.id}).",
            primary_key=True, business_name=source_key.business_name, relationships=tuple(references),
        )
        columns.append(key)
    taken = {c.name for c in columns}
    first_count = _count_column(first, taken, 0)
    taken.add(first_count)
    per = f" with this {key.name}" if key else ""
    columns.append(Col(first_count, "BIGINT", f"Rows of {first.id}{per}.", required=True, options={"minimum": 1}))
    others = []
    for index, other in enumerate(inputs[1:], start=1):
        name = _count_column(other, taken, index)
        taken.add(name)
        shared_key = key is not None and key.name in other.contract.column_names and \
            other.contract.column(key.name).sql_type == key.sql_type and not other.contract.column(key.name).is_personal
        others.append((other, name, shared_key))
        text = f"Rows of {other.id} with this {key.name} (0 when none)." if shared_key else f"All rows of {other.id} (the same on every row)."
        columns.append(Col(name, "BIGINT", text, required=True, options={"minimum": 0}))
    if key is not None:
        what = f"Rows of {first.id} counted per {key.name}"
        table_description = f"One row per {key.name} of {first.id}."
        quality = ({"name": f"one_row_per_{key.name}"[:128], "metric": "duplicateValues", "arguments": {"properties": [key.name]},
                    "mustBe": 0, "description": f"Each {key.name} is counted once."},)
    else:
        what = f"The number of rows of {first.id}"
        table_description = f"One row: the size of {first.id}."
        quality = ({"name": "one_row", "metric": "rowCount", "mustBe": 1, "description": "The product is a single row of counts."},)
    if others:
        what += ", with the rows of " + ", ".join(o.id for o, _, _ in others) + " beside them"
    quality = ({"name": f"{product}_published"[:128], "metric": "rowCount", "mustBeGreaterThan": 0,
                "description": f"No row means {first.id} was empty."},) + quality
    return Design(
        kind="summary",
        columns=tuple(columns),
        table_description=table_description,
        table_quality=quality,
        purpose=f"{what}: an example of a product reading its input ports, to replace with real logic.",
        usage=f"Reads {', '.join(p.id for p in inputs)} through the platform's governed read path.",
        limitations="An example made by `mesh new product`; it counts rows and computes nothing else.",
        description=f"{what} (an example made by `mesh new product`: replace it with the product's real logic).",
        freshness=key.name if key is not None and key.sql_type == "DATE" else None,
        first=first, key=key, others=tuple(others), first_count=first_count,
    )


def python_identifier_problem(name: str) -> str | None:
    """Why `name` cannot be a Python module, function or parameter name, if it cannot."""
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword"
    return None
