"""`mesh new domain` and `mesh new product`: plan every file first, then write them all or none.

A plan is computed in memory — names checked, inputs resolved and access-checked, every new file
rendered and parsed back, every edit of workspace.yaml, definitions.py or a dbt .yml verified —
before anything is written. Then the files are written; any failure while writing, or a new
product that would not pass the mesh's global policies, restores every edited file and removes
every created file and folder, so a refused or failed command leaves the tree as it found it.
"""

from __future__ import annotations

import ast
import difflib
import os
import tempfile
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import get_args

import pydantic
import yaml

from ..errors import MeshError
from ..governance.access import may_read, refusal
from ..mesh import DOMAINS_FOLDER, SHARED_DOMAIN, Mesh, workspace_locations
from ..names import check_name, reserved_problem, shown, suggested_names
from ..products.descriptor import DomainDescriptor, Owner, Product, ProductKind, parse_input_port
from ..settings import WORKSPACE_FILE
from . import design as d
from .textedit import append_to_sequence, wire_product

KINDS: tuple[str, ...] = get_args(ProductKind)
DEFAULT_KIND = "source-aligned"
DEFAULT_PRODUCT = "example_records"
# Module names a Python product may not take: the domain's own files and folders.
RESERVED_MODULES = {"definitions", "products", "contracts", "domain"}
CONTEXT_PARAMETER = "context"
# dbt's own packages: a project of the same name does not parse.
DBT_RESERVED = {"dbt", "dbt_duckdb"}


class ScaffoldError(MeshError):
    """A scaffold command refused, or could not finish: nothing was written (or all was undone)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass
class Plan:
    root: Path
    title: str  # what was made, for the summary line
    domain: str
    products: list[str]
    creates: dict[Path, str] = field(default_factory=dict)
    edits: dict[Path, tuple[str, str]] = field(default_factory=dict)  # path -> (text before, text after)
    notes: list[str] = field(default_factory=list)  # what each edit did, or what to do by hand
    # A product of `shared` defines global identifiers every other product is checked against: the
    # error policies the mesh failed before, so the check can tell what the new product breaks.
    baseline: set[tuple[str, str, str]] | None = None

    def create(self, path: Path, text: str) -> None:
        if path.exists() or path in self.creates:
            raise ScaffoldError(f"{self.rel(path)} already exists", "pick another name, or remove that file first")
        self.creates[path] = text

    def edit(self, path: Path, before: str, after: str, note: str) -> None:
        self.edits[path] = (self.edits.get(path, (before,))[0], after)
        self.notes.append(note)

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


# -- checks shared by both commands --------------------------------------------------------------------

def _name(value: str, what: str, example: str) -> str:
    try:
        check_name(value, what)
    except ValueError as exc:
        raise ScaffoldError(str(exc), f"for example {example}") from None
    problem = d.python_identifier_problem(value)
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
        if python and (d.python_identifier_problem(found.name) or found.name == CONTEXT_PARAMETER):
            why = d.python_identifier_problem(found.name) or f"{CONTEXT_PARAMETER!r} is the run context's parameter"
            raise ScaffoldError(f"--input {found.id}: a Python product takes its inputs as parameters named after them, "
                                f"and {why}", "make this product a dbt model (--dbt) in a dbt domain")
        resolved.append(found)
    _check_cycles(mesh, reader, resolved)
    return resolved


def _check_cycles(mesh: Mesh, reader: str, inputs: list[Product]) -> None:
    """Refuse inputs that would make domains depend on each other in a cycle (policy no-domain-cycles)."""
    from graphlib import CycleError, TopologicalSorter

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


def _workspace_edit(plan: Plan, location: str, module: str) -> None:
    path = plan.root / WORKSPACE_FILE
    before = _read(path)
    entry = {"python_module": {"module_name": module, "working_directory": ".", "location_name": location}}
    lines = ["- python_module:", f"    module_name: {module}", "    working_directory: .", f"    location_name: {location}"]
    after = append_to_sequence(
        before, ["load_from"], lines, lambda data: {**data, "load_from": [*(data.get("load_from") or []), entry]}
    )
    if after is None:
        raise ScaffoldError(
            f"{WORKSPACE_FILE} does not have the shape this command edits (a block list under load_from:), so it "
            "was left alone and nothing was created",
            f"add this entry under load_from: yourself: {{python_module: {{module_name: {module}, working_directory: ., location_name: {location}}}}}",
        )
    plan.edit(path, before, after, f"{WORKSPACE_FILE}: added code location {location!r} ({module})")


# -- the product: descriptor, contract and implementation ---------------------------------------------

def _product_files(
    plan: Plan, mesh: Mesh, folder: Path, domain: str, kind: str, owner: Owner, product: str,
    inputs: list[Product], dbt_dir: Path | None, description: str | None,
) -> d.Design:
    title = domain.replace("_", " ").capitalize()
    key = f"{product}_id"[:63] if domain == SHARED_DOMAIN else "record_id"
    design = d.summary_design(product, inputs, mesh) if inputs else d.records_design(product, title, key)
    if description:
        design = _with_description(design, description)
    plan.create(folder / "products" / f"{product}.yaml", d.descriptor_text(product, design, [p.id for p in inputs], kind))
    plan.create(folder / "contracts" / f"{product}.odcs.yaml",
                d.contract_text(domain, product, design, owner.team, owner.contact, freshness_sla=True))
    if dbt_dir is None:
        text = _template("records.py.tmpl", title=title, product=product, key=key) if not inputs else d.summary_python(title, product, design)
        plan.create(folder / f"{product}.py", text)
    else:
        models = _model_dir(dbt_dir)
        if not inputs:
            sql = _template("records.sql.tmpl", product=product, key=key)
        else:
            sql = d.summary_sql(domain, product, design, {p.id: _relation(p, domain, dbt_dir) for p in inputs})
        plan.create(models / f"{product}.sql", sql)
        _dbt_yml(plan, dbt_dir, domain, product, design, inputs)
    return design


def _with_description(design: d.Design, description: str) -> d.Design:
    from dataclasses import replace

    return replace(design, description=description)


def _model_paths(dbt_dir: Path) -> list[Path]:
    """The project's model folders (dbt_project.yml's model-paths; `models` by default)."""
    config = _read_yaml(dbt_dir / "dbt_project.yml")
    paths = config.get("model-paths") if isinstance(config, dict) else None
    paths = [paths] if isinstance(paths, str) else paths
    return [dbt_dir / str(p) for p in paths] if isinstance(paths, list) and paths else [dbt_dir / "models"]


def _model_dir(dbt_dir: Path) -> Path:
    return _model_paths(dbt_dir)[0]


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _dbt_models(dbt_dir: Path) -> set[str]:
    return {p.stem for folder in _model_paths(dbt_dir) for p in folder.rglob("*") if p.suffix in (".sql", ".py")}


def _relation(product: Product, reader: str, dbt_dir: Path) -> str:
    """How the model reads an input: `ref()` for a model of its own project, else the port."""
    if product.domain == reader and product.name in _dbt_models(dbt_dir):
        return "{{ ref('%s') }}" % product.name
    return "{{ source('%s', '%s') }}" % (product.domain, product.name)


def _sources_of(data) -> list[dict]:
    sources = data.get("sources") if isinstance(data, dict) else None
    return [s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else []


def _declared_sources(dbt_dir: Path) -> set[tuple[str, str]]:
    declared = set()
    for folder in _model_paths(dbt_dir):
        for path in [*folder.rglob("*.yml"), *folder.rglob("*.yaml")]:
            for source in _sources_of(_read_yaml(path)):
                tables = source.get("tables") if isinstance(source.get("tables"), list) else []
                declared |= {(str(source.get("name")), str(t.get("name"))) for t in tables if isinstance(t, dict)}
    return declared


def _dbt_yml(plan: Plan, dbt_dir: Path, domain: str, product: str, design: d.Design, inputs: list[Product]) -> None:
    """The model's schema.yml entry and a sources.yml entry per input port not yet declared:
    appended to the project's files when they have the usual shape, else in models/<product>.yml."""
    models = _model_dir(dbt_dir)
    wanted: dict[str, list[str]] = {}
    declared = _declared_sources(dbt_dir)
    for port in inputs:
        if "ref(" in _relation(port, domain, dbt_dir) or (port.domain, port.name) in declared:
            continue
        wanted.setdefault(port.domain, []).append(port.name)
    own_file: list[str] = []  # what could not be appended where it belongs

    schema = models / "schema.yml"
    entry = d.dbt_model_entry(product, design, domain, indent="")
    if not schema.exists() and schema not in plan.creates:
        plan.create(schema, d.schema_yml(product, design, domain))
    else:
        before = _read(schema)
        parsed_entry = yaml.safe_load("\n".join(entry))
        after = append_to_sequence(before, ["models"], entry, lambda data: {**data, "models": [*(data.get("models") or []), *parsed_entry]})
        if after is None:
            own_file += ["models:", *d.dbt_model_entry(product, design, domain)]
        else:
            plan.edit(schema, before, after, f"{plan.rel(schema)}: added model {product!r} with its columns (enforced contract)")

    if wanted:
        sources = models / "sources.yml"
        if not sources.exists():
            plan.create(sources, d.sources_yml(wanted))
        else:
            before = _read(sources)
            text: str | None = before
            existing = {str(s.get("name")) for s in _sources_of(_read_yaml(sources))}
            for source, tables in wanted.items():
                if source in existing:
                    for table in tables:
                        if text is not None:
                            text = append_to_sequence(text, ["sources", ("name", source), "tables"], [f"- name: {table}"], _add_table(source, table))
                elif text is not None:
                    lines = d.source_entry(source, tables, indent="")
                    parsed = yaml.safe_load("\n".join(lines))
                    text = append_to_sequence(text, ["sources"], lines, lambda data, p=parsed: {**data, "sources": [*(data.get("sources") or []), *p]})
            if text is None:
                own_file += ["sources:"] + [line for source, tables in wanted.items() for line in d.source_entry(source, tables)]
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


def _read(path: Path) -> str:
    """A file's text exactly (line endings kept), so an edit or an undo changes only what it means to."""
    with open(path, newline="") as f:
        return f.read()


def _template(name: str, **values: str) -> str:
    return Template((files(__package__) / "templates" / name).read_text()).substitute(values)


def _docstring(text: str) -> str:
    return "\n".join(d.wrap(text.replace("\\", "\\\\").replace('"', '\\"'), width=96))


# -- mesh new domain -------------------------------------------------------------------------------

def plan_new_domain(
    root: Path, name: str, *, kind: str = DEFAULT_KIND, dbt: bool = False, team: str | None = None,
    contact: str | None = None, description: str | None = None, product: str = DEFAULT_PRODUCT,
    inputs: list[str] | None = None,
) -> Plan:
    name = _name(name, "domain name", "inventory or crew_rostering")
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {shown(kind)}", f"--kind is one of {', '.join(KINDS)}")
    product = _name(product, "product name", "stock_levels")
    if product in RESERVED_MODULES and not dbt:
        raise ScaffoldError(f"product name {product!r} is taken by the domain's own files", f"for example {name}_{product}")
    mesh = Mesh.load(root)
    folder = root / DOMAINS_FOLDER / name
    locations = workspace_locations(root)
    module = f"{DOMAINS_FOLDER}.{name}.definitions"
    if name in mesh.domains or name == SHARED_DOMAIN:
        where = mesh.domains[name].folder if name in mesh.domains else root / "shared_assets"
        raise ScaffoldError(f"domain {name!r} already exists ({_rel(root, where)})", f"add a product to it: mesh new product {name} NAME")
    if folder.exists():
        raise ScaffoldError(f"{_rel(root, folder)} already exists", "pick another name, or remove that folder first")
    if name in locations or module in locations.values():
        raise ScaffoldError(f"{WORKSPACE_FILE} already has a code location {name!r}", f"pick another name, or remove it from {WORKSPACE_FILE}")
    if dbt and name in DBT_RESERVED:
        raise ScaffoldError(f"domain name {name!r} cannot name a dbt project: dbt's own package has that name", f"for example {name}_models")
    dbt_dir = root / "dbt_projects" / name if dbt else None
    if dbt_dir is not None and dbt_dir.exists():
        raise ScaffoldError(f"{_rel(root, dbt_dir)} already exists", "pick another name, or remove that dbt project first")
    try:
        owner = Owner(team=team or name, contact=contact or f"{name.replace('_', '-')}@mesh.example")
    except pydantic.ValidationError as exc:
        raise ScaffoldError(f"owner: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", "--team is snake_case, --contact an e-mail address") from None
    title = name.replace("_", " ").capitalize()
    description = d.one_line(description) or (
        f"{title}: {kind} data products owned by team {owner.team} (made with `mesh new domain`; say here what they hold and for whom)."
    )
    resolved = resolve_inputs(mesh, name, product, list(inputs or []), python=not dbt)

    plan = Plan(root=root, title=f"domain {name} ({kind}, {'dbt' if dbt else 'Python'})", domain=name, products=[product])
    domain_yaml = _template("domain.yaml.tmpl", domain=name, kind=kind, description="\n".join(d.wrap(description, "  ")).lstrip(), team=owner.team,
                            contact=d.scalar(owner.contact))
    if dbt:
        domain_yaml += f"dbt_project: {name}\n"
    _check_domain_yaml(domain_yaml)
    plan.create(folder / "domain.yaml", domain_yaml)
    plan.create(folder / "__init__.py", "")
    docstring = _docstring(f"{title}: {description.removeprefix(f'{title}: ')}")
    if dbt:
        plan.create(folder / "definitions.py", _template("definitions_dbt.py.tmpl", docstring=docstring, domain=name))
        plan.create(dbt_dir / "dbt_project.yml", _template("dbt_project.yml.tmpl", domain=name))
    else:
        plan.create(folder / "definitions.py", _template(
            "definitions_python.py.tmpl", docstring=docstring, module=f"{DOMAINS_FOLDER}.{name}.{product}", product=product))
    _product_files(plan, mesh, folder, name, kind, owner, product, resolved, dbt_dir, None)
    _workspace_edit(plan, name, module)
    _compile_python(plan)
    return plan


def _check_domain_yaml(text: str) -> None:
    try:
        DomainDescriptor.model_validate(yaml.safe_load(text))
    except (pydantic.ValidationError, yaml.YAMLError) as exc:
        raise ScaffoldError(f"the domain descriptor would not be valid: {' '.join(str(exc).split())[:300]}",
                            "check --description, --team and --contact") from None


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) + ("/" if path.is_dir() else "")
    except ValueError:
        return str(path)


# -- mesh new product ------------------------------------------------------------------------------

def plan_new_product(
    root: Path, domain: str, name: str, *, inputs: list[str] | None = None, implementation: str | None = None,
    description: str | None = None, wire: bool = True,
) -> Plan:
    domain = _name(domain, "domain name", "flight_operations")
    name = _name(name, "product name", "stock_levels")
    mesh = Mesh.load(root)
    folder = mesh.folder_of(domain)
    if domain not in mesh.domains:
        if folder in mesh.broken:
            raise ScaffoldError(f"domain {domain!r} does not load: {' '.join(str(mesh.broken[folder]).split())}",
                                "fix it first (`mesh validate` shows why)")
        hint = difflib.get_close_matches(domain, sorted(mesh.domains), n=3, cutoff=0.5)
        raise ScaffoldError(f"no domain {domain!r} in this mesh",
                            f"did you mean {', '.join(hint)}?" if hint else f"create it first: mesh new domain {domain}")
    owning = mesh.domains[domain]
    if name in owning.products or (folder / "products" / f"{name}.yaml").exists() or (folder / "contracts" / f"{name}.odcs.yaml").exists():
        raise ScaffoldError(f"product {domain}.{name} already exists ({_rel(root, folder / 'products' / f'{name}.yaml')})",
                            "pick another name; to change it, edit its descriptor and contract")
    dbt_project = owning.descriptor.dbt_project
    implementation = implementation or ("dbt" if dbt_project else "python")
    if implementation not in ("dbt", "python"):
        raise ScaffoldError(f"unknown implementation {shown(implementation)}", "use --dbt or --python")
    dbt_dir = None
    if implementation == "dbt":
        if not dbt_project:
            raise ScaffoldError(f"domain {domain!r} has no dbt project (no dbt_project in its domain.yaml)",
                                "drop --dbt: its products are Python functions")
        dbt_dir = root / "dbt_projects" / dbt_project
        if not (dbt_dir / "dbt_project.yml").is_file():
            raise ScaffoldError(f"{_rel(root, dbt_dir)} is not a dbt project (no dbt_project.yml)", "fix the domain's dbt_project first")
        if name in _dbt_models(dbt_dir):
            raise ScaffoldError(f"dbt project {dbt_project!r} already has a model named {name!r}", "pick another name")
    elif name in RESERVED_MODULES or (folder / name).exists() or (folder / f"{name}.py").exists():
        taken = next((p for p in (folder / f"{name}.py", folder / name) if p.exists()), folder / f"{name}.py")
        raise ScaffoldError(f"product name {name!r} is taken by the domain's own files ({_rel(root, taken)})",
                            f"for example {domain}_{name}")
    resolved = resolve_inputs(mesh, domain, name, list(inputs or []), python=implementation == "python")

    plan = Plan(root=root, title=f"product {domain}.{name} ({implementation})", domain=domain, products=[name])
    if domain == SHARED_DOMAIN:
        plan.baseline = _failing(mesh, [p for p in mesh.products()])
    _product_files(plan, mesh, folder, domain, owning.descriptor.kind, owning.descriptor.owner, name, resolved, dbt_dir,
                   d.one_line(description) or None)
    if implementation == "python":
        _wire(plan, folder, name, wire)
    _compile_python(plan)
    return plan


def _wire(plan: Plan, folder: Path, name: str, wire: bool) -> None:
    definitions = folder / "definitions.py"
    package = ".".join(folder.relative_to(plan.root).parts)
    module = f"{package}.{name}"
    todo = f"add `from {module} import {name}` to {plan.rel(definitions)} and {name} to the products=[...] of its domain_definitions(...) call"
    if not wire:
        plan.notes.append(f"not wired (--no-wire): {todo}")
        return
    before = _read(definitions) if definitions.is_file() else ""
    try:
        bound = _module_names(before)
    except SyntaxError:
        bound = set()
    if name in bound:
        raise ScaffoldError(f"{plan.rel(definitions)} already defines the name {name!r}, so the product's function cannot be imported there",
                            f"pick another product name, or rerun with --no-wire and then {todo}")
    after = wire_product(before, module, name) if before else None
    if after is None:
        raise ScaffoldError(
            f"{plan.rel(definitions)} does not have the shape this command edits (one `domain_definitions(__file__, products=[...])` "
            "call), so nothing was created",
            f"rerun with --no-wire, then {todo}",
        )
    plan.edit(definitions, before, after, f"{plan.rel(definitions)}: imported {name} and added it to products=[...]")


def _module_names(text: str) -> set[str]:
    names = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _compile_python(plan: Plan) -> None:
    """Generated Python is compiled and generated YAML parsed before anything is written."""
    for path, text in [*plan.creates.items(), *((p, new) for p, (_, new) in plan.edits.items())]:
        try:
            if path.suffix == ".py":
                compile(text, str(path), "exec")
            elif path.suffix in (".yml", ".yaml"):
                yaml.safe_load(text)
        except (SyntaxError, yaml.YAMLError) as exc:  # a bug of this command, never the user's
            raise ScaffoldError(f"internal error: the generated {plan.rel(path)} does not parse: {' '.join(str(exc).split())}",
                                "please report it; nothing was written") from None
        if path.name.endswith(".odcs.yaml"):
            from ..contracts.model import contract_from_mapping

            contract_from_mapping(yaml.safe_load(text), path)


# -- writing: all or nothing -------------------------------------------------------------------------

def apply(plan: Plan, check=None) -> None:
    """Write the plan; undo everything on any failure (including `check` refusing the result)."""
    created_files: list[Path] = []
    created_dirs: list[Path] = []
    restored: dict[Path, tuple[str, os.stat_result]] = {}
    try:
        for path, (before, _) in plan.edits.items():
            if _read(path) != before:
                raise ScaffoldError(f"{plan.rel(path)} changed while this command ran", "run it again")
        for path, text in plan.creates.items():
            for parent in reversed(path.parents):
                if not parent.exists():
                    parent.mkdir()
                    created_dirs.append(parent)
            with open(path, "x", newline="") as out:  # never overwrite a file that appeared meanwhile
                created_files.append(path)
                out.write(text)
        for path, (before, after) in plan.edits.items():
            stat = path.stat()
            _replace(path, after)  # atomic: on failure the file is as it was
            restored[path] = (before, stat)
        if check is not None:
            check(plan)
    except BaseException:
        _undo(restored, created_files, created_dirs)
        raise


def _undo(restored: dict[Path, tuple[str, os.stat_result]], created_files: list[Path], created_dirs: list[Path]) -> None:
    """Put every edited file back (with its times) and remove what was created; one step failing
    does not stop the others."""
    for path, (before, stat) in restored.items():
        try:
            _replace(path, before)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as it was: no tool sees a change
        except OSError:
            pass
    for path in reversed(created_files):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
    for folder in reversed(created_dirs):
        try:
            folder.rmdir()
        except OSError:
            pass


def _replace(path: Path, text: str) -> None:
    """Replace a file's text atomically, keeping its permissions."""
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def policy_check(plan: Plan) -> None:
    """The new products pass every global error policy in the mesh as now written, or the
    command fails (and `apply` undoes it) naming the policy and why."""
    from ..governance.global_policies import GLOBAL_POLICIES
    from ..governance.policies import PolicyContext, combine, evaluate

    mesh = Mesh.load(plan.root)
    folder = mesh.folder_of(plan.domain)
    if folder in mesh.broken:
        raise ScaffoldError(f"internal error: the new files do not load: {' '.join(str(mesh.broken[folder]).split())}",
                            "please report it; everything was undone")
    domain = mesh.domains[plan.domain]
    new = [domain.products[p] for p in plan.products]
    report = evaluate(new, PolicyContext(mesh), combine(GLOBAL_POLICIES, (), plan.domain))
    problems = [f"[{f.policy}] {m}" for f in report.findings if f.severity == "error" and f.status != "pass" for m in f.messages]
    if problems:
        raise ScaffoldError(f"the new product would not pass the mesh's policies, so nothing was kept: {'; '.join(problems)}",
                            "change the inputs or names and run the command again")
    if plan.baseline is not None:
        broken = sorted(_failing(mesh, [p for p in mesh.products() if p not in new]) - plan.baseline)
        if broken:
            raise ScaffoldError(
                "the new shared product would make other products fail the mesh's policies, so nothing was kept: "
                + "; ".join(f"{product} [{policy}] {message}" for product, policy, message in broken),
                "a shared product's key is a global identifier every domain must reference: name the product so its key does not clash",
            )


def _failing(mesh: Mesh, products: list[Product]) -> set[tuple[str, str, str]]:
    """(product, policy, message) of every error policy `products` fail in `mesh`."""
    from ..governance.global_policies import GLOBAL_POLICIES
    from ..governance.policies import PolicyContext, combine, evaluate

    failing = set()
    for domain in {p.domain for p in products}:
        mine = [p for p in products if p.domain == domain]
        for f in evaluate(mine, PolicyContext(mesh), combine(GLOBAL_POLICIES, (), domain)).findings:
            if f.severity == "error" and f.status != "pass":
                failing |= {(f.product, f.policy, m) for m in f.messages}
    return failing


def build_order(root: Path, domain: str) -> list[str]:
    """The domains `mesh build` must have published before `domain`, and `domain`, in order."""
    mesh = Mesh.load(root)
    graph = mesh.domain_dependencies()
    needed, todo = set(), [domain]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in needed:
                needed.add(dep)
                todo.append(dep)
    try:
        order = mesh.domain_order()
    except MeshError:
        return [domain]
    return [d_ for d_ in order if d_ in needed] + [domain]
