"""Checks shared by `mesh new domain` and `mesh new product`: the names given, and the input ports
named by `--input` (existing, readable, not pinned, not making domains depend on each other in a cycle)."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from mesh_platform.cli.scaffold.design import python_identifier_problem
from mesh_platform.cli.scaffold.plan import ScaffoldError
from mesh_platform.model.access import may_read, refusal
from mesh_platform.model.descriptor import Product, parse_input_port
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.names import check_name, shown
from mesh_platform.runtime.reserved_names import reserved_problem, suggested_names

CONTEXT_PARAMETER = "context"


def checked_name(value: str, what: str, example: str) -> str:
    try:
        check_name(value, what)
    except ValueError as exc:
        raise ScaffoldError(str(exc), f"for example {example}") from None
    problem = python_identifier_problem(value)
    if problem:
        raise ScaffoldError(f"{what} {shown(value)} cannot be used: {problem} (it names a Python module)", f"for example {value}_data")
    # A domain is a package and a code location, so it must not shadow an importable module. A
    # product is not: its module is `domains.<domain>.<product>`, never top-level (the demo's
    # `shared.calendar` is fine), and its function's name is checked against definitions.py
    # when it is wired. Both become views in `mesh sql`, so neither may be a reserved SQL word.
    kind = what.split()[0]
    problem = reserved_problem(value, modules=kind == "domain")
    if problem:
        better = suggested_names(value, kind, modules=kind == "domain")
        raise ScaffoldError(f"{what} {shown(value)} cannot be used: {problem}",
                            f"did you mean {' or '.join(better)}?" if better else f"for example {example}")
    return value


def resolve_inputs(mesh: Mesh, reader: str, product: str, inputs: list[str], python: bool) -> list[Product]:
    """The products named by `--input`, each existing and readable by `reader`, or one refusal."""
    resolved: list[Product] = []
    for text in inputs:
        try:
            port = parse_input_port(text)
        except ValueError as exc:
            raise ScaffoldError(f"--input {shown(text)}: {exc}", "name an input as domain.product, e.g. flight_operations.flights") from None
        found = mesh.find(port.domain, port.product)
        if found is None:
            broken = mesh.broken.get(mesh.folder_of(port.domain))
            if broken is not None:
                raise ScaffoldError(f"--input {port.id}: domain {port.domain!r} does not load: {' '.join(str(broken).split())}",
                                    "fix that domain first (`mesh validate` shows why)")
            hint = mesh.closest(port.id)
            raise ScaffoldError(f"--input {port.id}: no domain publishes that product",
                                f"did you mean {', '.join(hint)}?" if hint else "`mesh validate` lists every domain and product")
        if found.domain == reader and found.name == product:
            raise ScaffoldError(f"--input {port.id}: a product cannot read itself", "name the products it reads")
        if not may_read(found, reader):  # said before the pin: no major of it may be read
            raise ScaffoldError(refusal(found, reader, consumer=f"new product {reader}.{product}"),
                                "read a product this domain may read, or ask its owner for access first")
        if port.major is not None:
            raise ScaffoldError(f"--input {shown(text)}: new products read the current major of their inputs",
                                f"pass {port.id}, then pin it in products/{product}.yaml (inputs: [{port.id}@v{port.major}]) if you must")
        if any(r.key == found.key for r in resolved):
            raise ScaffoldError(f"--input {port.id} is given twice", "name each input once")
        clash = next((r for r in resolved if r.name == found.name), None)
        if clash is not None:
            raise ScaffoldError(f"--input {clash.id} and --input {found.id} are both named {found.name!r}: a product's "
                                "inputs are named after the products they read, so two cannot share a name",
                                "scaffold with one of them and add the other by hand")
        if python and (python_identifier_problem(found.name) or found.name == CONTEXT_PARAMETER):
            why = python_identifier_problem(found.name) or f"{CONTEXT_PARAMETER!r} is the run context's parameter"
            raise ScaffoldError(f"--input {found.id}: a Python product takes its inputs as parameters named after them, "
                                f"and {why}", "make this product a dbt model (--dbt) in a dbt domain")
        resolved.append(found)
    _check_cycles(mesh, reader, resolved)
    return resolved


def _check_cycles(mesh: Mesh, reader: str, inputs: list[Product]) -> None:
    """Refuse inputs that would make domains depend on each other in a cycle (policy no-domain-cycles)."""
    graph = {name: set() for name in mesh.domains} | {reader: set()}
    for other in mesh.products():
        graph[other.domain] |= {p.domain for p in other.inputs if p.domain != other.domain and p.domain in graph}
    graph[reader] |= {p.domain for p in inputs if p.domain != reader}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ScaffoldError(f"--input {', '.join(p.id for p in inputs if p.domain != reader)}: domains would depend on each other "
                            f"in a cycle ({cycle}) [policy no-domain-cycles]",
                            "a domain may not read a product built from its own products; read the upstream product instead") from None
