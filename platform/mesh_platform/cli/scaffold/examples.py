"""The example implementations of a summary design, as a dbt model (SQL) and a Python product.

Both count rows of the first input per its key, with the other inputs' rows beside them, and
compute exactly the columns of the design's contract (a test runs both against it).
"""

from __future__ import annotations

from mesh_platform.cli.scaffold.design import Design
from mesh_platform.cli.scaffold.text import render, wrap
from mesh_platform.runtime.reserved_names import sql_keywords


def ident(name: str) -> str:
    """A column name in generated SQL: quoted only when DuckDB would read it as a keyword."""
    return f'"{name}"' if name in sql_keywords() else name


def summary_sql(domain: str, product: str, design: Design, relation: dict[str, str]) -> str:
    """The dbt model of a summary; `relation` maps an input's id to its `source(...)`/`ref(...)`."""
    header = wrap(f"{product}: {design.purpose} Made by `mesh new product`: replace it with the product's logic, and keep "
                  f"its columns those of domains/{domain}/contracts/{product}.odcs.yaml (its yml is generated from it).", "-- ")
    others = [{"relation": relation[other.id], "name": ident(name), "per_key": per_key, "alias": f"input_{index + 1}"}
              for index, (other, name, per_key) in enumerate(design.others, start=1)]
    first = {"relation": relation[design.first.id], "name": ident(design.first_count)}
    return render("summary.sql.j2", header="\n".join(header), key=ident(design.key.name) if design.key else None,
                  first_count=first["name"], first_relation=first["relation"], others=others, counts=[first, *others])


def summary_python(domain_title: str, product: str, design: Design) -> str:
    first, key = design.first, design.key
    params = [first.name] + [o.name for o, _, _ in design.others]
    # Local names never shadow an input (a product may be called `pd` or `counted`).
    pd_ = "pd" if "pd" not in params else "pandas"

    def free(name: str) -> str:
        while name in params:
            name += "_"
        return name

    per_key_counts = free(f"per_{key.name}") if key else None
    about = wrap(f"{design.purpose.split(': an example')[0]}. Made by `mesh new product`, it builds as is. Its parameters "
                 "are its input ports, named after the products they read. Replace the body with the product's logic "
                 f"and keep the contract (contracts/{product}.odcs.yaml) in step with the columns it returns.")
    others = [{"input": other.name, "name": name, "per_key": per_key, "counts": per_key_counts} for other, name, per_key in design.others]
    return render("summary.py.j2", title=domain_title, product=product, about="\n".join(about), pd=pd_, params=params,
                  first=first, first_count=design.first_count, key=key.name if key else None, counted=free("counted"), others=others)
