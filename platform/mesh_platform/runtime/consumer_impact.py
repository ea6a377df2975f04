"""Consumer impact: which columns each consumer reads of its inputs, and which consumers a change
to a product's contract breaks.

What a consumer reads of an input port:
- a dbt product: the columns its compiled SQL reads (runtime/dbt_sql.py, model/sql_usage.py),
  its own and those of the project's models it is built from; a model whose SQL cannot be
  analysed is assumed to read every column (said so in the finding);
- a Python product: the columns it declares (`columns:`; the IO manager hands it only those, so a
  wrong declaration fails its own run), else every column of the input (conservative);
- an input the compiled SQL does not reach through a port source, or reads with a star form or a
  whole row (DuckDB's COLUMNS(*), struct_pack(*)): every column.

A change breaks a consumer when it makes a breaking (major) change to a column the consumer reads,
unless the consumer pins an older major that the new contract keeps readable
(customProperties previousMajorReadableUntil, a date not yet passed). The `consumer-impact` policy
(global_policies.py) reports each broken consumer in one line; `mesh impact` may call
`broken_consumers` directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from mesh_platform.model.contracts import Contract
from mesh_platform.model.contracts.versions import diff_contracts, retirement_of
from mesh_platform.model.descriptor import Domain, Product
from mesh_platform.model.errors import MeshError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.sql_usage import SqlUsage, SqlUsageError, analyse_sql

Key = tuple[str, str]  # an input port's (domain, product)


@dataclass(frozen=True)
class InputUsage:
    """The columns a consumer reads of one input port; `columns` None: every column."""

    columns: frozenset[str] | None
    how: str  # where this comes from, said in findings: "its dbt model's SQL", ...


@dataclass(frozen=True)
class BrokenConsumer:
    consumer: str  # the consumer product's id
    input: str  # the input port as the consumer declares it (shared.carriers, or shared.carriers@v1)
    changes: tuple[tuple[str, str], ...]  # (column it reads, what changed)
    how: str
    remedy: str  # what keeps it working: pinning the major it reads now, or changing its code

    def line(self) -> str:
        """One line naming the consumer, the input, the columns and what changed."""
        columns = ", ".join(c for c, _ in self.changes)
        what = "; ".join(text for _, text in self.changes)
        return (f"breaks consumer {self.consumer}: it reads column{'s' if len(self.changes) > 1 else ''} {columns} of {self.input} "
                f"({self.how}): {what}; {self.remedy}")


def breaking_columns(before: Contract, after: Contract) -> dict[str, list[str]]:
    """Column -> the breaking changes `after` makes to it against `before`."""
    changed: dict[str, list[str]] = {}
    for change in diff_contracts(before, after).changes:
        if change.level == "major" and change.subject in before.column_names:
            changed.setdefault(change.subject, []).append(change.text)
    return changed


def broken_consumers(mesh: Mesh, changed_product: Product, new_contract: Contract, *, before: Contract | None = None,
                     today: dt.date | None = None) -> list[BrokenConsumer]:
    """Every consumer of `changed_product` that `new_contract` breaks, compared with `before`: the
    contract its consumers read now (by default the port's last publish; the one at a git base
    for `mesh validate --base`). Nothing is broken when nothing was published."""
    if before is None:
        from mesh_platform.runtime.ports.store import port_store  # reason: the port store loads only when no contract is given
        from mesh_platform.runtime.ports.withdrawal import latest_serving  # reason: with the port store

        # A withdrawn major is no longer what consumers read (runtime/ports/withdrawal.py).
        published = latest_serving(port_store(mesh.root, acting=changed_product.domain), changed_product.domain, changed_product.name)
        if published is None:
            return []
        before = published[1]
    changed = breaking_columns(before, new_contract)
    if not changed:
        return []
    today = today or dt.date.today()
    until = retirement_of(new_contract)
    broken = []
    for consumer in mesh.consumers_of(changed_product):
        port = next(p for p in consumer.inputs if p.key == changed_product.key)
        if port.major is not None and port.major < new_contract.major and until is not None and until >= today:
            continue  # it reads the previous major, kept readable until `until`
        usage = input_usage(mesh, consumer, {changed_product.key: before}).get(changed_product.key)
        if usage is None:
            continue
        read = [c for c in changed if usage.columns is None or c in usage.columns]
        if read:
            pin = f"{port.id}@v{port.major}" if port.major is not None else port.id
            broken.append(BrokenConsumer(consumer.id, pin, tuple((c, "; ".join(changed[c])) for c in read), usage.how,
                                         _remedy(port.id, before, new_contract, until)))
    return broken


def undeclared_columns(mesh: Mesh, consumer: Product) -> list[str]:
    """The columns a product's descriptor says it reads (`columns:`, `lineage:`) that its input's
    contract does not declare: one message each."""
    named = [(address, column, f"columns.{address}") for address, columns in consumer.descriptor.columns for column in columns]
    named += [(origin.rpartition(".")[0], origin.rpartition(".")[2], f"lineage.{output}")
              for output, origins in consumer.descriptor.lineage for origin in origins]
    problems = []
    for address, column, field in named:
        producer = mesh.find(*address.split("."))
        if producer is not None and mesh.unavailable(*producer.key) is None and column not in producer.contract.column_names:
            problems.append(f"{consumer.path.name}: {field}: {address} declares no column {column!r}")
    for output, _ in consumer.descriptor.lineage:
        if output not in consumer.contract.column_names:
            problems.append(f"{consumer.path.name}: lineage: {output!r} is not a column of {consumer.contract_path.name}")
    return problems


def _remedy(port: str, before: Contract, after: Contract, until: dt.date | None) -> str:
    if after.major > before.major and until is not None:
        return f"pin {port}@v{before.major} in the consumer (readable until {until}) or stop reading the column"
    if after.major > before.major:
        return f"declare until when v{before.major} stays readable (previousMajorReadableUntil) and pin {port}@v{before.major} in the consumer"
    return "a breaking change needs a new major, which the consumer can then avoid by pinning the current one"


def input_usage(mesh: Mesh, consumer: Product, contracts: Mapping[Key, Contract] | None = None) -> dict[Key, InputUsage]:
    """What `consumer` reads of each of its input ports. `contracts` overrides the contract an
    input is analysed against (the one the consumer reads now, when the producer's changed)."""
    domain = mesh.domains.get(consumer.domain)
    keys = [p.key for p in consumer.inputs]
    declared = dict(consumer.descriptor.columns)
    python = {k: InputUsage(frozenset(declared[f"{k[0]}.{k[1]}"]), "the columns it declares") if f"{k[0]}.{k[1]}" in declared
              else InputUsage(None, "a Python product that declares no columns of it: every column assumed") for k in keys}
    if domain is None or not domain.descriptor.dbt_project:
        return python
    try:
        analysed = dbt_product_usage(mesh, domain, contracts or {})
    except MeshError as exc:
        return {k: InputUsage(None, f"its dbt project could not be compiled ({' '.join(str(exc).split())[:200]}): every column assumed") for k in keys}
    if consumer.name not in analysed:
        return python
    # An input the compiled SQL does not reach through a port source (a hard-coded relation, a
    # macro's own query, a Python model) may still be read: assume every column, never none.
    unseen = InputUsage(None, "not read through a port source: every column assumed")
    return {k: analysed[consumer.name].get(k, unseen) for k in keys}


def dbt_product_usage(mesh: Mesh, domain: Domain, contracts: Mapping[Key, Contract]) -> dict[str, dict[Key, InputUsage]]:
    """Per model of the domain's dbt project: what it reads of each input port, directly or
    through the project's models it is built from."""
    from mesh_platform.runtime.dbt_sql import compiled_models  # reason: dbt compiles only when a consumer's usage is asked

    models = compiled_models(mesh.root, domain)
    analyses = analyse_models(mesh, models, contracts)
    usage: dict[str, dict[Key, InputUsage]] = {}

    def of(name: str, seen: frozenset[str] = frozenset()) -> dict[Key, InputUsage]:
        if name in usage:
            return usage[name]
        model = models[name]
        own: dict[Key, InputUsage] = {}
        result = analyses.get(name)
        for relation, key in model.ports.items():
            if isinstance(result, SqlUsage):
                columns = result.used.get(relation, frozenset())
                own[key] = InputUsage(columns, "its dbt model's SQL" if columns is not None
                                      else "its dbt model's SQL reads it whole (a star form or a whole row): every column assumed")
            else:
                own[key] = InputUsage(None, f"its dbt model's SQL could not be analysed ({result}): every column assumed")
        for parent in model.parents:
            if parent in models and parent not in seen:
                for key, inherited in of(parent, seen | {name}).items():
                    own[key] = _union(own.get(key), inherited)
        usage[name] = own
        return own

    for name in models:
        of(name)
    return usage


def analyse_models(mesh: Mesh, models: Mapping, contracts: Mapping[Key, Contract]) -> dict[str, SqlUsage | str]:
    """Each SQL model's analysis (or why it failed), producers' models first: a model's output
    columns are the schema of the models that read it."""
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for model in models.values():
        for relation, key in model.ports.items():
            contract = contracts.get(key) or _current_contract(mesh, key)
            if contract is not None:
                tables[relation] = {c.name: c.sql_type for c in contract.columns}
    results: dict[str, SqlUsage | str] = {}
    pending = dict(models)
    while pending:
        ready = [n for n, m in pending.items() if all(p not in pending for p in m.parents)] or list(pending)[:1]
        for name in ready:
            model = pending.pop(name)
            if model.language != "sql" or not model.sql:
                results[name] = "not a SQL model"
                continue
            try:
                results[name] = analyse_sql(model.sql, tables)
                tables[model.relation] = dict.fromkeys(results[name].outputs, "UNKNOWN")
            except SqlUsageError as exc:
                results[name] = str(exc)
    return results


def _current_contract(mesh: Mesh, key: Key) -> Contract | None:
    producer = mesh.find(*key)
    if producer is None or mesh.unavailable(*key) is not None:
        return None
    return producer.contract


def _union(a: InputUsage | None, b: InputUsage) -> InputUsage:
    if a is None:
        return b
    if a.columns is None or b.columns is None:
        return a if a.columns is None else b
    return InputUsage(a.columns | b.columns, a.how)
