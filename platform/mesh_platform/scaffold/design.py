"""What a scaffolded product holds: its columns, and the contract, dbt columns and code made from them.

Two designs: `records` (a few deterministic rows, for a product with no inputs) and `summary`
(rows of the first input counted per one of its columns, with the other inputs' rows beside them),
whose columns and types are read from the input products' contracts, so the new contract is right.
"""

from __future__ import annotations

import json
import keyword
import textwrap
from dataclasses import dataclass, field
from functools import cache

import yaml

from ..contracts.types import logical_type_of
from ..governance.global_policies import global_identifiers
from ..governance.policies import PolicyContext
from ..mesh import SHARED_DOMAIN, Mesh
from ..names import is_valid_name
from ..products.descriptor import Product

# Types a summary may group by: they pass through pandas and DuckDB unchanged.
GROUPABLE = ("VARCHAR", "BOOLEAN", "DATE", "SMALLINT", "INTEGER", "BIGINT")


def scalar(value: object) -> str:
    """`value` as one YAML flow scalar: plain when that reads back the same, quoted otherwise."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, allow_unicode=False, sort_keys=False).strip()
    return text.removesuffix("...").rstrip() if text.endswith("...") else text


flow = scalar  # a mapping or a list, in flow style: `{minimum: 1}`


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def wrap(text: str, prefix: str = "", width: int = 100) -> list[str]:
    """`text` as lines of at most `width` characters, each starting with `prefix`."""
    return textwrap.wrap(one_line(text), width=width, initial_indent=prefix, subsequent_indent=prefix,
                         break_long_words=False, break_on_hyphens=False) or [prefix.rstrip()]


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
        from ..contracts.types import parse_physical_type

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


# -- files made from a design -----------------------------------------------------------------------

def contract_text(domain: str, product: str, design: Design, team: str, contact: str, freshness_sla: bool) -> str:
    lines = [
        "# The product's ODCS v3 data contract: the port's schema, rules and SLAs. Every publish is cast",
        "# to these columns and checked against these rules first; a failing error rule blocks it.",
        "apiVersion: v3.2.0",
        "kind: DataContract",
        f"id: urn:mesh:{domain}:{product}",
        f"name: {product}",
        "version: 1.0.0",
        "status: active",
        f"domain: {domain}",
        f"dataProduct: {product}",
        "description:",
        f"  purpose: {scalar(design.purpose)}",
        f"  usage: {scalar(design.usage)}",
        f"  limitations: {scalar(design.limitations)}",
        "team:",
        f"  name: {team}",
        "  members:",
        f"    - {{username: {scalar(contact)}, role: owner}}",
        "schema:",
        f"  - name: {product}",
        f"    physicalName: {product}",
        "    logicalType: object",
        f"    description: {scalar(design.table_description)}",
        "    quality:",
    ]
    lines += _rules(design.table_quality, "      ")
    lines.append("    properties:")
    for column in design.columns:
        lines.append(f"      - name: {column.name}")
        if column.business_name:
            lines.append(f"        businessName: {scalar(column.business_name)}")
        lines.append(f"        logicalType: {column.logical_type}")
        lines.append(f"        physicalType: {column.sql_type}")
        if column.primary_key:
            lines.append("        primaryKey: true")
        elif column.required:
            lines.append("        required: true")
        if column.options:
            lines.append(f"        logicalTypeOptions: {flow(column.options)}")
        if column.enum:
            lines.append("        enum: [" + ", ".join(flow({"value": v}) for v in column.enum) + "]")
        lines.append(f"        description: {scalar(column.description)}")
        if column.relationships:
            lines.append("        relationships:")
            lines += [f"          - to: {target}" for target in column.relationships]
        if column.quality:
            lines.append("        quality:")
            lines += _rules(column.quality, "          ")
    if freshness_sla:
        lines += [
            "slaProperties:",
            "  - {property: freshness, value: 1, unit: d, "
            + (f"element: {product}.{design.freshness}, " if design.freshness else "")
            + "description: Published at least once a day.}",
        ]
    return "\n".join(lines) + "\n"


def _rules(rules: tuple[dict, ...], indent: str) -> list[str]:
    lines = []
    for rule in rules:
        first = True
        for k, v in rule.items():
            lines.append(f"{indent}{'- ' if first else '  '}{k}: {scalar(v)}")
            first = False
    return lines


def descriptor_text(product: str, design: Design, inputs: list[str], kind: str) -> str:
    from ..products.descriptor import ProductDescriptor

    text = (
        f"name: {product}\n"
        "description: >\n"
        + "\n".join(wrap(design.description, "  ")) + "\n"
        f"inputs: [{', '.join(inputs)}]\n"
    )
    if kind == "source-aligned" and "schedule" in ProductDescriptor.model_fields:
        # Where the platform publishes source-aligned products on a schedule: shown, not switched on.
        text += '# schedule: {cron: "0 6 * * *", timezone: UTC}  # uncomment to publish it every morning\n'
    return text


def dbt_model_entry(product: str, design: Design, domain: str, indent: str = "  ") -> list[str]:
    """The model's entry in schema.yml: columns and types that mirror the contract, enforced."""
    lines = [
        f"- name: {product}",
        f"  description: {scalar(f'{one_line(design.table_description).rstrip(chr(46))} (product {domain}.{product}).')}",
        "  config:",
        "    contract: {enforced: true}",
        "  columns:",
    ]
    for column in design.columns:
        entry = {"name": column.name, "data_type": column.sql_type.lower(), "description": column.description}
        text = flow(entry)
        if column.primary_key:
            text = text[:-1] + ", data_tests: [unique, not_null]}"
        lines.append(f"    - {text}")
    return [indent + line for line in lines]


def schema_yml(product: str, design: Design, domain: str) -> str:
    return (
        "version: 2\n"
        "# Columns and types mirror the products' ODCS contracts (domains/<domain>/contracts/); the\n"
        "# platform checks they agree, and dbt enforces them at build time.\n"
        "models:\n" + "\n".join(dbt_model_entry(product, design, domain)) + "\n"
    )


def source_entry(domain: str, tables: list[str], indent: str = "  ") -> list[str]:
    lines = [f"- name: {domain}", "  config:", "    meta: {plugin: mesh_port}", "  tables:"]
    lines += [f"    - name: {table}" for table in tables]
    return [indent + line for line in lines]


def sources_yml(entries: dict[str, list[str]]) -> str:
    lines = [
        "version: 2",
        "# Input ports: other domains' products, read from their Delta ports by the platform's",
        "# `mesh_port` plugin (never from their DuckDB files). Source name = producer domain.",
        "sources:",
    ]
    for domain, tables in entries.items():
        lines += source_entry(domain, tables)
    return "\n".join(lines) + "\n"


# -- implementations of the summary design ----------------------------------------------------------

@cache
def _sql_keywords() -> frozenset[str]:
    import duckdb

    with duckdb.connect() as con:
        return frozenset(row[0].lower() for row in con.sql("select keyword_name from duckdb_keywords()").fetchall())


def ident(name: str) -> str:
    """A column name in generated SQL: quoted only when DuckDB would read it as a keyword."""
    return f'"{name}"' if name in _sql_keywords() else name


def summary_sql(domain: str, product: str, design: Design, relation: dict[str, str]) -> str:
    """The dbt model of a summary; `relation` maps an input's id to its `source(...)`/`ref(...)`."""
    first, key = design.first, design.key
    header = wrap(f"{product}: {design.purpose} Made by `mesh new product`: replace it with the product's logic, and keep "
                  f"models/schema.yml and domains/{domain}/contracts/{product}.odcs.yaml in step with its columns.", "-- ")
    if key is None:
        select = [f"    (select count(*) from {relation[first.id]}) as {ident(design.first_count)}"]
        select += [f"    (select count(*) from {relation[o.id]}) as {ident(name)}" for o, name, _ in design.others]
        return "\n".join(header + ["select"] + _commas(select)) + "\n"
    k = ident(key.name)
    ctes = [f"with counted as (\n    select {k}, count(*) as {ident(design.first_count)}\n    from {relation[first.id]}\n    group by {k}\n)"]
    select = [f"    counted.{k}", f"    counted.{ident(design.first_count)}"]
    joins = []
    for index, (other, name, per_key) in enumerate(design.others, start=1):
        if per_key:
            alias = f"input_{index + 1}"
            ctes.append(f"{alias} as (\n    select {k}, count(*) as {ident(name)}\n    from {relation[other.id]}\n    group by {k}\n)")
            select.append(f"    coalesce({alias}.{ident(name)}, 0) as {ident(name)}")
            joins.append(f"left join {alias} using ({k})")
        else:
            select.append(f"    (select count(*) from {relation[other.id]}) as {ident(name)}")
    body = ",\n".join(ctes) + "\nselect\n" + "\n".join(_commas(select)) + "\nfrom counted\n" + "".join(j + "\n" for j in joins)
    return "\n".join(header) + "\n" + body


def _commas(lines: list[str]) -> list[str]:
    return [line + ("," if i < len(lines) - 1 else "") for i, line in enumerate(lines)]


def summary_python(domain_title: str, product: str, design: Design) -> str:
    first, key = design.first, design.key
    params = [first.name] + [o.name for o, _, _ in design.others]
    # Local names never shadow an input (a product may be called `pd` or `counted`).
    pd_ = "pd" if "pd" not in params else "pandas"

    def free(name: str) -> str:
        while name in params:
            name += "_"
        return name

    counted = free("counted")
    signature = ", ".join(f"{p}: {pd_}.DataFrame" for p in params)
    body: list[str] = []
    q = json.dumps  # a string literal as the demo code writes them: "origin"
    if key is None:
        doc = f"One row: the number of rows of {first.id}" + (" and of the other inputs." if design.others else ".")
        counts = [f"{q(design.first_count)}: [len({first.name})]"] + [f"{q(name)}: [len({o.name})]" for o, name, _ in design.others]
        body.append(f"    return {pd_}.DataFrame({{" + ", ".join(counts) + "})")
    else:
        doc = f"Rows of {first.id} per {key.name}" + (", with the other inputs' rows beside them." if design.others else ".")
        body.append(f"    {counted} = {first.name}.groupby({q(key.name)}, as_index=False).size()")
        body.append(f"    {counted} = {counted}.rename(columns={{{q('size')}: {q(design.first_count)}}})")
        for other, name, per_key in design.others:
            if per_key:
                per_key_counts = free(f"per_{key.name}")
                body.append(f"    {per_key_counts} = {other.name}.groupby({q(key.name)}).size().rename({q(name)}).reset_index()")
                body.append(f"    {counted} = {counted}.merge({per_key_counts}, on={q(key.name)}, how={q('left')})")
                body.append(f"    {counted}[{q(name)}] = {counted}[{q(name)}].fillna(0).astype({q('int64')})  # 0: none with this {key.name}")
            else:
                body.append(f"    {counted}[{q(name)}] = len({other.name})")
        body.append(f"    return {counted}")
    return "\n".join([
        f'"""{domain_title}\'s product {product}: an example that reads its input ports.',
        "",
        *wrap(f"{design.purpose.split(': an example')[0]}. Made by `mesh new product`, it builds as is. Its parameters "
              "are its input ports, named after the products they read. Replace the body with the product's logic "
              f"and keep the contract (contracts/{product}.odcs.yaml) in step with the columns it returns."),
        '"""',
        "",
        f"import pandas as {pd_}" if pd_ == "pd" else "import pandas",
        "",
        "from mesh_platform import product",
        "",
        "",
        "@product",
        f"def {product}({signature}) -> {pd_}.DataFrame:",
        f'    """{doc}"""',
        *body,
        "",
    ])


def python_identifier_problem(name: str) -> str | None:
    """Why `name` cannot be a Python module, function or parameter name, if it cannot."""
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword"
    return None
