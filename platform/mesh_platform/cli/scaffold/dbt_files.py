"""A dbt product's files: its model's entry in schema.yml (the contract's columns, enforced) and its
input ports in sources.yml, appended to the project's files when they have the usual shape
(textedit keeps their text and comments), else written to models/<product>.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

from mesh_platform.cli.scaffold.design import Design
from mesh_platform.cli.scaffold.plan import Plan, read_text
from mesh_platform.cli.scaffold.text import flow, one_line, scalar
from mesh_platform.cli.scaffold.textedit import append_to_sequence
from mesh_platform.model.descriptor import Product


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


def model_paths(dbt_dir: Path) -> list[Path]:
    """The project's model folders (dbt_project.yml's model-paths; `models` by default)."""
    config = _read_yaml(dbt_dir / "dbt_project.yml")
    paths = config.get("model-paths") if isinstance(config, dict) else None
    paths = [paths] if isinstance(paths, str) else paths
    return [dbt_dir / str(p) for p in paths] if isinstance(paths, list) and paths else [dbt_dir / "models"]


def model_dir(dbt_dir: Path) -> Path:
    return model_paths(dbt_dir)[0]


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def dbt_models(dbt_dir: Path) -> set[str]:
    return {p.stem for folder in model_paths(dbt_dir) for p in folder.rglob("*") if p.suffix in (".sql", ".py")}


def relation(product: Product, reader: str, dbt_dir: Path) -> str:
    """How the model reads an input: `ref()` for a model of its own project, else the port."""
    if product.domain == reader and product.name in dbt_models(dbt_dir):
        return "{{ ref('%s') }}" % product.name
    return "{{ source('%s', '%s') }}" % (product.domain, product.name)


def _sources_of(data) -> list[dict]:
    sources = data.get("sources") if isinstance(data, dict) else None
    return [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []


def _declared_sources(dbt_dir: Path) -> set[tuple[str, str]]:
    declared = set()
    for folder in model_paths(dbt_dir):
        for path in [*folder.rglob("*.yml"), *folder.rglob("*.yaml")]:
            for source in _sources_of(_read_yaml(path)):
                tables = source.get("tables") if isinstance(source.get("tables"), list) else []
                declared |= {(str(source.get("name")), str(t.get("name"))) for t in tables if isinstance(t, dict)}
    return declared


def plan_dbt_yml(plan: Plan, dbt_dir: Path, domain: str, product: str, design: Design, inputs: list[Product]) -> None:
    """The model's schema.yml entry and a sources.yml entry per input port not yet declared:
    appended to the project's files when they have the usual shape, else in models/<product>.yml."""
    models = model_dir(dbt_dir)
    wanted: dict[str, list[str]] = {}
    declared = _declared_sources(dbt_dir)
    for port in inputs:
        if "ref(" in relation(port, domain, dbt_dir) or (port.domain, port.name) in declared:
            continue
        wanted.setdefault(port.domain, []).append(port.name)
    own_file: list[str] = []  # what could not be appended where it belongs

    schema = models / "schema.yml"
    entry = dbt_model_entry(product, design, domain, indent="")
    if not schema.exists() and schema not in plan.creates:
        plan.create(schema, schema_yml(product, design, domain))
    else:
        before = read_text(schema)
        parsed_entry = yaml.safe_load("\n".join(entry))
        after = append_to_sequence(before, ["models"], entry, lambda data: {**data, "models": [*(data.get("models") or []), *parsed_entry]})
        if after is None:
            own_file += ["models:", *dbt_model_entry(product, design, domain)]
        else:
            plan.edit(schema, before, after, f"{plan.rel(schema)}: added model {product!r} with its columns (enforced contract)")

    if wanted:
        sources = models / "sources.yml"
        if not sources.exists():
            plan.create(sources, sources_yml(wanted))
        else:
            before = read_text(sources)
            text: str | None = before
            existing = {str(s.get("name")) for s in _sources_of(_read_yaml(sources))}
            for source, tables in wanted.items():
                if source in existing:
                    for table in tables:
                        if text is not None:
                            text = append_to_sequence(text, ["sources", ("name", source), "tables"], [f"- name: {table}"], _add_table(source, table))
                elif text is not None:
                    lines = source_entry(source, tables, indent="")
                    parsed = yaml.safe_load("\n".join(lines))
                    text = append_to_sequence(text, ["sources"], lines, lambda data, p=parsed: {**data, "sources": [*(data.get("sources") or []), *p]})
            if text is None:
                own_file += ["sources:"] + [line for source, tables in wanted.items() for line in source_entry(source, tables)]
            else:
                added = ", ".join(f"{source}.{t}" for source, tables in wanted.items() for t in tables)
                plan.edit(sources, before, text, f"{plan.rel(sources)}: added input port(s) {added} (meta: {{plugin: mesh_port}})")
    if own_file:
        path = models / f"{product}.yml"
        plan.create(path, "version: 2\n" + "\n".join(own_file) + "\n")
        plan.notes.append(f"{plan.rel(path)}: the model's columns and input ports (schema.yml / sources.yml have another shape)")


def _add_table(source: str, table: str):
    def expected(data):
        data = yaml.safe_load(yaml.safe_dump(data))  # a copy
        for entry in data["sources"]:
            if entry.get("name") == source:
                entry["tables"] = [*(entry.get("tables") or []), {"name": table}]
                break
        return data

    return expected
