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
from dataclasses import replace
from pathlib import Path
from typing import get_args

import pydantic
import yaml

from mesh_platform.cli.scaffold import design as d
from mesh_platform.cli.scaffold.contract import contract_text, descriptor_text
from mesh_platform.cli.scaffold.dbt_files import dbt_models, model_dir, plan_dbt_yml, relation
from mesh_platform.cli.scaffold.examples import summary_python, summary_sql
from mesh_platform.cli.scaffold.inputs import checked_name, resolve_inputs
from mesh_platform.cli.scaffold.plan import Plan, ScaffoldError, check_parses, read_text
from mesh_platform.cli.scaffold.policy import failing, policy_check  # noqa: F401  (policy_check: the check `mesh new` passes to apply)
from mesh_platform.cli.scaffold.text import one_line, render
from mesh_platform.cli.scaffold.textedit import append_to_sequence, wire_product
from mesh_platform.model.descriptor import DomainDescriptor, Owner, Product, ProductKind
from mesh_platform.model.errors import MeshError
from mesh_platform.model.layout import WORKSPACE_FILE
from mesh_platform.model.mesh import DOMAINS_FOLDER, SHARED_DOMAIN, Mesh, workspace_locations
from mesh_platform.model.names import shown
from mesh_platform.model.workspaces import DG_ENV_FILE, DG_PROJECT_FILE, DG_PROJECT_HEADER, PYPROJECT, add_dg_project, dg_projects, dg_python_from

KINDS: tuple[str, ...] = get_args(ProductKind)
DEFAULT_KIND = "source-aligned"
DEFAULT_PRODUCT = "example_records"
# Module names a Python product may not take: the domain's own files and folders.
RESERVED_MODULES = {"definitions", "products", "contracts", "domain"}
# dbt's own packages: a project of the same name does not parse.
DBT_RESERVED = {"dbt", "dbt_duckdb"}


# -- workspace.yaml: one code location per domain ---------------------------------------------------

def _workspace_edit(plan: Plan, location: str, module: str) -> None:
    path = plan.root / WORKSPACE_FILE
    before = read_text(path)
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


# -- the dg workspace: pyproject.toml lists each domain folder, which holds dg.toml and .env --------

def _dg_files(plan: Plan, folder: Path, location: str, module: str) -> None:
    """The domain as a dg project, so `dg check defs` / `dg dev` load it beside the others; a mesh
    whose pyproject.toml is not a dg workspace gets none of it."""
    path = plan.root / PYPROJECT
    rel = folder.relative_to(plan.root).as_posix()
    if dg_projects(plan.root) is None:
        plan.notes.append(f"{PYPROJECT} declares no dg workspace ([tool.dg] directory_type = \"workspace\"): no dg files written")
        return
    plan.create(folder / DG_PROJECT_FILE, render("dg.toml.j2", domain=location, module=module))
    plan.create(folder / DG_ENV_FILE, render("dg.env.j2", python=dg_python_from(plan.root, folder)))
    before = read_text(path)
    after = add_dg_project(before, rel)
    if after is None:
        raise ScaffoldError(
            f"{PYPROJECT} does not have the shape this command edits (its dg projects as {DG_PROJECT_HEADER} tables), "
            "so it was left alone and nothing was created",
            f'add this table yourself: {DG_PROJECT_HEADER} path = "{rel}"',
        )
    plan.edit(path, before, after, f"{PYPROJECT}: added dg project {rel!r}")


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
    plan.create(folder / "products" / f"{product}.yaml", descriptor_text(product, design, [p.id for p in inputs], kind))
    plan.create(folder / "contracts" / f"{product}.odcs.yaml",
                contract_text(domain, product, design, owner.team, owner.contact, freshness_sla=True))
    if dbt_dir is None:
        text = render("records.py.j2", title=title, product=product, key=key) if not inputs else summary_python(title, product, design)
        plan.create(folder / f"{product}.py", text)
    else:
        models = model_dir(dbt_dir)
        if not inputs:
            sql = render("records.sql.j2", product=product, key=key)
        else:
            sql = summary_sql(domain, product, design, {p.id: relation(p, domain, dbt_dir) for p in inputs})
        plan.create(models / f"{product}.sql", sql)
        plan_dbt_yml(plan, dbt_dir, domain, product, design, inputs)
    return design


def _with_description(design: d.Design, description: str) -> d.Design:
    return replace(design, description=description)


# -- mesh new domain -------------------------------------------------------------------------------

def plan_new_domain(
    root: Path, name: str, *, kind: str = DEFAULT_KIND, dbt: bool = False, team: str | None = None,
    contact: str | None = None, description: str | None = None, product: str = DEFAULT_PRODUCT,
    inputs: list[str] | None = None,
) -> Plan:
    name = checked_name(name, "domain name", "inventory or crew_rostering")
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {shown(kind)}", f"--kind is one of {', '.join(KINDS)}")
    product = checked_name(product, "product name", "stock_levels")
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
    description = one_line(description) or (
        f"{title}: {kind} data products owned by team {owner.team} (made with `mesh new domain`; say here what they hold and for whom)."
    )
    resolved = resolve_inputs(mesh, name, product, list(inputs or []), python=not dbt)

    plan = Plan(root=root, title=f"domain {name} ({kind}, {'dbt' if dbt else 'Python'})", domain=name, products=[product])
    domain_yaml = render("domain.yaml.j2", domain=name, kind=kind, description=description, team=owner.team, contact=owner.contact, dbt=dbt)
    _check_domain_yaml(domain_yaml)
    plan.create(folder / "domain.yaml", domain_yaml)
    plan.create(folder / "__init__.py", "")
    about = f"{title}: {description.removeprefix(f'{title}: ')}"
    if dbt:
        plan.create(folder / "definitions.py", render("definitions_dbt.py.j2", about=about, domain=name))
        plan.create(dbt_dir / "dbt_project.yml", render("dbt_project.yml.j2", domain=name))
        plan.create(dbt_dir / "profiles.yml", render("profiles.yml.j2", domain=name))  # standalone `dbt parse` / `dbt build`
    else:
        plan.create(folder / "definitions.py", render(
            "definitions_python.py.j2", about=about, module=f"{DOMAINS_FOLDER}.{name}.{product}", product=product))
    _product_files(plan, mesh, folder, name, kind, owner, product, resolved, dbt_dir, None)
    _workspace_edit(plan, name, module)
    _dg_files(plan, folder, name, module)
    check_parses(plan)
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
    domain = checked_name(domain, "domain name", "flight_operations")
    name = checked_name(name, "product name", "stock_levels")
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
        if name in dbt_models(dbt_dir):
            raise ScaffoldError(f"dbt project {dbt_project!r} already has a model named {name!r}", "pick another name")
    elif name in RESERVED_MODULES or (folder / name).exists() or (folder / f"{name}.py").exists():
        taken = next((p for p in (folder / f"{name}.py", folder / name) if p.exists()), folder / f"{name}.py")
        raise ScaffoldError(f"product name {name!r} is taken by the domain's own files ({_rel(root, taken)})",
                            f"for example {domain}_{name}")
    resolved = resolve_inputs(mesh, domain, name, list(inputs or []), python=implementation == "python")

    plan = Plan(root=root, title=f"product {domain}.{name} ({implementation})", domain=domain, products=[name])
    if domain == SHARED_DOMAIN:
        plan.baseline = failing(mesh, [p for p in mesh.products()])
    _product_files(plan, mesh, folder, domain, owning.descriptor.kind, owning.descriptor.owner, name, resolved, dbt_dir,
                   one_line(description) or None)
    if implementation == "python":
        _wire(plan, folder, name, wire)
    check_parses(plan)
    return plan


def _wire(plan: Plan, folder: Path, name: str, wire: bool) -> None:
    definitions = folder / "definitions.py"
    package = ".".join(folder.relative_to(plan.root).parts)
    module = f"{package}.{name}"
    todo = f"add `from {module} import {name}` to {plan.rel(definitions)} and {name} to the products=[...] of its domain_definitions(...) call"
    if not wire:
        plan.notes.append(f"not wired (--no-wire): {todo}")
        return
    before = read_text(definitions) if definitions.is_file() else ""
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


# -- writing: all or nothing -------------------------------------------------------------------------

def apply(plan: Plan, check=None) -> None:
    """Write the plan; undo everything on any failure (including `check` refusing the result)."""
    created_files: list[Path] = []
    created_dirs: list[Path] = []
    restored: dict[Path, tuple[str, os.stat_result]] = {}
    try:
        for path, (before, _) in plan.edits.items():
            if read_text(path) != before:
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
