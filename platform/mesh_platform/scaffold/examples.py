"""The example implementations of a summary design, as a dbt model (SQL) and a Python product.

Both count rows of the first input per its key, with the other inputs' rows beside them, and
compute exactly the columns of the design's contract (a test runs both against it).
"""

from __future__ import annotations

import json
from functools import cache

from .design import Design
from .text import wrap

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


