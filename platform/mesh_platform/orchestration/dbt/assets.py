"""dbt products: `dbt build` on the domain's compute engine, then the one write path.

Once dbt has exited (and let go of the engine's storage), each product model goes through the write
path (runtime/publishing.py): schema drift first, then the engine writes the model once as its
port's staged files (cast to the contract's types), every rule audits those files, and only a
model that passes (and whose dbt tests passed) is committed to its port, exactly as a Python
product is. What is engine-specific (profile, port sources, staging a model, the run lock) is the
domain's ComputeEngine's (mesh_platform.runtime.engines); DuckDB is the default.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dbt.asset_utils import (
    DAGSTER_DBT_EXCLUDE_METADATA_KEY,
    DAGSTER_DBT_SELECT_METADATA_KEY,
    DBT_DEFAULT_EXCLUDE,
    DBT_DEFAULT_SELECT,
    DBT_DEFAULT_SELECTOR,
    build_dbt_specs,
)

from mesh_platform.model.descriptor import Domain, Product
from mesh_platform.model.errors import DescriptorError, PublishError
from mesh_platform.model.mesh import Mesh
from mesh_platform.model.names import product_id
from mesh_platform.model.redaction import without_values
from mesh_platform.orchestration.checks import check_results, check_specs
from mesh_platform.orchestration.dbt.generated import check_no_hand_written_product_yml, write_generated
from mesh_platform.orchestration.dbt.project import DomainDbtProject, MeshDbtCli, dbt_executable, write_profile
from mesh_platform.orchestration.dbt.translator import MeshDbtTranslator
from mesh_platform.orchestration.io_manager import port_metadata
from mesh_platform.runtime.engines import ComputeEngine
from mesh_platform.runtime.settings import mesh_home, warehouse_pool

if TYPE_CHECKING:
    from mesh_platform.runtime.ports.port import StagedBatch

_BATCH_ROWS = 1_000_000


def _relation_of(manifest: Mapping[str, Any], engine: ComputeEngine, domain: str, model: str) -> str:
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"] == model:
            return engine.relation(node["schema"], node["alias"])
    raise PublishError(f"{product_id(domain, model)}: no dbt model named {model!r}")


def audit_and_publish(
    staged: StagedBatch, product: Product, root: Path, run_id: str, rules: list
) -> tuple[list[dg.AssetCheckResult], dict[str, Any] | None, PublishError | None]:
    """One staged product model through the rest of the write path: its staged files audited,
    committed only if every blocking rule passed (dropped otherwise)."""
    from mesh_platform.runtime.ports.store import port_store  # reason: the port store (deltalake) loads when a model publishes, not at location load
    from mesh_platform.runtime.publishing import audit_staged, discard, publish, violation  # reason: the write path loads at run time, not at location load
    from mesh_platform.runtime.projection import ProjectionBehind  # reason: the write path loads at run time, not at location load

    store = port_store(root, acting=product.domain)
    results = audit_staged(store, staged, rules, product, root)
    checks = check_results(dg.AssetKey(list(product.key)), results)
    problem = violation(product.id, results)
    if problem is not None:
        discard(store, staged)
        return checks, None, problem
    try:
        result = publish(store, staged, product.contract, run_id, root=root)
    except ProjectionBehind as behind:  # the raw version stands: recorded, and the step fails after the other models
        return checks, port_metadata(behind.raw, product.contract), behind
    return checks, port_metadata(result, product.contract), None


def failure_summary(invocation) -> str:
    """One line per failed dbt node: which node, and dbt's own message without the values it
    quotes (`Could not convert string '...'`): the run history keeps this line; dbt's full output
    stays in build.log for the domain's engineers."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except Exception:  # dbt died before writing its results
        return "dbt exited before reporting results; see the step's logs"
    lines = [
        # dbt appends the macro call stack ("> in macro ..."): the reader needs the first part.
        f"{r['unique_id']}: {without_values(str(r.get('message') or r['status']).split(' > in macro')[0])}"
        for r in results
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    return "; ".join(lines) or "see the step's logs"


def check_input_sources(manifest: Mapping[str, Any], domain: Domain, mesh: Mesh, project: DomainDbtProject) -> None:
    """Every source bound to an output port must be a product this domain declares as input."""
    declared = {port.id for product in domain.products.values() for port in product.inputs}
    project_dir = project.project_dir
    for source in manifest["sources"].values():
        if not project.engine.binds_port(source):
            continue
        wanted = f"{source['source_name']}.{source['name']}"
        where = project_dir / source["original_file_path"]
        if mesh.unavailable(source["source_name"], source["name"]) is None:  # a broken producer fails its readers at run time
            mesh.require(wanted, consumer=f"dbt project of domain {domain.name!r} ({where})")
        if wanted not in declared:
            raise DescriptorError(
                where, f"sources.{source['source_name']}.{source['name']}",
                f"reads product {wanted}, which no product of domain {domain.name!r} declares in its inputs",
            )


def build_dbt_assets(domain: Domain, project: DomainDbtProject, mesh: Mesh, governance) -> dg.AssetsDefinition:
    root = mesh.root
    # The contract's columns and the input ports, written before dbt parses; a product model's
    # columns are then the contract's by construction (dbt enforces them at build).
    check_no_hand_written_product_yml(domain, project.project_dir)
    write_generated(domain, project.project_dir, root)
    manifest_path = project.prepare()
    manifest = json.loads(manifest_path.read_text())
    check_input_sources(manifest, domain, mesh, project)
    translator = MeshDbtTranslator(domain, root, governance, manifest=manifest)
    specs, dbt_checks = build_dbt_specs(
        translator=translator, manifest=manifest, select=DBT_DEFAULT_SELECT, exclude=DBT_DEFAULT_EXCLUDE,
        selector=DBT_DEFAULT_SELECTOR, io_manager_key=None, project=None,
    )
    models = {spec.key.path[-1] for spec in specs if spec.key.path[0] == domain.name}
    contract_checks = [
        check for name, product in domain.products.items() if name in models
        for check in check_specs(dg.AssetKey(list(product.key)), governance.audit_rules(product))
    ]

    @dg.multi_asset(
        name=f"{domain.name}_dbt",
        specs=specs,
        check_specs=[*dbt_checks, *contract_checks],
        can_subset=True,
        op_tags={DAGSTER_DBT_SELECT_METADATA_KEY: DBT_DEFAULT_SELECT, DAGSTER_DBT_EXCLUDE_METADATA_KEY: DBT_DEFAULT_EXCLUDE},
        allow_arbitrary_check_specs=True,
        # The op writes the domain's warehouse from `dbt build` to the last publish: the pool (limit 1
        # in the instance config) lets one such op run at a time across every run, process and host
        # sharing the instance; the run waits for its slot before the step starts.
        pool=warehouse_pool(domain.name),
    )
    def _dbt_models(context):  # no annotation: postponed annotations would hide its type from Dagster
        with project.engine.one_run_at_a_time(root, domain.name, context.log):
            yield from _run_dbt(context, domain, project, root, manifest, governance)

    return _dbt_models


class _ScrubbedLines(io.TextIOBase):
    """A stdout that drops the values dbt's log lines quote. dagster-dbt re-prints every dbt log
    line to stdout, which lands in the step's compute log and in `mesh build`'s build.log; a failed
    model's message quotes the value it choked on (`Could not convert string '...'`)."""

    def __init__(self, target):
        self.target = target

    def write(self, text: str) -> int:
        self.target.write("\n".join(without_values(line) if line.strip() else line for line in text.split("\n")))
        return len(text)

    def flush(self) -> None:
        self.target.flush()


def _scrubbed(events: Iterator[Any]) -> Iterator[Any]:
    """dbt's events, with stdout scrubbed only while dbt's lines are read and re-printed."""
    while True:
        with contextlib.redirect_stdout(_ScrubbedLines(sys.stdout)):
            event = next(events, None)
        if event is None:
            return
        yield event


def _run_dbt(context, domain: Domain, project: DomainDbtProject, root: Path, manifest, governance) -> Iterator[Any]:
    engine = project.engine
    run_dir = mesh_home(root) / "dbt" / domain.name
    profiles = write_profile(run_dir / "profile", engine, project_root=root, domain=domain.name)
    dbt = MeshDbtCli(project_dir=str(project.project_dir), profiles_dir=str(profiles), dbt_executable=dbt_executable())
    # One target folder per domain, replaced on each run: no pile of per-run folders.
    target = run_dir / "target"
    project.clean_run_folder(target)
    engine.prepare_run(root, domain.name)  # e.g. Spark's input-port views, planned as the domain
    invocation = dbt.cli(["build", *project.vars_arg()], context=context, target_path=target, raise_on_error=False)
    held: dict[str, dg.Output] = {}
    failed_tests: set[str] = set()
    for event in _scrubbed(invocation.stream()):
        if isinstance(event, dg.Output):
            model = context.asset_key_for_output(event.output_name).path[-1]
            if model in domain.products:
                held[model] = event  # published after dbt lets go of the engine's storage
                continue
        if isinstance(event, dg.AssetCheckResult) and not event.passed and event.severity == dg.AssetCheckSeverity.ERROR:
            failed_tests.add(event.asset_key.path[-1])
        yield event

    problems: list[str] = []
    selected_checks = context.selected_asset_check_keys
    from mesh_platform.runtime.ports.store import port_store  # reason: the port store (deltalake) loads when a model publishes, not at location load
    from mesh_platform.runtime.publishing import stage_model  # reason: the write path loads at run time, not at location load

    staged: dict[str, StagedBatch] = {}
    # The platform's own SQL only (drift check, one COPY per model); the rules run on the staged
    # files afterwards, on sealed connections, with the domain's file closed.
    with engine.open_staging(root, domain.name) as session:
        for model in held:
            product = domain.products[model]
            if model in failed_tests:
                problems.append(f"{product.id} was not published: a dbt test of the model failed")
                continue
            try:
                relation = _relation_of(manifest, engine, domain.name, model)
                staged[model] = stage_model(port_store(root, acting=domain.name), engine, session, relation, product, batch_rows=_BATCH_ROWS)
            except PublishError as refused:  # drift, or a value the contract's type cannot hold
                problems.append(str(refused))
    for model, batch in staged.items():
        product, event = domain.products[model], held[model]
        checks, metadata, problem = audit_and_publish(batch, product, root, context.run.run_id, governance.audit_rules(product))
        if metadata is not None:
            yield event.with_metadata({**event.metadata, **metadata})
        yield from (c for c in checks if dg.AssetCheckKey(c.asset_key, c.check_name) in selected_checks)
        if problem is not None:
            problems.append(str(problem))
    if not invocation.is_successful():
        problems.append(f"dbt build of domain {domain.name!r} failed: {failure_summary(invocation)}")
    if problems:
        raise PublishError(" | ".join(problems))
